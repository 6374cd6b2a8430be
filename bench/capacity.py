"""Capacity: sequential turn cost, concurrent conversations and per-turn database cost, side by side.

Starts each configuration on free ports and runs the same load against it, one after another in
one run, printing one line per figure (`capacity.<config>.<figure> <value>`):
  before  FerretDB on SQLite, Rasa's Mongo tracker store, Rasa's own per-call schema check
          (the stack as it was before issue 9; `Stack(storage="sqlite")`);
  after   FerretDB on PostgreSQL with its GIN indexes, Rasa's SQL tracker store, the patched check.
Figures per configuration:
  sequential turns: p50/p95 ms and CPU-ms per turn per process (postgres, ferretdb, rasa, actions, gateway);
  for each concurrency level (default 1, 5, 20, 50) for --seconds: turns/s, bot-answered turns/s, p50/p95 ms,
  conversations handed off for bot_unavailable;
  with --stored N (default 10,000): database CPU-ms per turn with 0 stored conversations and with N;
  database CPU-ms per turn for turns 1-10 and 91-100 of one conversation;
  start to ready (Rasa's model loaded) and to the first bot answer.
Usage: `. scripts/env.sh && $APP_VENV/bin/python -m bench.capacity [--configs before,after] [--seconds 120]`.
Run one configuration at a time on a shared machine and compare CPU-ms per turn rather than wall time.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from pymongo import MongoClient

from bench.latency import percentile
from core.identity import mint_customer_token
from core.settings import LOCAL_CUSTOMER_TOKEN_SECRET, LOCAL_REST_API_KEY
from core.stack import Stack

REST_PATH = "/api/channels/rest/messages"
# What customers write in a short bank chat: bot intents, a balance (actions + bank data), a KB question.
SCRIPT = [
    "Здравствуйте",
    "какой баланс на карте?",
    "покажи последние операции",
    "как снять наличные за границей?",
    "hello, what is my balance?",
    "спасибо",
]
SEQUENTIAL_TURNS = 60
DB_PROCESSES = ("postgres", "ferretdb")
PROCESSES = ("postgres", "ferretdb", "rasa", "actions", "gateway")


@dataclass
class Turns:
    """Latencies and outcomes of a batch of turns."""

    latencies_ms: list[float] = field(default_factory=list)
    bot_answered: int = 0
    failed: int = 0


def emit(config: str, name: str, value: float, unit: str = "") -> None:
    print(f"capacity.{config}.{name} {value:.1f}{unit}", flush=True)


class Client:
    """A REST integration talking to one gateway."""

    def __init__(self, http: aiohttp.ClientSession, stack: Stack) -> None:
        self.http = http
        self.url = stack.gateway_url + REST_PATH
        self.headers = {"Authorization": f"Bearer {LOCAL_REST_API_KEY}"}
        self.token = mint_customer_token("demo-anna", LOCAL_CUSTOMER_TOKEN_SECRET)

    async def turn(self, sender: str, text: str, into: Turns) -> dict[str, Any] | None:
        body = {"sender": sender, "text": text, "customer_token": self.token}
        start = time.perf_counter()
        try:
            async with self.http.post(self.url, json=body, headers=self.headers) as resp:
                payload: dict[str, Any] = await resp.json()
        except (aiohttp.ClientError, TimeoutError):
            into.failed += 1
            return None
        into.latencies_ms.append((time.perf_counter() - start) * 1000)
        if resp.status != 200:
            into.failed += 1
            return None
        if payload.get("state") == "bot":
            into.bot_answered += 1
        return payload


def cpu_by_process(stack: Stack) -> dict[str, float]:
    return {name: stack.processes[name].cpu_seconds() for name in PROCESSES if name in stack.processes}


async def measured(stack: Stack, work: Callable[[], Awaitable[int]]) -> tuple[int, dict[str, float]]:
    """Run `work` (returns turns done) and the CPU-ms per turn each process spent on it."""
    before = cpu_by_process(stack)
    turns = await work()
    after = cpu_by_process(stack)
    return turns, {name: (after[name] - before[name]) * 1000 / max(turns, 1) for name in after}


async def sequential(config: str, stack: Stack, client: Client) -> None:
    batch = Turns()

    async def work() -> int:
        for i in range(SEQUENTIAL_TURNS):
            await client.turn(f"seq-{i // len(SCRIPT)}-{uuid.uuid4().hex[:6]}", SCRIPT[i % len(SCRIPT)], batch)
        return SEQUENTIAL_TURNS

    _, cpu = await measured(stack, work)
    emit(config, "sequential.p50_ms", percentile(batch.latencies_ms, 50))
    emit(config, "sequential.p95_ms", percentile(batch.latencies_ms, 95))
    for name, value in cpu.items():
        emit(config, f"sequential.cpu_ms_per_turn.{name}", value)
    emit(config, "sequential.cpu_ms_per_turn.total", sum(cpu.values()))


def handed_off_for_bot_unavailable(stack: Stack, senders: set[str]) -> int:
    client: MongoClient[dict[str, Any]] = MongoClient(stack.mongodb_uri)
    try:
        docs = client[stack.mongodb_db].conversations.find(
            {"handoff.reason": "bot_unavailable"}, {"channel_user_id": 1}
        )
        return sum(1 for doc in docs if str(doc.get("channel_user_id", "")).split(":")[-1] in senders)
    finally:
        client.close()


async def concurrent(config: str, stack: Stack, client: Client, conversations: int, seconds: float) -> None:
    batch = Turns()
    senders: set[str] = set()
    deadline = time.monotonic() + seconds

    async def customer(n: int) -> None:
        while time.monotonic() < deadline:
            sender = f"c{conversations}-{n}-{uuid.uuid4().hex[:6]}"
            senders.add(sender)
            for text in SCRIPT:
                turn = await client.turn(sender, text, batch)
                if turn is None or turn.get("state") != "bot" or time.monotonic() >= deadline:
                    break

    start = time.monotonic()
    await asyncio.gather(*(customer(n) for n in range(conversations)))
    elapsed = time.monotonic() - start
    prefix = f"concurrent_{conversations}"
    emit(config, f"{prefix}.turns_per_s", len(batch.latencies_ms) / elapsed)
    emit(config, f"{prefix}.bot_turns_per_s", batch.bot_answered / elapsed)
    emit(config, f"{prefix}.p50_ms", percentile(batch.latencies_ms, 50))
    emit(config, f"{prefix}.p95_ms", percentile(batch.latencies_ms, 95))
    emit(config, f"{prefix}.conversations", len(senders))
    emit(config, f"{prefix}.handed_off_bot_unavailable", handed_off_for_bot_unavailable(stack, senders))
    emit(config, f"{prefix}.failed_requests", batch.failed)


def store_conversations(stack: Stack, count: int) -> None:
    """Stored history: `count` closed conversations of 6 messages each, written as the gateway writes them."""
    client: MongoClient[dict[str, Any]] = MongoClient(stack.mongodb_uri)
    try:
        db = client[stack.mongodb_db]
        now = datetime.now(UTC)
        for start in range(0, count, 1000):
            ids = [uuid.uuid4().hex for _ in range(min(1000, count - start))]
            db.conversations.insert_many(
                [
                    {"_id": cid, "channel": "rest", "channel_user_id": f"history-{cid}", "state": "closed"}
                    | {"created_at": now, "updated_at": now, "transitions": []}
                    for cid in ids
                ]
            )
            db.messages.insert_many(
                [
                    {"conversation_id": cid, "seq": seq, "author": "customer" if seq % 2 else "bot"}
                    | {"text": "история", "buttons": [], "custom": {}, "at": now, "delivery": "delivered"}
                    for cid in ids
                    for seq in range(1, 7)
                ]
            )
    finally:
        client.close()


async def database_cpu_per_turn(stack: Stack, client: Client, sender: str, turns: int, batch: Turns) -> float:
    async def work() -> int:
        for i in range(turns):
            await client.turn(sender, SCRIPT[i % len(SCRIPT)], batch)
        return turns

    _, cpu = await measured(stack, work)
    return sum(cpu.get(name, 0.0) for name in DB_PROCESSES)


async def growth(config: str, stack: Stack, client: Client, stored: int) -> None:
    batch = Turns()
    emit(config, "db_cpu_ms_per_turn.stored_0", await database_cpu_per_turn(stack, client, "grow-a", 20, batch))
    store_conversations(stack, stored)
    emit(config, f"db_cpu_ms_per_turn.stored_{stored}", await database_cpu_per_turn(stack, client, "grow-b", 20, batch))
    long_sender = f"long-{uuid.uuid4().hex[:6]}"
    first = await database_cpu_per_turn(stack, client, long_sender, 10, batch)
    await database_cpu_per_turn(stack, client, long_sender, 80, batch)
    last = await database_cpu_per_turn(stack, client, long_sender, 10, batch)
    emit(config, "db_cpu_ms_per_turn.turns_1_10", first)
    emit(config, "db_cpu_ms_per_turn.turns_91_100", last)


async def first_answer(client: Client) -> None:
    while True:
        turn = await client.turn(f"first-{uuid.uuid4().hex[:6]}", "Здравствуйте", Turns())
        if turn is not None and turn.get("state") == "bot":
            return
        await asyncio.sleep(0.25)


def start_stack(storage: str, data_dir: Path) -> tuple[Stack, float]:
    stack = Stack(data_dir=data_dir, storage=storage, durable=True)
    started = time.monotonic()
    stack.start_ferretdb()
    stack.start_actions()
    stack.start_rasa()
    stack.start_gateway()
    return stack, started


async def run_config(config: str, args: argparse.Namespace) -> None:
    storage = "sqlite" if config == "before" else "postgresql"
    with tempfile.TemporaryDirectory(prefix=f"bench-capacity-{config}-") as tmp:
        stack, started = start_stack(storage, Path(tmp))
        try:
            emit(config, "start_to_ready_s", time.monotonic() - started)
            timeout = aiohttp.ClientTimeout(total=120)
            async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=0)) as http:
                client = Client(http, stack)
                await first_answer(client)
                emit(config, "start_to_first_answer_s", time.monotonic() - started)
                await sequential(config, stack, client)
                for level in args.concurrency:
                    await concurrent(config, stack, client, level, args.seconds)
                if args.stored:
                    await growth(config, stack, client, args.stored)
        finally:
            stack.stop()


def _stop_on_sigterm(signum: int, frame: object) -> None:
    # `timeout` and CI send SIGTERM: leave through the `finally` that stops the platform.
    raise SystemExit(128 + signum)


def main() -> None:
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--configs", default="before,after", help="comma-separated: before, after")
    parser.add_argument("--seconds", type=float, default=120.0, help="length of each concurrency level")
    parser.add_argument("--concurrency", type=lambda v: [int(x) for x in v.split(",")], default=[1, 5, 20, 50])
    parser.add_argument("--stored", type=int, default=10_000, help="stored conversations for the growth figure")
    args = parser.parse_args()
    for config in args.configs.split(","):
        asyncio.run(run_config(config.strip(), args))


if __name__ == "__main__":
    main()
