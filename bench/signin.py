"""Customers' search latency while staff sign-ins are hammered (issue 10: p50 17 ms -> 1.9 s before the limiter).

    python -m bench.signin [--searches 60] [--attackers 16]

Builds the gateway in-process on a FerretDB of its own (no bot needed: the public KB search is
the customer's request here), measures `/api/kb/search` alone, then again while `--attackers`
clients send wrong passwords for the demo accounts as fast as they are answered. Prints one
figure a line: search p50/p95 quiet and hammered, sign-in attempts, how many the limiter refused
before any password check and how many were checked (argon2).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from core.app import create_app
from core.settings import Settings
from core.stack import free_port, running_stack

QUESTIONS = ["как заблокировать карту", "how do I block my card", "лимит по карте", "курс валют", "потерял карту"]


async def search_latencies(client: TestClient, count: int) -> list[float]:  # type: ignore[type-arg]
    """Milliseconds of `count` sequential searches."""
    timings = []
    for n in range(count):
        started = time.perf_counter()
        resp = await client.get("/api/kb/search", params={"q": QUESTIONS[n % len(QUESTIONS)]})
        await resp.read()
        assert resp.status == 200, resp.status
        timings.append(1000 * (time.perf_counter() - started))
    return timings


def p(timings: list[float], q: int) -> float:
    """The q-th percentile."""
    return statistics.quantiles(timings, n=100)[q - 1]


async def run(searches: int, attackers: int) -> None:
    """Quiet run, then the hammered run; print the figures."""
    with (
        tempfile.TemporaryDirectory(prefix="cc-signin-") as tmp,
        running_stack(Path(tmp), with_bot=False, with_gateway=False) as stack,
    ):
        settings = replace(Settings(), mongodb_uri=stack.mongodb_uri, rasa_url=f"http://127.0.0.1:{free_port()}")
        async with TestClient(TestServer(create_app(settings))) as client:
            await search_latencies(client, 5)  # warm the model and the index
            quiet = await search_latencies(client, searches)
            outcomes: Counter[int] = Counter()
            stop = asyncio.Event()

            async def attacker(n: int) -> None:
                while not stop.is_set():
                    login = ("olga", "kate", "sveta", "editor")[n % 4]
                    resp = await client.post("/api/console/sign-in", json={"login": login, "password": f"guess-{n}"})
                    await resp.read()
                    outcomes[resp.status] += 1

            tasks = [asyncio.create_task(attacker(n)) for n in range(attackers)]
            await asyncio.sleep(0.5)
            hammered = await search_latencies(client, searches)
            stop.set()
            await asyncio.gather(*tasks)
    print(f"search p50 quiet: {p(quiet, 50):.1f} ms")
    print(f"search p95 quiet: {p(quiet, 95):.1f} ms")
    print(f"search p50 while {attackers} clients hammer sign-in: {p(hammered, 50):.1f} ms")
    print(f"search p95 while {attackers} clients hammer sign-in: {p(hammered, 95):.1f} ms")
    print(f"sign-in attempts: {sum(outcomes.values())}")
    print(f"refused by the limiter before a password check (429): {outcomes[429]}")
    print(f"passwords checked and wrong (401): {outcomes[401]}")
    print(f"other answers: {dict((k, v) for k, v in outcomes.items() if k not in (401, 429))}")


def main() -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--searches", type=int, default=60)
    parser.add_argument("--attackers", type=int, default=16)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # one audit warning per refused attempt would drown the figures
    asyncio.run(run(args.searches, args.attackers))


if __name__ == "__main__":
    main()
