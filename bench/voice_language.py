"""Phone calls where the caller speaks the other language than the line's current one (issue 20).

Starts the platform on free ports (database, action server, Rasa with the trained model), builds a
gateway with the TwiML webhook, and plays each call below as Twilio drives it (signed form posts; the
recognizer's words as Twilio returns them when they come through in the other script). Figure: the
share of calls whose first reply after the caller's words is wholly in the caller's language (every
<Say> in its voice, no word in the other script), and whose next <Gather> listens in it.
Usage: `. scripts/env.sh && $APP_VENV/bin/python -m bench.voice_language`.
"""

from __future__ import annotations

import asyncio
import re
import tempfile
import uuid
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer
from twilio.request_validator import RequestValidator

from core.app import create_app
from core.settings import Settings
from core.stack import running_stack

TOKEN = "bench-twiml-token"  # noqa: S105 -- the fake gateway account of this benchmark
PUBLIC = "https://bank.example"
_SCRIPT = {"ru": re.compile(r"[А-Яа-яЁё]"), "en": re.compile(r"[A-Za-z]")}
_VOICE = {"ru": "ru-RU", "en": "en-US"}

# (keys pressed first to set the line's language, the caller's words, the caller's language)
CALLS: list[tuple[str, str, str]] = [
    ("", "how do I activate my new card", "en"),
    ("", "what are the opening hours of your branches", "en"),
    ("", "I lost my card yesterday and need help", "en"),
    ("", "how much does the card service cost per month", "en"),
    ("", "my transfer did not arrive to my friend", "en"),
    ("", "can I use my card when I travel abroad", "en"),
    ("9", "как активировать новую карту", "ru"),
    ("9", "во сколько открывается отделение банка", "ru"),
    ("9", "у меня украли карту что делать", "ru"),
    ("9", "сколько стоит обслуживание карты в месяц", "ru"),
    ("9", "перевод другу так и не пришёл", "ru"),
    ("9", "можно ли пользоваться картой за границей", "ru"),
]


def _signature(url: str, form: dict[str, str]) -> str:
    return str(RequestValidator(TOKEN).compute_signature(url, form))


async def _post(client: TestClient, sid: str, caller: str, path: str, **fields: str) -> ET.Element:  # type: ignore[type-arg]
    form = {"CallSid": sid, "From": caller, "To": "+78000000000"} | fields
    resp = await client.post(path, data=form, headers={"X-Twilio-Signature": _signature(PUBLIC + path, form)})
    return ET.fromstring(await resp.text())  # noqa: S314 -- our own gateway's answer


def _in_language(response: ET.Element, language: str) -> bool:
    says = list(response.iter("Say"))
    other = "ru" if language == "en" else "en"
    gather = response.find("Gather")
    listens = gather is None or gather.attrib.get("language") == _VOICE[language]
    return (
        bool(says)
        and all(s.attrib.get("language") == _VOICE[language] for s in says)
        and not any(_SCRIPT[other].search(s.text or "") for s in says if language == "en")
        and listens
    )


async def _play(settings: Settings) -> list[bool]:
    results = []
    async with TestClient(TestServer(create_app(settings))) as client:
        for number, (keys, words, language) in enumerate(CALLS):
            # A number of its own per call: no language remembered from an earlier one.
            sid, caller = "CA" + uuid.uuid4().hex, f"+7999{number:07d}"
            await _post(client, sid, caller, "/voice/twiml/incoming", CallStatus="ringing")
            if keys:
                await _post(client, sid, caller, "/voice/twiml/gather", Digits=keys)
            reply = await _post(client, sid, caller, "/voice/twiml/gather", SpeechResult=words, Confidence="0.9")
            ok = _in_language(reply, language)
            results.append(ok)
            if not ok:
                print(f"  not in {language}: {words!r} -> {ET.tostring(reply, encoding='unicode')[:300]}")
    return results


def main() -> None:
    with tempfile.TemporaryDirectory() as folder, running_stack(Path(folder), with_gateway=False) as stack:
        settings = replace(
            Settings(),
            # On a busy shared machine a turn can outlast the default 4 s; this measures language, not speed.
            bot_timeout_seconds=30.0,
            mongodb_uri=stack.mongodb_uri,
            mongodb_db=f"voice_bench_{uuid.uuid4().hex[:8]}",
            rasa_url=stack.rasa_url,
            rasa_token=stack.rasa_token,
            customer_token_secret=stack.customer_token_secret,
            twiml_auth_token=TOKEN,
            twiml_public_url=PUBLIC,
        )
        results = asyncio.run(_play(settings))
    print(f"phone calls in the other language: {len(results)}")
    print(f"answered in the caller's language from the first reply: {sum(results) / len(results):.3f}")


if __name__ == "__main__":
    main()
