"""Turn latency of the Telegram and TwiML webhooks, and Telegram webhook throughput, printed one figure per line.

Two gateways are built in-process by the app factory on the same FerretDB, each
with Telegram (pointed at a local recording Bot API server) and the TwiML webhook:
  gateway side: Rasa replaced by a server that answers at once, so the figure is the
    gateway's own work (storage, routing, rendering, Bot API calls);
  total: the real trained Rasa and action server (skipped with --gateway-only).
A Telegram turn is timed from posting the update to the last sendMessage reaching
the Bot API; a TwiML turn from the signed form post to the TwiML answer, in each
language: the English caller chooses English with key 9 once (not timed) and their
number is then greeted in English; a call that hangs up (a goodbye) is redialled.
Throughput: 100 chats post 5 updates each at once, 10% of them posted twice as
Telegram retries do; replies then leave at Telegram's own limit (30 messages/s).
Usage: `. scripts/env.sh && $APP_VENV/bin/python -m bench.channels [--gateway-only] [--phone-only]`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import re
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bench.latency import percentile
from core.app import create_app
from core.keys import DB_KEY
from core.settings import Settings
from core.stack import Stack, free_port, running_stack
from tests.channel_support import BOT_TOKEN, TELEGRAM_SECRET, TWIML_TOKEN, FakeBotApi, Updates, twilio_signature

TURNS = 100
CHATS = 100
UPDATES_PER_CHAT = 5
DUPLICATE_SHARE = 0.10
# The throughput phase stops waiting for replies after this long and reports what was answered.
THROUGHPUT_CAP_SECONDS = 240
TEXTS = ["привет", "какой у меня баланс", "покажи последние операции", "спасибо", "hello"]
# What each language's callers say on the phone (a stranger's number: no card digits are asked).
PHONE_TEXTS = {
    "ru": ["здравствуйте", "какой у меня баланс", "покажи последние операции", "как активировать карту", "спасибо"],
    "en": ["hello", "what is my balance", "show my recent transactions", "how do I activate my card", "thank you"],
}
PHONE_CALLERS = {"ru": "+79990000000", "en": "+79990000009"}
PUBLIC = "https://bank.example"
PHONE_RECOGNIZERS = {"ru": "ru-RU", "en": "en-US"}


class InstantBot:
    """Answers Rasa's REST channel at once with one text reply, and counts messages."""

    def __init__(self) -> None:
        self.received = 0

    async def webhook(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.received += 1
        return web.json_response([{"recipient_id": body["sender"], "text": "Готово."}])

    async def parse(self, request: web.Request) -> web.Response:
        return web.json_response({"intent": {"name": "greet", "confidence": 1.0}})


@contextlib.asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[str]:
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def gateway_settings(mongodb_uri: str, rasa_url: str, api_base: str) -> Settings:
    return replace(
        Settings(),
        mongodb_uri=mongodb_uri,
        mongodb_db=f"bench_channels_{uuid.uuid4().hex[:8]}",
        rasa_url=rasa_url,
        telegram_bot_token=BOT_TOKEN,
        telegram_webhook_secret=TELEGRAM_SECRET,
        telegram_api_base=api_base,
        twiml_auth_token=TWIML_TOKEN,
        twiml_public_url=PUBLIC,
    )


async def telegram_turns(http: aiohttp.ClientSession, url: str, api: FakeBotApi, updates: Updates) -> list[float]:
    times = []
    for turn in range(TURNS):
        # A new chat per turn: Telegram's one-message-a-second per chat is not what is measured here.
        chat = 10_000_000 + turn + random.randint(0, 10**6) * 1000
        before = len(api.sent(chat))
        start = time.perf_counter()
        async with http.post(
            f"{url}/telegram/webhook",
            json=updates.message(chat, TEXTS[turn % len(TEXTS)]),
            headers={"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET},
        ) as resp:
            if resp.status != 200:
                raise RuntimeError(f"webhook answered {resp.status}")
        await api.wait_for(lambda chat=chat, before=before: len(api.sent(chat)) > before, within=30)  # type: ignore[misc]
        times.append((time.perf_counter() - start) * 1000)
    return times


def recognizer_of(twiml: str) -> str | None:
    """The <Gather>'s language: what the recognizer listens for next (None when the call ends or transfers)."""
    gather = re.search(r"<Gather [^>]*>", twiml)
    language = re.search(r'language="([^"]+)"', gather.group(0)) if gather else None
    return language.group(1) if language else None


async def twiml_turns(http: aiohttp.ClientSession, url: str, language: str, turns: int = TURNS) -> list[float]:
    times = []
    caller = PHONE_CALLERS[language]
    sid = ""
    answer = "<Hangup />"
    for turn in range(turns):
        if turn % 10 == 0 or "<Hangup" in answer:
            sid = "CA" + uuid.uuid4().hex
            greeting = await twiml_post(http, url, "/voice/twiml/incoming", {"CallSid": sid, "From": caller})
            if recognizer_of(greeting) != PHONE_RECOGNIZERS[language]:
                await twiml_post(http, url, "/voice/twiml/gather", {"CallSid": sid, "From": caller, "Digits": "9"})
        texts = PHONE_TEXTS[language]
        start = time.perf_counter()
        form = {"CallSid": sid, "From": caller, "SpeechResult": texts[turn % len(texts)], "Confidence": "0.9"}
        answer = await twiml_post(http, url, "/voice/twiml/gather", form)
        times.append((time.perf_counter() - start) * 1000)
        if "<Say" not in answer:
            raise RuntimeError(f"a turn was answered with silence (an ended call?): {answer}")
        if recognizer_of(answer) not in (None, PHONE_RECOGNIZERS[language]):
            raise RuntimeError(f"the {language} call is not recognized in {language}: {answer}")
    return times


async def twiml_post(http: aiohttp.ClientSession, url: str, path: str, form: dict[str, str]) -> str:
    headers = {"X-Twilio-Signature": twilio_signature(TWIML_TOKEN, PUBLIC + path, form)}
    async with http.post(url + path, data=form, headers=headers) as resp:
        text = await resp.text()
        if resp.status != 200 or "<Response>" not in text:
            raise RuntimeError(f"TwiML webhook answered {resp.status}")
        return text


async def throughput(
    http: aiohttp.ClientSession, url: str, api: FakeBotApi, bot: InstantBot, app: web.Application
) -> None:
    updates = Updates(next_id=50_000_000)
    chats = [20_000_000 + n for n in range(CHATS)]
    plan: dict[int, list[dict[str, Any]]] = {
        chat: [updates.message(chat, TEXTS[i % len(TEXTS)]) for i in range(UPDATES_PER_CHAT)] for chat in chats
    }
    duplicates = random.sample([u for us in plan.values() for u in us], int(CHATS * UPDATES_PER_CHAT * DUPLICATE_SHARE))
    for update in duplicates:
        chat = update["message"]["chat"]["id"]
        plan[chat].insert(plan[chat].index(update) + 1, update)
    sent_before, received_before = len(api.sent()), bot.received
    claimed_before = await app[DB_KEY].inbound_seen.count_documents({})
    errors = 0

    async def chat_posts(updates_of_chat: list[dict[str, Any]]) -> None:
        nonlocal errors
        for update in updates_of_chat:
            async with http.post(
                f"{url}/telegram/webhook", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}
            ) as resp:
                errors += resp.status != 200

    start = time.perf_counter()
    await asyncio.gather(*(chat_posts(u) for u in plan.values()))
    accepted_s = time.perf_counter() - start
    unique = CHATS * UPDATES_PER_CHAT
    # Every update gets a reply (the bot's, or an apology when the gateway failed it); stop waiting after the cap.
    with contextlib.suppress(AssertionError):
        await api.wait_for(lambda: len(api.sent()) - sent_before >= unique, within=THROUGHPUT_CAP_SECONDS)
    handled_s = time.perf_counter() - start
    answered = len(api.sent()) - sent_before
    posted = unique + len(duplicates)
    reached_bot = bot.received - received_before
    # Each update id is claimed by one unique insert; a retry's claim fails and the update is dropped.
    claimed = await app[DB_KEY].inbound_seen.count_documents({}) - claimed_before
    print(f"telegram.webhook.accept_updates_per_s {posted / accepted_s:.1f}")
    print(f"telegram.webhook.handled_updates_per_s_100_chats {answered / handled_s:.1f}")
    print(f"telegram.webhook.answered_updates {answered} of {unique}")
    print(f"telegram.webhook.http_errors {errors}")
    print(f"telegram.webhook.updates_failed_in_gateway {unique - reached_bot}")
    print(f"telegram.webhook.duplicates_dropped_share {(posted - claimed) / len(duplicates):.3f}")


async def run_gateway(
    mongodb_uri: str, rasa_url: str, label: str, bot: InstantBot | None, *, phone_only: bool = False
) -> None:
    api = FakeBotApi()
    api_base = await api.start()
    app = create_app(gateway_settings(mongodb_uri, rasa_url, api_base))
    try:
        async with serve(app) as url, aiohttp.ClientSession() as http:
            figures: list[tuple[str, list[float]]] = []
            if not phone_only:
                updates = Updates(next_id=random.randint(1, 10**6) * 100)
                await telegram_turns(http, url, api, updates)  # warm-up: connections, indexes, models
                figures.append(("telegram.turn", await telegram_turns(http, url, api, updates)))
            else:
                await twiml_turns(http, url, "ru", turns=10)  # warm-up: connections, indexes, models
            for language in ("ru", "en"):
                figures.append((f"twiml.turn.{language}", await twiml_turns(http, url, language)))
            for name, times in figures:
                print(f"{name}.{label}.p50_ms {percentile(times, 50):.1f}")
                print(f"{name}.{label}.p95_ms {percentile(times, 95):.1f}")
            if bot is not None and not phone_only:
                await throughput(http, url, api, bot, app)
    finally:
        await api.close()


@contextlib.contextmanager
def platform(data_dir: Path, with_bot: bool) -> Iterator[Stack]:
    with running_stack(data_dir, with_bot=with_bot, with_gateway=False) as stack:
        yield stack


async def bench(stack: Stack, gateway_only: bool, phone_only: bool) -> None:
    bot = InstantBot()
    instant = web.Application()
    instant.router.add_post("/webhooks/gateway/webhook", bot.webhook)
    instant.router.add_post("/model/parse", bot.parse)
    async with serve(instant) as instant_url:
        await run_gateway(stack.mongodb_uri, instant_url, "gateway_side", bot, phone_only=phone_only)
    if not gateway_only:
        await run_gateway(stack.mongodb_uri, stack.rasa_url, "total", None, phone_only=phone_only)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--gateway-only", action="store_true", help="skip the figures with the real Rasa")
    parser.add_argument("--phone-only", action="store_true", help="only the TwiML turn figures, in each language")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, platform(Path(tmp), with_bot=not args.gateway_only) as stack:
        asyncio.run(bench(stack, args.gateway_only, args.phone_only))


if __name__ == "__main__":
    main()
