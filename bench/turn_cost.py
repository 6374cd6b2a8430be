"""A whole bot turn's time and CPU with two models side by side: setup's model and one trained without dense features.

Starts the database, the action server and two Rasa servers, one with setup's model (config.yml) and one with a
model trained from bench/configs/diet_sparse.yml (DIET on word and character counts, the pipeline before issue
11's sentence embeddings), then sends the same turns to both in alternation through Rasa's gateway channel
(NLU, policies, custom actions and the tracker store: everything but the gateway, whose cost does not depend on
the model), so both see the same machine load. Prints one line per figure: p50/p95 of a turn and the CPU time of
each Rasa process per turn, for each model.
Usage: `. scripts/env.sh && $APP_VENV/bin/python -m bench.turn_cost [--before MODEL.tar.gz] [--turns 200]`
(without --before it trains the sparse model first, a few minutes).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp

from bench.latency import TURNS, TURNS_PER_CONVERSATION, percentile
from bench.nlu import ROOT, train
from core.stack import Stack, running_stack

SPARSE_CONFIG = ROOT / "bench" / "configs" / "diet_sparse.yml"


async def bot_turn(http: aiohttp.ClientSession, url: str, token: str, sender: str, text: str) -> float:
    """One customer turn as the gateway sends it to Rasa; milliseconds until every reply is back."""
    language = "en" if any("a" <= ch.lower() <= "z" for ch in text) else "ru"
    body = {"sender": sender, "message": text, "metadata": {"channel": "rest", "language": language}}
    started = time.perf_counter()
    async with http.post(
        f"{url}/webhooks/gateway/webhook", json=body, headers={"Authorization": f"Bearer {token}"}
    ) as resp:
        payload = await resp.json()
        if resp.status != 200 or not payload:
            raise RuntimeError(f"turn failed on {url}: {resp.status} {payload}")
    return (time.perf_counter() - started) * 1000


async def compare(stack: Stack, names: list[str], turns: int) -> None:
    urls = {name: f"http://127.0.0.1:{stack.ports[name]}" for name in names}
    times: dict[str, list[float]] = {name: [] for name in names}
    async with aiohttp.ClientSession() as http:
        for name in names:  # warm-up: TensorFlow graphs, connections, the embedding models
            for _, text in TURNS:
                await bot_turn(http, urls[name], stack.rasa_token, f"warmup-{name}", text)
        cpu_before = {name: stack.processes[name].cpu_seconds() for name in names}
        senders: dict[str, str] = {}
        for i in range(turns):
            if i % TURNS_PER_CONVERSATION == 0:
                senders = {name: f"cost-{name}-{uuid.uuid4().hex}" for name in names}
            text = TURNS[i % len(TURNS)][1]
            # Alternate which model goes first, so neither always meets the other's leftovers.
            for name in names if i % 2 == 0 else list(reversed(names)):
                times[name].append(await bot_turn(http, urls[name], stack.rasa_token, senders[name], text))
        cpu = {name: stack.processes[name].cpu_seconds() - cpu_before[name] for name in names}
    for name in names:
        print(f"turn_cost.{name}.p50_ms {percentile(times[name], 50):.1f}")
        print(f"turn_cost.{name}.p95_ms {percentile(times[name], 95):.1f}")
        print(f"turn_cost.{name}.rasa_cpu_ms_per_turn {cpu[name] / turns * 1000:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, help=f"a model trained from {SPARSE_CONFIG.name} (default: train one)")
    parser.add_argument("--turns", type=int, default=200, help="turns per model")
    args = parser.parse_args()
    print(f"turn_cost: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load {os.getloadavg()}")
    with tempfile.TemporaryDirectory(prefix="bench-turn-cost-") as tmp:
        before = args.before
        if before is None:
            before, seconds = train(Path(tmp), SPARSE_CONFIG, "sparse")
            print(f"turn_cost: trained the sparse model in {seconds:.0f} s")
        with running_stack(Path(tmp), with_gateway=False) as stack:
            stack.start_rasa("rasa-sparse", model=before.resolve())
            asyncio.run(compare(stack, ["rasa", "rasa-sparse"], args.turns))


if __name__ == "__main__":
    main()
