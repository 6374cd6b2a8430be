"""Dialogue benchmark: whole conversations against the real platform, each with its expected outcome.

Starts the platform on free ports (database, action server, Rasa with the trained model, gateway),
plays every conversation of bench/data/dialogues.yaml through the gateway's REST channel (the phone
conversations are written as speech recognition transcribes them), and prints one line per figure:
the share of conversations whose outcome is right, overall and per language and style; how many
conversations in which the customer said thanks or goodbye ended with an operator (target: none);
then, on stderr, each wrong conversation with what happened.
Outcomes: `resolved` (the bot kept the conversation and did not end on a "not understood" reply),
`handoff` (queued for an operator with the expected reason); `article` (that knowledge-base article's
answer was given), `says` (substrings in the replies).
Usage: `. scripts/env.sh && $APP_VENV/bin/python -m bench.dialogues [--only ID_SUBSTRING]`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from pymongo import AsyncMongoClient

from core.db import Document
from core.identity import mint_customer_token
from core.settings import LOCAL_REST_API_KEY
from core.stack import Stack, running_stack
from knowledge_base.seed import load_seed

ROOT = Path(__file__).resolve().parent.parent
DIALOGUES_FILE = ROOT / "bench" / "data" / "dialogues.yaml"
PATH = "/api/channels/rest/messages"
# Replies that mean the bot did not understand the turn (utter_default, a knowledge-base miss).
NOT_UNDERSTOOD = ("не понял", "didn't understand", "не знаю ответа", "don't know that yet")
CLOSING_WORDS = ("спасибо", "спс", "благодар", "пока", "до свидания", "thank", "thx", "bye", "goodbye")


@dataclass(frozen=True)
class Dialogue:
    """One conversation of the benchmark file."""

    id: str
    language: str
    channel: str
    turns: list[str]
    outcome: str
    reason: str | None = None
    article: str | None = None
    says: list[str] = field(default_factory=list)
    customer: str | None = None


@dataclass
class Played:
    """What happened in one conversation."""

    dialogue: Dialogue
    replies: list[list[dict[str, Any]]]
    state: str
    reason: str | None
    problems: list[str]

    @property
    def right(self) -> bool:
        return not self.problems


def load_dialogues() -> list[Dialogue]:
    """The benchmark's conversations."""
    raw = yaml.safe_load(DIALOGUES_FILE.read_text(encoding="utf-8"))
    dialogues = []
    for item in raw:
        expect = item["expect"]
        dialogues.append(
            Dialogue(
                id=item["id"],
                language=item["language"],
                channel=item["channel"],
                turns=list(item["turns"]),
                outcome=expect["outcome"],
                reason=expect.get("reason"),
                article=expect.get("article"),
                says=list(expect.get("says") or []),
                customer=item.get("customer"),
            )
        )
    return dialogues


def _text(replies: list[dict[str, Any]]) -> str:
    return "\n".join(r.get("text") or "" for r in replies).replace("\u00a0", " ").replace("\u202f", " ")


async def play(http: aiohttp.ClientSession, stack: Stack, db: Any, dialogue: Dialogue) -> Played:
    """Send the turns, then compare the conversation with the expected outcome."""
    sender = f"dialogue-{dialogue.id}-{uuid.uuid4().hex[:8]}"
    token = mint_customer_token(dialogue.customer, stack.customer_token_secret, 3600) if dialogue.customer else None
    headers = {"X-Api-Key": LOCAL_REST_API_KEY}  # the local integration's key (REST_API_KEYS)
    replies: list[list[dict[str, Any]]] = []
    conversation_id = ""
    for text in dialogue.turns:
        body: dict[str, Any] = {"sender": sender, "text": text}
        if token is not None:
            body["customer_token"] = token
        async with http.post(stack.gateway_url + PATH, json=body, headers=headers) as resp:
            payload = await resp.json()
            if resp.status != 200:
                raise RuntimeError(f"{dialogue.id}: {resp.status} {payload}")
        conversation_id = payload["conversation_id"]
        replies.append(payload["replies"])
    conversation: Document = await db.conversations.find_one({"_id": conversation_id}) or {}
    state = str(conversation.get("state"))
    reason = (conversation.get("handoff") or {}).get("reason")
    problems: list[str] = []
    everything = "\n".join(_text(r) for r in replies)
    if dialogue.outcome == "handoff":
        if state not in {"queued", "assigned"}:
            problems.append(f"expected a handoff, state {state}")
        elif dialogue.reason and reason != dialogue.reason:
            problems.append(f"handoff reason {reason}, expected {dialogue.reason}")
    else:
        if state != "bot":
            problems.append(f"expected the bot to keep it, state {state} ({reason})")
        if any(marker in _text(replies[-1]) for marker in NOT_UNDERSTOOD):
            problems.append("the last turn was not understood")
    if dialogue.article:
        article = ARTICLES.get(dialogue.article)
        answers = [article.text(kind, dialogue.language) for kind in ("answer", "voice_answer")] if article else []
        if not any(a and a.replace("\u00a0", " ") in everything for a in answers):
            problems.append(f"article {dialogue.article} not answered")
    problems.extend(f"missing {s!r}" for s in dialogue.says if s not in everything)
    return Played(dialogue, replies, state, reason, problems)


ARTICLES = {a.id: a for a in load_seed()}


async def run(stack: Stack, dialogues: list[Dialogue]) -> list[Played]:
    client: AsyncMongoClient[Document] = AsyncMongoClient(stack.mongodb_uri, tz_aware=True)
    db = client[stack.mongodb_db]
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as http:
            return [await play(http, stack, db, d) for d in dialogues]
    finally:
        await client.close()


def report(played: list[Played]) -> None:
    """One line per figure on stdout; the wrong conversations on stderr."""
    groups: dict[str, list[Played]] = defaultdict(list)
    for p in played:
        groups["all"].append(p)
        groups[p.dialogue.language].append(p)
        groups[f"{p.dialogue.language} {p.dialogue.channel}"].append(p)
    for name in sorted(groups, key=lambda g: (g != "all", len(g), g)):
        items = groups[name]
        right = sum(p.right for p in items)
        print(f"dialogues {name}: outcomes right {right / len(items):.3f} ({right}/{len(items)})")
    thanked = [
        p
        for p in played
        if any(word in turn.lower() for turn in p.dialogue.turns for word in CLOSING_WORDS)
        and p.state in {"queued", "assigned"}
        and p.dialogue.outcome != "handoff"
    ]
    print(f"dialogues: customers who said thanks or goodbye and ended with an operator: {len(thanked)}")
    for p in played:
        if not p.right:
            print(f"  wrong {p.dialogue.id}: {'; '.join(p.problems)}", file=sys.stderr)
            for turn, replies in zip(p.dialogue.turns, p.replies, strict=True):
                print(f"    > {turn}\n    < {_text(replies)[:200]!r}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="play only conversations whose id contains this")
    args = parser.parse_args()
    dialogues = [d for d in load_dialogues() if not args.only or args.only in d.id]
    print(f"dialogues bench: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load {os.getloadavg()}")
    with tempfile.TemporaryDirectory(prefix="bench-dialogues-") as tmp, running_stack(Path(tmp)) as stack:
        started = time.perf_counter()
        played = asyncio.run(run(stack, dialogues))
        print(
            f"dialogues: {len(played)} conversations, {sum(len(d.turns) for d in dialogues)} turns "
            f"in {time.perf_counter() - started:.0f} s"
        )
    report(played)


if __name__ == "__main__":
    main()
