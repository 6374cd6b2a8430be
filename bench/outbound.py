"""Outbound figures, one per line: planning 10,000 recipients, send rate against the limit, killed workers, rules.

A stack of its own (PostgreSQL for attempts and the procrastinate queue, FerretDB for the bank,
Redis for the shared send rate) and a local Bot API stand-in that timestamps every sendMessage
(Telegram cannot be reached from here; tests/channel_support.FakeBotApi answers as it does).
Workers are real `python -m outbound.worker` processes.
  plan:   a 10,000-customer CSV survey campaign planned (profiles, chats, histories, rules), then
          stored (COPY) and queued (procrastinate batch defer), wall and CPU time;
  rate:   --sends attempts through two workers sharing OUTBOUND_TELEGRAM_PER_SECOND via Redis:
          achieved sends/s, the most sends the stand-in received in any sliding second (never
          above the limit), workers' CPU-ms per send;
  kill:   --runs runs of --per-run attempts; two workers serve them and one is killed (SIGKILL)
          at a random moment, then started again; the reaper runs as after its lease: attempts
          sent twice, lost (not in a final state), and left unknown are counted;
  rules:  --cases random customers' schedules through the rules and the independent audit
          (outbound/simulation.py): violations.
  inbound: the whole platform (FerretDB, action server, Rasa, the gateway with outbound on) and two
          sets of two workers (OUTBOUND_WORKER_NICE 0 and the default 10, each set on a queue of its
          own); --inbound-conversations customers chat through the REST channel at once, in phases
          without a campaign, with one sent by the nice-0 set and with one sent by the default set
          through the Telegram stand-in at the configured limit, alternating (--inbound-rounds of
          each, side by side in one run): CPU-ms per inbound turn of the processes serving it
          (gateway, Rasa, action server) and the turns' p95, and how much worse with the campaign
          (target: at most 20 %).
Usage: `. scripts/env.sh && $APP_VENV/bin/python -m bench.outbound [--sends 500] [--runs 20] [--only inbound]`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from pymongo import AsyncMongoClient

from core import pg_indexes, pgcluster
from core.banking import MongoBankingBackend
from core.db import Database, Document
from core.identity import mint_customer_token
from core.settings import LOCAL_REST_API_KEY
from core.stack import ROOT, Stack, tree_cpu_seconds
from outbound import store
from outbound.delivery import SENDING_LEASE, ensure_indexes, reap
from outbound.models import AttemptState, Campaign, CampaignState, Channel, Kind, PastContact, PlannedContact, Recipient
from outbound.planner import plan_campaign
from outbound.queue import create_queue_app, defer_deliveries, ensure_queue_schema
from outbound.rules import DatesCalendar, Rules
from outbound.simulation import Case, simulate, violations
from tests.channel_support import BOT_TOKEN, FakeBotApi

LIMIT = 25
FERRETDB_POSTGRES_URL = ""
FINAL = {AttemptState.SENT, AttemptState.FAILED, AttemptState.UNKNOWN, AttemptState.SUPPRESSED}


class TimedBotApi(FakeBotApi):
    """The Bot API stand-in, noting when each sendMessage arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.arrivals: list[tuple[float, int]] = []

    async def handle(self, request: web.Request) -> web.Response:
        if request.match_info["method"].lower() == "sendmessage":
            form = await request.post()
            self.arrivals.append((time.monotonic(), int(str(form["chat_id"]))))
        return await super().handle(request)


def midday_zone() -> str:
    """An Etc/GMT zone where it is about noon now, so the windows never hold the benchmark back."""
    offset = (12 - datetime.now(UTC).hour + 12) % 24 - 12
    return "Etc/GMT" + ("-" if offset > 0 else "+") + str(abs(offset)) if offset else "UTC"


async def add_customers(db: Database, first: int, count: int, zone: str) -> list[str]:
    """Bank customers with linked Telegram chats (chat id = 9,000,000 + number)."""
    now = datetime.now(UTC)
    customers: list[Document] = []
    links: list[Document] = []
    for n in range(first, first + count):
        cid = f"bench-{n:06d}"
        customers.append(
            {"_id": cid, "full_name": f"Клиент {n:06d}", "language": "ru", "timezone": zone, "marketing_consent": True}
        )
        links.append({"_id": 9_000_000 + n, "user_id": 9_000_000 + n, "customer_id": cid, "linked_at": now})
    for start in range(0, count, 1000):
        await db.bank_customers.insert_many(customers[start : start + 1000])
        await db.telegram_links.insert_many(links[start : start + 1000])
    await ensure_indexes(db)
    if FERRETDB_POSTGRES_URL:  # GIN twins, as the gateway adds them (core/pg_indexes.py)
        await pg_indexes.ensure_gin_indexes(FERRETDB_POSTGRES_URL, db.name)
    return [c["_id"] for c in customers]


def survey(ids: Sequence[str], now: datetime) -> Campaign:
    """A one-question survey to these customers over Telegram."""
    return Campaign(
        id=store.new_id("cmp"),
        name="bench",
        kind=Kind.SURVEY,
        state=CampaignState.RUNNING,
        audience={"type": "csv", "customer_ids": list(ids)},
        templates={},
        channels=[Channel.TELEGRAM],
        start=now - timedelta(minutes=1),
        end=now + timedelta(days=1),
        survey={"questions": [{"id": "rating", "type": "rating_1_5"}]},
        created_at=now,
        updated_at=now,
    )


async def launch(pool: store.Pool, db: Database, queue: Any, ids: Sequence[str]) -> list[str]:
    """Plan, store and queue a survey to `ids`; returns the attempt ids."""
    now = datetime.now(UTC)
    campaign = survey(ids, now)
    await store.insert_campaign(pool, campaign)
    plan = await plan_campaign(campaign, pool, db, MongoBankingBackend(db), now)
    await store.insert_attempts(pool, plan.attempts)
    await defer_deliveries(queue, [(a.id, a.earliest_at) for a in plan.attempts if a.state is AttemptState.QUEUED])
    return [a.id for a in plan.attempts]


@dataclass
class Worker:
    """One `python -m outbound.worker` process."""

    popen: subprocess.Popen[bytes]

    @classmethod
    def start(cls, env: dict[str, str], log: Path) -> Worker:
        with log.open("ab") as out:
            popen = subprocess.Popen(
                [sys.executable, "-m", "outbound.worker", "--concurrency", "25"],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return cls(popen)

    def kill(self) -> None:
        os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=10)

    def stop(self) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


async def ready(workers: Sequence[Worker], logs: Sequence[Path], within: float = 180) -> None:
    """Wait until every worker serves the queue (their start-up CPU is not the sends')."""
    deadline = time.monotonic() + within
    while not all("serving queue" in log.read_text(errors="replace") for log in logs):
        if any(w.popen.poll() is not None for w in workers) or time.monotonic() > deadline:
            raise SystemExit(f"an outbound worker did not start: see {logs[0].parent}")
        await asyncio.sleep(0.5)


async def states(pool: store.Pool, ids: Sequence[str]) -> dict[str, AttemptState]:
    async with pool.connection() as conn:
        cursor = await conn.execute("SELECT id, state FROM outbound_attempts WHERE id = ANY(%s)", (list(ids),))
        return {r["id"]: AttemptState(r["state"]) for r in await cursor.fetchall()}


async def wait_until(pool: store.Pool, ids: Sequence[str], done: Any, within: float) -> dict[str, AttemptState]:
    deadline = time.monotonic() + within
    while True:
        found = await states(pool, ids)
        if done(found) or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.25)


async def settle(pool: store.Pool, ids: Sequence[str], quiet: float = 3.0, within: float = 120) -> None:
    """Wait until the attempts stop changing (the survivor did what it could; the victim's share waits)."""
    deadline = time.monotonic() + within
    last, since = await states(pool, ids), time.monotonic()
    while time.monotonic() - since < quiet and time.monotonic() < deadline:
        await asyncio.sleep(0.25)
        now = await states(pool, ids)
        if now != last:
            last, since = now, time.monotonic()


async def figure_plan(stack: Stack, db: Database, zone: str, recipients: int) -> None:
    url = new_database(stack)
    pool = await store.open_pool(url)
    await store.ensure_schema(pool)
    queue = create_queue_app(url)
    async with queue.open_async():
        await ensure_queue_schema(queue)
        ids = await add_customers(db, 0, recipients, zone)
        now = datetime.now(UTC)
        campaign = survey(ids, now)
        await store.insert_campaign(pool, campaign)
        wall, cpu, servers = time.perf_counter(), time.process_time(), servers_cpu(stack)
        plan = await plan_campaign(campaign, pool, db, MongoBankingBackend(db), now)
        plan_wall, plan_cpu = time.perf_counter() - wall, time.process_time() - cpu
        plan_servers = servers_cpu(stack) - servers
        wall, cpu = time.perf_counter(), time.process_time()
        await store.insert_attempts(pool, plan.attempts)
        await defer_deliveries(queue, [(a.id, a.earliest_at) for a in plan.attempts])
        store_wall, store_cpu = time.perf_counter() - wall, time.process_time() - cpu
    await pool.close()
    print(f"plan {recipients} recipients: {plan_wall:.2f} s wall, {plan_cpu:.2f} s CPU (profiles, chats, rules)")
    print(f"plan {recipients} recipients: {plan_servers:.2f} s CPU of FerretDB and PostgreSQL serving the reads")
    print(f"store + queue {recipients} attempts: {store_wall:.2f} s wall, {store_cpu:.2f} s CPU (COPY, batch defer)")
    print(f"planned today/later/suppressed: {plan.today}/{plan.later}/{sum(plan.suppressed.values())}")


def servers_cpu(stack: Stack) -> float:
    """CPU seconds of the stack's FerretDB and PostgreSQL (backends included)."""
    return sum(tree_cpu_seconds(stack.processes[name].popen.pid) for name in ("ferretdb", "postgres"))


def new_database(stack: Stack) -> str:
    name = f"bench_{random.randrange(16**8):08x}"
    pgcluster.create_databases(stack.ports["postgres"], [name])
    return f"postgresql://{pgcluster.PG_ROLE}@127.0.0.1:{stack.ports['postgres']}/{name}"


def worker_env(stack: Stack, url: str, api_url: str, mongodb_db: str) -> dict[str, str]:
    """An outbound worker's environment: this run's attempts, the shared Redis rate, the Bot API stand-in."""
    return stack.env() | {
        "OUTBOUND_DATABASE_URL": url,
        "OUTBOUND_REDIS_URL": f"redis://127.0.0.1:{stack.ports['redis']}/0",
        "OUTBOUND_TELEGRAM_PER_SECOND": str(LIMIT),
        "TELEGRAM_BOT_TOKEN": BOT_TOKEN,
        "TELEGRAM_API_BASE": api_url,
        "TELEGRAM_WEBHOOK_SECRET": "bench-webhook-secret",
        "MONGODB_DB": mongodb_db,
        "PYTHONPATH": str(ROOT),
    }


def max_in_any_second(times: Sequence[float]) -> int:
    """The most arrivals within any window of one second."""
    ordered, best, start = sorted(times), 0, 0
    for end, moment in enumerate(ordered):
        while moment - ordered[start] >= 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


async def figures_delivery(stack: Stack, db: Database, zone: str, args: argparse.Namespace) -> None:
    api = TimedBotApi()
    api_url = await api.start()
    url = new_database(stack)
    pool = await store.open_pool(url)
    await store.ensure_schema(pool)
    queue = create_queue_app(url)
    log_dir = Path(tempfile.mkdtemp(prefix="bench-outbound-"))
    env = worker_env(stack, url, api_url, db.name)
    workers: list[Worker] = []
    try:
        async with queue.open_async():
            await ensure_queue_schema(queue)
            workers = [Worker.start(env, log_dir / f"worker-{n}.log") for n in range(2)]
            await ready(workers, [log_dir / f"worker-{n}.log" for n in range(2)])
            # --- rate ---------------------------------------------------------------------------------
            ids = await add_customers(db, 100_000, args.sends, zone)
            cpu_before = sum(tree_cpu_seconds(w.popen.pid) for w in workers)
            attempt_ids = await launch(pool, db, queue, ids)
            found = await wait_until(pool, attempt_ids, lambda s: all(v in FINAL for v in s.values()), 600)
            cpu = sum(tree_cpu_seconds(w.popen.pid) for w in workers) - cpu_before
            times = [t for t, _ in api.arrivals]
            sent = sum(v is AttemptState.SENT for v in found.values())
            span = max(times) - min(times) if len(times) > 1 else 0.0
            print(f"sends: {sent} of {len(ids)} sent by 2 workers, configured limit {LIMIT}/s")
            print(f"achieved rate: {(len(times) - 1) / span if span else 0:.1f} sends/s (first to last arrival)")
            print(f"most sends in any one second at the stand-in: {max_in_any_second(times)} (limit {LIMIT})")
            print(f"worker CPU per send: {1000 * cpu / max(sent, 1):.1f} ms (both workers, idle polling included)")
            # --- kill ---------------------------------------------------------------------------------
            api.arrivals.clear()
            twice = lost = unknown = total = 0
            first = 200_000
            rng = random.Random(18)
            for run in range(args.runs):
                ids = await add_customers(db, first, args.per_run, zone)
                first += args.per_run
                attempt_ids = await launch(pool, db, queue, ids)
                await asyncio.sleep(rng.uniform(0.1, args.per_run / LIMIT))
                victim = run % 2
                workers[victim].kill()
                log = log_dir / f"worker-{victim}-{run}.log"
                workers[victim] = Worker.start(env, log)
                # The survivor finishes what it can; what the victim held is then reaped as after its lease.
                await settle(pool, attempt_ids)

                async def defer(attempt_id: str, _at: datetime) -> None:
                    # The reaper runs on a clock moved past the lease; the job itself is due now.
                    await defer_deliveries(queue, [(attempt_id, datetime.now(UTC))])

                await reap(pool, datetime.now(UTC) + SENDING_LEASE + timedelta(seconds=1), defer)
                found = await wait_until(pool, attempt_ids, lambda s: all(v in FINAL for v in s.values()), 300)
                # Both workers serve the queue again before the next run kills the other one.
                await ready([workers[victim]], [log])
                chats = [chat for _, chat in api.arrivals]
                wanted = {9_000_000 + int(c.split("-")[1]) for c in ids}
                twice += sum(chats.count(chat) > 1 for chat in wanted)
                lost += sum(v not in FINAL for v in found.values())
                unknown += sum(v is AttemptState.UNKNOWN for v in found.values())
                total += len(attempt_ids)
                api.arrivals.clear()
            print(
                f"killed-worker runs: {args.runs} runs of {args.per_run} attempts ({total} in all),"
                " one of two workers SIGKILLed at a random moment each run"
            )
            print(f"attempts sent twice: {twice}")
            print(f"attempts lost (not in a final state): {lost}")
            print(f"attempts left unknown (listed for review, never resent): {unknown}")
    finally:
        for worker in workers:
            worker.stop()
        await pool.close()
        await api.close()


# A short banking chat; each inbound conversation cycles through it from its own starting point.
INBOUND_TURNS = [
    "Здравствуйте",
    "какой баланс на карте",
    "покажи последние операции",
    "what's my account balance",
    "спасибо",
    "до свидания",
]
# The processes that serve an inbound turn (FerretDB and PostgreSQL also serve the workers: not counted).
INBOUND_SERVERS = ("gateway", "rasa", "actions")


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile; NaN without values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))]


async def inbound_phase(
    http: aiohttp.ClientSession, stack: Stack, token: str, conversations: int, turns: int
) -> tuple[list[float], int, int]:
    """`conversations` customers chatting at once through the REST channel.

    Returns:
        Turn times (ms), failed turns, and turns answered after a hand-off instead of by the bot.
    """
    failed = handed = 0

    async def conversation(n: int) -> list[float]:
        nonlocal failed, handed
        sender, times = f"inbound-{n}-{random.randrange(16**8):08x}", []
        for i in range(turns):
            body = {"sender": sender, "text": INBOUND_TURNS[(n + i) % len(INBOUND_TURNS)], "customer_token": token}
            start = time.perf_counter()
            async with http.post(
                f"{stack.gateway_url}/api/channels/rest/messages", json=body, headers={"X-Api-Key": LOCAL_REST_API_KEY}
            ) as resp:
                answer = await resp.json()
                failed += resp.status != 200
                handed += resp.status == 200 and answer.get("state") != "bot"
            times.append((time.perf_counter() - start) * 1000)
        return times

    done = await asyncio.gather(*(conversation(n) for n in range(conversations)))
    return [t for times in done for t in times], failed, handed


def inbound_cpu(stack: Stack) -> float:
    return sum(tree_cpu_seconds(stack.processes[name].popen.pid) for name in INBOUND_SERVERS)


@dataclass
class WorkerSet:
    """Two workers on a queue (and attempts) of their own, at one CPU priority."""

    nice: int
    url: str
    pool: store.Pool
    queue: Any
    workers: list[Worker]


async def worker_set(stack: Stack, nice: int, api_url: str, mongodb_db: str, log_dir: Path) -> WorkerSet:
    url = new_database(stack)
    pool = await store.open_pool(url)
    await store.ensure_schema(pool)
    queue = create_queue_app(url)
    await queue.open_async()
    await ensure_queue_schema(queue)
    env = worker_env(stack, url, api_url, mongodb_db) | {"OUTBOUND_WORKER_NICE": str(nice)}
    logs = [log_dir / f"worker-nice{nice}-{n}.log" for n in range(2)]
    workers = [Worker.start(env, log) for log in logs]
    await ready(workers, logs)
    return WorkerSet(nice, url, pool, queue, workers)


async def figure_inbound(args: argparse.Namespace) -> None:
    """Inbound turns without a campaign, and with one sent by workers at nice 0 and at the default nice 10."""
    stack = Stack(data_dir=Path(tempfile.mkdtemp(prefix="bench-outbound-inbound-")))
    api = TimedBotApi()
    sets: list[WorkerSet] = []
    modes = ["without campaign", "campaign, workers at nice 0", "campaign, workers at nice 10 (default)"]
    measured: dict[str, dict[str, list[float]]] = {
        m: {"times": [], "cpu": [], "sends": [], "databases": [], "workers": []} for m in modes
    }
    failures = handoffs = 0
    conversations, turns = args.inbound_conversations, len(INBOUND_TURNS)
    try:
        stack.start_ferretdb()
        stack.start_redis()
        stack.start_actions()
        stack.start_rasa()
        api_url = await api.start()
        log_dir = Path(tempfile.mkdtemp(prefix="bench-outbound-workers-"))
        # Two sets of workers, each with its own queue; the gateway's outbound side uses the default set's.
        sets = [await worker_set(stack, nice, api_url, stack.mongodb_db, log_dir) for nice in (0, 10)]
        redis_url = f"redis://127.0.0.1:{stack.ports['redis']}/0"
        # A turn the loaded machine makes wait past the 4 s default would hand the customer to operators and
        # never reach the bot again: the figure is about the bot's turns, so the bench waits longer.
        stack.start_gateway(
            {"OUTBOUND_DATABASE_URL": sets[1].url, "OUTBOUND_REDIS_URL": redis_url, "BOT_TIMEOUT_SECONDS": "30"}
        )
        client: AsyncMongoClient[Document] = AsyncMongoClient(stack.mongodb_uri, tz_aware=True)
        db = client[stack.mongodb_db]
        zone = midday_zone()
        token = mint_customer_token("demo-ivan", stack.customer_token_secret)
        # A campaign long enough to outlast a phase: the phase's turns at about a second each, at the limit.
        size = max(200, LIMIT * turns * 3)
        async with aiohttp.ClientSession() as http:
            await inbound_phase(http, stack, token, conversations, 3)  # warm-up: models loaded, connections open
            first = 300_000
            for _ in range(args.inbound_rounds):
                for mode, sending in zip(modes, (None, sets[0], sets[1]), strict=True):
                    attempt_ids: list[str] = []
                    if sending is not None:
                        ids = await add_customers(db, first, size, zone)
                        first += size
                        api.arrivals.clear()
                        attempt_ids = await launch(sending.pool, db, sending.queue, ids)
                        deadline = time.monotonic() + 60
                        while not api.arrivals and time.monotonic() < deadline:  # noqa: ASYNC110 -- polls the stand-in
                            await asyncio.sleep(0.1)
                    began, cpu, databases = time.monotonic(), inbound_cpu(stack), servers_cpu(stack)
                    working = sum(tree_cpu_seconds(w.popen.pid) for one in sets for w in one.workers)
                    times, failed, handed = await inbound_phase(http, stack, token, conversations, turns)
                    ended = time.monotonic()
                    measured[mode]["cpu"].append(inbound_cpu(stack) - cpu)
                    # Cores busy during the phase: FerretDB + PostgreSQL (shared), and the outbound workers.
                    measured[mode]["databases"].append((servers_cpu(stack) - databases) / (ended - began))
                    worker_cpu = sum(tree_cpu_seconds(w.popen.pid) for one in sets for w in one.workers) - working
                    measured[mode]["workers"].append(worker_cpu / (ended - began))
                    measured[mode]["times"].extend(times)
                    failures += failed
                    handoffs += handed
                    if sending is not None:
                        sends = sum(began <= t <= ended for t, _ in api.arrivals)
                        measured[mode]["sends"].append(sends / (ended - began))
                        # The next phase starts once the campaign has sent everything.
                        await wait_until(sending.pool, attempt_ids, lambda s: all(v in FINAL for v in s.values()), 600)
        await client.close()
    finally:
        for one in sets:
            for worker in one.workers:
                worker.stop()
            await one.queue.close_async()
            await one.pool.close()
        await api.close()
        stack.stop()
    figures: dict[str, tuple[float, float]] = {}
    for mode in modes:
        times = measured[mode]["times"]
        cpu_ms = 1000 * sum(measured[mode]["cpu"]) / max(len(times), 1)
        figures[mode] = (cpu_ms, percentile(times, 95))
        rates = measured[mode]["sends"]
        sending_rate = f", campaign sends {sum(rates) / len(rates):.1f}/s (limit {LIMIT}/s)" if rates else ""
        print(
            f"inbound {conversations} concurrent REST conversations, {mode}: {len(times)} turns,"
            f" {cpu_ms:.1f} CPU-ms per turn (gateway + Rasa + actions), p95 {figures[mode][1]:.0f} ms,"
            f" p50 {percentile(times, 50):.0f} ms{sending_rate}"
        )
        db_cores, worker_cores = measured[mode]["databases"], measured[mode]["workers"]
        print(
            f"  cores busy meanwhile ({mode}): FerretDB + PostgreSQL {sum(db_cores) / len(db_cores):.2f},"
            f" outbound workers {sum(worker_cores) / len(worker_cores):.2f}"
        )
    cpu_off, p95_off = figures[modes[0]]
    for mode in modes[1:]:
        cpu_on, p95_on = figures[mode]
        print(
            f"inbound while a campaign runs ({mode}): CPU per turn {100 * (cpu_on / cpu_off - 1):+.1f} %,"
            f" p95 {100 * (p95_on / p95_off - 1):+.1f} % (target at most +20 %)"
        )
    print(f"inbound turns failed: {failures}; answered after a hand-off instead of by the bot: {handoffs}")


def random_case(rng: random.Random) -> tuple[Case, DatesCalendar]:
    """A customer's schedule as the property test generates them, drawn with `random`."""
    zones = ["Europe/Moscow", "Asia/Yekaterinburg", "Asia/Vladivostok", "Asia/Kamchatka", "America/New_York", "UTC"]
    start = datetime(2026, 12, 1, tzinfo=UTC)
    recipient = Recipient(
        "c",
        timezone=rng.choice(zones),
        opted_out=rng.random() < 0.3,
        do_not_contact=rng.random() < 0.1,
        marketing_consent=rng.random() < 0.5,
    )
    history = [
        PastContact(
            start - timedelta(minutes=rng.randrange(1, 60 * 24 * 40)), rng.choice(list(Channel)), rng.choice(list(Kind))
        )
        for _ in range(rng.randrange(0, 12))
    ]
    planned = []
    for _ in range(rng.randrange(1, 25)):
        earliest = start + timedelta(minutes=rng.randrange(0, 60 * 24 * 45))
        until = earliest + timedelta(minutes=rng.randrange(0, 60 * 24 * 10)) if rng.random() < 0.5 else None
        planned.append(PlannedContact(rng.choice(list(Kind)), rng.choice(list(Channel)), earliest, until))
    delays = [timedelta(minutes=rng.randrange(0, 600)) for _ in range(rng.randrange(1, 4))]
    opt_out = start + timedelta(minutes=rng.randrange(0, 60 * 24 * 45)) if rng.random() < 0.3 else None
    days_off = frozenset(date(2026, 11, 1) + timedelta(days=rng.randrange(0, 120)) for _ in range(rng.randrange(0, 12)))
    return Case(recipient, history, planned, delays, opt_out), DatesCalendar(days_off)


def figure_rules(cases: int) -> None:
    rng = random.Random(230)
    rules = Rules()
    broken = made = 0
    for _ in range(cases):
        case, calendar = random_case(rng)
        contacts = simulate(case, calendar, rules)
        made += len(contacts)
        broken += len(violations(case, contacts, calendar, rules))
    print(f"rule violations over {cases} random cases ({made} contacts made): {broken}")


async def main_async(args: argparse.Namespace) -> None:
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    if args.only == "inbound":
        await figure_inbound(args)
        print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        return
    figure_rules(args.cases)
    stack = Stack(data_dir=Path(tempfile.mkdtemp(prefix="bench-outbound-stack-")))
    try:
        stack.start_ferretdb()
        stack.start_redis()
        client: AsyncMongoClient[Document] = AsyncMongoClient(stack.mongodb_uri, tz_aware=True)
        db = client["bench_outbound"]
        zone = midday_zone()
        global FERRETDB_POSTGRES_URL
        FERRETDB_POSTGRES_URL = pgcluster.ferretdb_url(stack.ports["postgres"])
        await figure_plan(stack, db, zone, args.recipients)
        await figures_delivery(stack, db, zone, args)
        await client.close()
    finally:
        stack.stop()
    await figure_inbound(args)
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--sends", type=int, default=500)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--per-run", type=int, default=30)
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--inbound-conversations", type=int, default=10)
    parser.add_argument("--inbound-rounds", type=int, default=2)
    parser.add_argument("--only", choices=["inbound"], help="only this figure (the others need no Rasa)")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
