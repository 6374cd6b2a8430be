"""How-to questions about actions (issue 20): the share that gets the action offered, not an article.

Starts the platform on free ports (database, action server, Rasa with the trained model, gateway) and
sends each phrasing of bench/data/how_to_actions.yaml as a new guest through the REST channel. A reply
counts when it offers the asked action with its sign-in step (the offer's words and the "/sign_in"
button) and carries no knowledge-base article's answer. Prints one line per figure; each miss on stderr.
Usage: `. scripts/env.sh && $APP_VENV/bin/python -m bench.how_to_actions`.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from core.settings import LOCAL_REST_API_KEY
from core.stack import running_stack
from knowledge_base.seed import load_seed

DATA = Path(__file__).parent / "data" / "how_to_actions.yaml"
PATH = "/api/channels/rest/messages"


async def _ask(http: aiohttp.ClientSession, url: str, text: str) -> list[dict[str, Any]]:
    body = {"sender": f"howto-{uuid.uuid4().hex[:10]}", "text": text}
    headers = {"Authorization": f"Bearer {LOCAL_REST_API_KEY}"}
    async with http.post(url + PATH, json=body, headers=headers) as resp:
        turn: dict[str, Any] = await resp.json()
    replies: list[dict[str, Any]] = turn.get("replies") or []
    return replies


async def _run(url: str) -> dict[str, list[bool]]:
    data = yaml.safe_load(DATA.read_text(encoding="utf-8"))
    answers = [a.text("answer", lang) for a in load_seed() for lang in ("ru", "en")]
    results: dict[str, list[bool]] = {"ru": [], "en": []}
    async with aiohttp.ClientSession() as http:
        # The action server embeds the knowledge base as it starts: wait until the bot answers.
        for _ in range(40):
            replies = await _ask(http, url, "привет")
            if replies and "техническая проблема" not in (replies[0].get("text") or ""):
                break
            await asyncio.sleep(3)
        for item in data["phrasings"]:
            replies = await _ask(http, url, item["q"])
            text = "\n".join(r.get("text") or "" for r in replies)
            payloads = [b.get("payload") for r in replies for b in r.get("buttons") or []]
            ok = (
                data["offers"][item["action"]][item["lang"]] in text
                and "/sign_in" in payloads
                and not any(answer in text for answer in answers)
            )
            results[item["lang"]].append(ok)
            if not ok:
                print(f"miss: {item['q']!r} -> {text[:160]!r}", file=sys.stderr)
    return results


def main() -> None:
    # On a busy shared machine a turn can outlast the default 4 s; this measures understanding, not speed.
    os.environ.setdefault("BOT_TIMEOUT_SECONDS", "30")
    with tempfile.TemporaryDirectory() as folder, running_stack(Path(folder)) as stack:
        results = asyncio.run(_run(stack.gateway_url))
    every = results["ru"] + results["en"]
    print(f"how-to phrasings: {len(every)} (ru {len(results['ru'])}, en {len(results['en'])})")
    for lang in ("ru", "en"):
        print(f"action offered {lang}: {sum(results[lang]) / len(results[lang]):.3f}")
    print(f"action offered, all: {sum(every) / len(every):.3f}")


if __name__ == "__main__":
    main()
