"""Simultaneous card-ending guesses against one customer: how many look at the cards, and what it costs.

    python -m bench.verify_limits [--rounds 20] [--guessers 16 50]

On a FerretDB of its own with the demo bank: each round, `guessers` operators (distinct, so only the
customer's limit applies) send a wrong ending for Anna at the same moment through the console's
verification code (handoff/verification.py -> handoff/verify_limits.py); a supervisor then lifts the
lock. Prints one line per configuration: looks at the cards per round (the limit is 3; the figure is
the worst round), ledger places taken per round, wall time per round and this process's CPU time per
guess (the database's CPU is FerretDB's).
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pymongo import AsyncMongoClient

from core.banking import Card, MongoBankingBackend
from core.db import Database
from core.demo_data import seed_demo_bank
from core.stack import Stack
from handoff import conversations, verify_limits
from handoff.bus import EventBus
from handoff.verification import Verification, VerificationError

ANNA_PHONE = "+79160000002"


class CountingBank(MongoBankingBackend):
    """The demo bank, counting looks at a customer's cards (each look is one checked guess)."""

    def __init__(self, database: Database) -> None:
        super().__init__(database)
        self.looks = 0

    async def list_cards(self, customer_id: str) -> list[Card]:
        self.looks += 1
        return await super().list_cards(customer_id)


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def guess(verifier: Verification, conversation: Any, operator: str, last4: str) -> None:
    try:
        await verifier.verify_by_card_digits(conversation, operator, phone=ANNA_PHONE, last4=last4, now=_now())
    except VerificationError:
        pass


def _now() -> datetime:
    return datetime.now(UTC)


async def run(db: Database, rounds: int, guessers: int) -> None:
    bank = CountingBank(db)
    bus = EventBus(db)
    verifier = Verification(db, bus, bank)
    conversation = await conversations.open_conversation(db, "rest", f"bench-{uuid.uuid4().hex[:6]}", _now())
    looks, places, walls = [], [], []
    cpu_before = cpu_seconds()
    for round_ in range(rounds):
        bank.looks = 0
        before = await db.verify_attempts.count_documents({"subject": "customer:demo-anna"})
        started = time.perf_counter()
        await asyncio.gather(
            *(guess(verifier, conversation, f"g{round_}-{i}", f"{1000 + i:04d}") for i in range(guessers))
        )
        walls.append(time.perf_counter() - started)
        looks.append(bank.looks)
        places.append(await db.verify_attempts.count_documents({"subject": "customer:demo-anna"}) - before)
        await verify_limits.lift(db, "customer:demo-anna", by="supervisor:bench", now=_now())
    cpu = cpu_seconds() - cpu_before
    await bus.close()
    print(
        f"verify_limits guessers={guessers} rounds={rounds}: looks per round max {max(looks)} "
        f"(limit {verify_limits.CUSTOMER_POLICY.failures}, every round {sorted(set(looks))}); "
        f"ledger places per round median {statistics.median(places):.0f}; "
        f"wall per round median {1000 * statistics.median(walls):.0f} ms; "
        f"gateway CPU {1000 * cpu / (rounds * guessers):.1f} ms per guess"
    )


async def main(rounds: int, configurations: list[int]) -> None:
    with tempfile.TemporaryDirectory(prefix="cc-verify-") as tmp:
        stack = Stack(data_dir=Path(tmp))
        stack.start_ferretdb()
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.mongodb_uri, tz_aware=True)
        try:
            for guessers in configurations:
                db = client[f"bench_verify_{uuid.uuid4().hex[:8]}"]
                await seed_demo_bank(db)
                await verify_limits.ensure_indexes(db)
                await run(db, rounds, guessers)
        finally:
            await client.close()
            stack.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--guessers", type=int, nargs="+", default=[16, 50])
    arguments = parser.parse_args()
    asyncio.run(main(arguments.rounds, arguments.guessers))
