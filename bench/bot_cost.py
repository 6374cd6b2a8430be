"""Issue 22's bot-side turn cost, before and after, side by side in one run (through the gateway).

Configurations (environment switches keep the code before issue 22 runnable):
  before  one Rasa process, every process embeds on its own (EMBEDDING_CACHE=off), Rasa calls
          action_validate_slot_mappings on every turn (CC_SLOT_MAPPINGS_EVERY_TURN=true), no Redis;
  after   Redis with the shared embedding cache, the slot-mapping call only when a slot can change, and
          as many Rasa processes as `scripts/run` starts by default (--rasa-processes, default: usable cores);
          `--after-model` a model other than setup's (e.g. a pipeline without USE).
Figures, one line each (`bot_cost.<config>.<figure> <value>`):
  sequential: both platforms up at once, the same turns sent to each in alternation, --repeats times
    (--fresh-texts: the shared cache emptied before each turn, as if no text had been seen before):
    CPU-ms per turn per process (postgres, ferretdb, redis, rasa..., actions, gateway) and their total;
    resident memory per process afterwards;
  closed loop (--concurrency, default 20,50): N conversations each sending its next message as soon as
    answered, for --seconds, one configuration at a time (the other idle): turns/s, bot turns/s, p50/p95,
    handoffs;
  open loop (--open-loop): --conversations conversations each writing every --interval s (offered:
    conversations / interval turns/s) for --open-seconds: achieved turns/s, p50/p95, handoffs.
Usage: `. scripts/env.sh && $APP_VENV/bin/python -m bench.bot_cost [--configs before,after] [--repeats 2]
[--open-loop]`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import redis

from bench.capacity import SCRIPT, Client, Turns, concurrent, first_answer, handed_off_for_bot_unavailable
from bench.latency import percentile
from core.stack import Stack


@dataclass(frozen=True)
class Variant:
    """How one configuration starts."""

    env: dict[str, str]
    rasa_processes: int
    redis: bool
    model: Path | None = None


def usable_cores() -> int:
    """The cores this process may use (what scripts/run counts, without the memory and quota limits)."""
    return len(os.sched_getaffinity(0))


def variants(args: argparse.Namespace) -> dict[str, Variant]:
    before = Variant({"EMBEDDING_CACHE": "off", "CC_SLOT_MAPPINGS_EVERY_TURN": "true"}, 1, redis=False)
    after = Variant(
        {"EMBEDDING_CACHE": "on", "CC_SLOT_MAPPINGS_EVERY_TURN": "false"},
        args.rasa_processes or usable_cores(),
        redis=True,
        model=args.after_model,
    )
    return {"before": before, "after": after}


def emit(config: str, name: str, value: float) -> None:
    print(f"bot_cost.{config}.{name} {value:.1f}", flush=True)


@contextmanager
def platform(variant: Variant, data_dir: Path) -> Iterator[Stack]:
    """The platform of one configuration (its switches in every process's environment)."""
    saved = {name: os.environ.get(name) for name in variant.env}
    os.environ.update(variant.env)
    stack = Stack(data_dir=data_dir, durable=True)
    try:
        stack.start_ferretdb()
        if variant.redis:
            stack.start_redis()
        stack.start_actions()
        for n in range(variant.rasa_processes):
            stack.start_rasa("rasa" if n == 0 else f"rasa-{n + 1}", model=variant.model)
        stack.start_gateway()
        yield stack
    finally:
        stack.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def cpu_by_process(stack: Stack) -> dict[str, float]:
    return {name: process.cpu_seconds() for name, process in stack.processes.items()}


@dataclass
class Sequential:
    """One configuration's sequential turns in a side-by-side run."""

    stack: Stack
    client: Client
    batch: Turns = field(default_factory=Turns)
    cpu_before: dict[str, float] = field(default_factory=dict)


def forget_embeddings(stack: Stack) -> None:
    """Empty the shared embedding cache, as if every message were new (only between turns: no lock is held)."""
    if "redis" in stack.ports:
        client = redis.Redis(port=stack.ports["redis"])
        keys = list(client.scan_iter(match="emb:*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


async def side_by_side(stacks: dict[str, Stack], turns: int, repeats: int, *, fresh: bool = False) -> None:
    """The same sequential turns to every configuration in alternation; CPU-ms per turn per process.

    The script repeats six messages, which the shared cache would make free for Rasa too; `fresh`
    empties it before every turn, so each message counts as one no process has embedded yet (the
    action server still reuses Rasa's vector within the turn).
    """
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        runs = {name: Sequential(stack, Client(http, stack)) for name, stack in stacks.items()}
        for run in runs.values():
            await first_answer(run.client)
            for text in SCRIPT:  # warm-up: models, connections, the knowledge-base index
                await run.client.turn(f"warm-{uuid.uuid4().hex[:6]}", text, Turns())
        for repeat in range(1, repeats + 1):
            for run in runs.values():
                run.batch, run.cpu_before = Turns(), cpu_by_process(run.stack)
            names = list(runs)
            for i in range(turns):
                if i % len(SCRIPT) == 0:
                    senders = {name: f"seq-{name}-{uuid.uuid4().hex[:8]}" for name in names}
                for name in names if i % 2 == 0 else list(reversed(names)):
                    if fresh:
                        forget_embeddings(runs[name].stack)
                    await runs[name].client.turn(senders[name], SCRIPT[i % len(SCRIPT)], runs[name].batch)
            for name, run in runs.items():
                after = cpu_by_process(run.stack)
                cpu = {p: (after[p] - run.cpu_before[p]) * 1000 / turns for p in after}
                prefix = f"sequential{'_fresh' if fresh else ''}.r{repeat}"
                emit(name, f"{prefix}.p50_ms", percentile(run.batch.latencies_ms, 50))
                emit(name, f"{prefix}.p95_ms", percentile(run.batch.latencies_ms, 95))
                for process, value in cpu.items():
                    emit(name, f"{prefix}.cpu_ms_per_turn.{process}", value)
                emit(name, f"{prefix}.cpu_ms_per_turn.total", sum(cpu.values()))
                emit(name, f"{prefix}.failed", run.batch.failed)
        for name, run in runs.items():
            for process_name, proc in run.stack.processes.items():
                emit(name, f"rss_mb.{process_name}", proc.rss_kib() / 1024)


async def open_loop(config: str, stack: Stack, conversations: int, interval: float, seconds: float) -> None:
    """Each conversation writes every `interval` s from a random start: the shape of real traffic.

    Besides all turns, the figures of the turns sent after the first `interval` are printed apart: by then every
    conversation is open, while the first interval carries all 1,000 first turns (each creates its conversation).
    """
    batch = Turns()
    settled = Turns()  # turns sent once every conversation has had its first
    senders = [f"open-{n}-{uuid.uuid4().hex[:6]}" for n in range(conversations)]
    timeout = aiohttp.ClientTimeout(total=120)
    connector = aiohttp.TCPConnector(limit=0)
    started = time.monotonic()
    cpu_before = cpu_by_process(stack)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as http:
        client = Client(http, stack)
        rng = random.Random(22)
        pending: set[asyncio.Task[object]] = set()

        async def turn(sender: str, text: str, also: Turns | None) -> None:
            one = Turns()
            await client.turn(sender, text, one)
            for into in (batch, also) if also is not None else (batch,):
                into.latencies_ms.extend(one.latencies_ms)
                into.bot_answered += one.bot_answered
                into.failed += one.failed

        async def customer(sender: str) -> None:
            at = started + rng.uniform(0, interval)
            n = 0
            while at < started + seconds:
                await asyncio.sleep(max(0.0, at - time.monotonic()))
                # Sent on schedule even when the previous answer is late: customers do not wait politely.
                into = settled if at >= started + interval else None
                task = asyncio.ensure_future(turn(sender, SCRIPT[n % len(SCRIPT)], into))
                pending.add(task)
                task.add_done_callback(pending.discard)
                n += 1
                at += interval

        await asyncio.gather(*(customer(s) for s in senders))
        if pending:  # the last turns' answers (each within the client's timeout)
            await asyncio.wait(pending)
    elapsed = time.monotonic() - started
    after = cpu_by_process(stack)
    answered = len(batch.latencies_ms)
    emit(config, "open_loop.offered_turns_per_s", conversations / interval)
    emit(config, "open_loop.achieved_turns_per_s", answered / elapsed)
    emit(config, "open_loop.bot_turns_per_s", batch.bot_answered / elapsed)
    emit(config, "open_loop.p50_ms", percentile(batch.latencies_ms, 50))
    emit(config, "open_loop.p95_ms", percentile(batch.latencies_ms, 95))
    emit(config, "open_loop.after_first_interval.turns", len(settled.latencies_ms))
    emit(config, "open_loop.after_first_interval.p50_ms", percentile(settled.latencies_ms, 50))
    emit(config, "open_loop.after_first_interval.p95_ms", percentile(settled.latencies_ms, 95))
    emit(config, "open_loop.failed_requests", batch.failed)
    emit(config, "open_loop.handed_off_bot_unavailable", handed_off_for_bot_unavailable(stack, set(senders)))
    emit(
        config,
        "open_loop.cpu_ms_per_turn.total",
        sum(after[p] - cpu_before[p] for p in after) * 1000 / max(answered, 1),
    )


async def closed_loops(config: str, stack: Stack, levels: list[int], seconds: float) -> None:
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=0)) as http:
        client = Client(http, stack)
        await first_answer(client)
        for level in levels:
            before = cpu_by_process(stack)
            await concurrent(f"bot_cost.{config}", stack, client, level, seconds)
            after = cpu_by_process(stack)
            print(f"bot_cost.{config}.concurrent_{level}.cpu_s {sum(after[p] - before[p] for p in after):.1f}")


def _stop_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def main() -> None:
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--configs", default="before,after")
    parser.add_argument("--turns", type=int, default=60, help="sequential turns per configuration and repeat")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--fresh-texts", action="store_true", help="sequential: every message new to the cache")
    parser.add_argument("--concurrency", type=lambda v: [int(x) for x in v.split(",") if x], default=[20, 50])
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each closed-loop level")
    parser.add_argument("--open-loop", action="store_true", help="also the open loop (long)")
    parser.add_argument("--conversations", type=int, default=1000)
    parser.add_argument("--interval", type=float, default=30.0)
    parser.add_argument("--open-seconds", type=float, default=180.0)
    parser.add_argument("--rasa-processes", type=int, default=0, help="after: Rasa processes (0: usable cores)")
    parser.add_argument("--after-model", type=Path, default=None, help="after: a model other than setup's")
    args = parser.parse_args()
    print(f"bot_cost: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load {os.getloadavg()}", flush=True)
    chosen = {name: v for name, v in variants(args).items() if name in args.configs.split(",")}
    # Both platforms stay up for the whole run (an idle platform costs next to nothing), so the
    # closed and open loops need no second start; each loop runs against one platform at a time.
    with tempfile.TemporaryDirectory(prefix="bench-bot-cost-") as tmp, ExitStack() as running:
        stacks = {name: running.enter_context(platform(variant, Path(tmp) / name)) for name, variant in chosen.items()}
        print(f"bot_cost: platforms up at {time.strftime('%H:%M')}, load {os.getloadavg()}", flush=True)
        if args.turns and args.repeats:
            asyncio.run(side_by_side(stacks, args.turns, args.repeats, fresh=args.fresh_texts))
        for name, stack in stacks.items():
            print(f"bot_cost: {name} under load from {time.strftime('%H:%M')}, load {os.getloadavg()}", flush=True)
            if args.concurrency:
                asyncio.run(closed_loops(name, stack, args.concurrency, args.seconds))
            if args.open_loop:
                asyncio.run(open_loop(name, stack, args.conversations, args.interval, args.open_seconds))


if __name__ == "__main__":
    main()
