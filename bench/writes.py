"""Every audited counter and once-only write, run many times at once, with its exact result (issue 19).

    python -m bench.writes [--rounds 20] [--at-once 16]

Starts a FerretDB on PostgreSQL of its own (the database the project ships with) and, for each
write listed in docs/architecture.md ("Writes under concurrency"), starts `--at-once` calls at the
same moment, `--rounds` times, and compares the result with the exact one. Prints one line per
write: `writes.<name>.exact_rounds <n>/<rounds>` (the target is every round), then the seconds the
write took per round. tests/test_concurrent_writes.py checks the same results in the suite.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pymongo import AsyncMongoClient

from core import signin_guard
from core.banking import MongoBankingBackend, release_card_blocks
from core.db import Database, Document
from core.demo_data import seed_demo_bank
from core.signin_guard import SignInLocked, SignInPolicy
from core.stack import Stack
from handoff import inbox
from knowledge_base import store
from knowledge_base.models import ArticleStatus
from knowledge_base.seed import load_seed

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
Round = Callable[[Database, int, int], Awaitable[bool]]


async def mark_read(db: Database, round_: int, at_once: int) -> bool:
    conversation = f"conv-{round_}"
    results = await asyncio.gather(
        *(inbox.mark_read(db, "olga", conversation, 1 + n % (at_once // 2 or 1)) for n in range(at_once)),
        return_exceptions=True,
    )
    errors = [r for r in results if r is not None]
    return not errors and await inbox.read_position(db, "olga", conversation) == at_once // 2


async def kb_index_version(db: Database, round_: int, at_once: int) -> bool:
    seed = load_seed()
    drafts = await asyncio.gather(
        *(
            store.create_article(
                db,
                seed[n % len(seed)].with_changes(id=f"r{round_}-{n}", status=ArticleStatus.DRAFT),
                by="bench",
                now=NOW,
            )
            for n in range(at_once)
        )
    )
    before = await store.index_version(db)
    await asyncio.gather(
        *(
            store.change_status(
                db, d.id, ArticleStatus.PUBLISHED, expected_version=1, by="bench", now=NOW, action="publish"
            )
            for d in drafts
        ),
        return_exceptions=True,
    )
    return await store.index_version(db) == before + at_once


async def kb_article_version(db: Database, round_: int, at_once: int) -> bool:
    draft = await store.create_article(
        db, load_seed()[0].with_changes(id=f"same-{round_}", status=ArticleStatus.DRAFT), by="bench", now=NOW
    )
    results = await asyncio.gather(
        *(
            store.change_status(
                db, draft.id, ArticleStatus.PUBLISHED, expected_version=1, by=f"e{n}", now=NOW, action="publish"
            )
            for n in range(at_once)
        ),
        return_exceptions=True,
    )
    won = [r for r in results if not isinstance(r, BaseException)]
    return len(won) == 1 and len(await store.history(db, draft.id)) == 2


async def unanswered_count(db: Database, round_: int, at_once: int) -> bool:
    text = f"вопрос номер {round_} про сейфовую ячейку"
    await asyncio.gather(
        *(
            store.record_unanswered(db, text=text, language="ru", channel="rest", conversation_id=f"c{n}", now=NOW)
            for n in range(at_once)
        )
    )
    entries = [u for u in await store.list_unanswered(db) if u.text == text]
    return len(entries) == 1 and entries[0].count == at_once


async def _failed_sign_in(db: Database, login: str, address: str) -> str:
    policy = SignInPolicy()
    try:
        attempt = await signin_guard.begin(db, login, address, now=NOW, policy=policy)
    except SignInLocked:
        return "refused"
    await signin_guard.finish(db, login, address, succeeded=False, now=NOW, policy=policy, attempt=attempt)
    return "checked"


async def signin_address(db: Database, round_: int, at_once: int) -> bool:
    address = f"203.0.113.{round_}"
    results = await asyncio.gather(*(_failed_sign_in(db, f"g-{round_}-{n}", address) for n in range(at_once)))
    counted = await signin_guard.failures(db, "anyone", address, now=NOW, policy=SignInPolicy())
    free = SignInPolicy().free_failures_per_address
    return results.count("checked") <= free and counted["address"] == results.count("checked")


async def card_block(db: Database, round_: int, at_once: int) -> bool:
    await db.bank_cards.update_one({"_id": "demo-ivan-card-1"}, {"$set": {"status": "active"}})
    await release_card_blocks(db, ["demo-ivan-card-1"])
    bank = MongoBankingBackend(db)
    results = await asyncio.gather(
        *(
            bank.block_card("demo-ivan", "5678", actor="bench", channel="console", conversation_id=f"c{n}")
            for n in range(at_once)
        )
    )
    return [r.status.value for r in results].count("blocked") == 1


async def payment_paid(db: Database, round_: int, at_once: int) -> bool:
    payment_id = f"bench-payment-{round_}"
    await db.bank_payments.insert_one({"_id": payment_id, "customer_id": "demo-anna", "paid_at": None})
    results = await asyncio.gather(*(MongoBankingBackend(db).mark_paid(payment_id) for _ in range(at_once)))
    return results.count(True) == 1


WRITES: dict[str, Round] = {
    "mark_read": mark_read,
    "kb_index_version": kb_index_version,
    "kb_article_version": kb_article_version,
    "unanswered_count": unanswered_count,
    "signin_address": signin_address,
    "card_block": card_block,
    "payment_paid": payment_paid,
}


async def run(uri: str, rounds: int, at_once: int) -> None:
    client: AsyncMongoClient[Document] = AsyncMongoClient(uri, tz_aware=True)
    db = client["bench_writes"]
    await client.drop_database("bench_writes")
    await inbox.ensure_indexes(db)
    await store.ensure_indexes(db)
    await signin_guard.ensure_indexes(db)
    await seed_demo_bank(db)
    try:
        for name, write in WRITES.items():
            exact, started = 0, time.perf_counter()
            for round_ in range(rounds):
                exact += bool(await write(db, round_, at_once))
            print(f"writes.{name}.exact_rounds {exact}/{rounds}", flush=True)
            print(f"writes.{name}.seconds_per_round {(time.perf_counter() - started) / rounds:.2f}", flush=True)
    finally:
        await client.drop_database("bench_writes")
        await client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--at-once", type=int, default=16)
    args: Any = parser.parse_args()
    stack = Stack(data_dir=Path(tempfile.mkdtemp(prefix="bench-writes-")))
    try:
        stack.start_ferretdb()
        asyncio.run(run(stack.mongodb_uri, args.rounds, args.at_once))
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
