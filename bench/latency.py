"""Reply time through the gateway's REST channel versus Rasa directly, on the same turns in the same run.

Starts the whole platform on free ports (FerretDB, action server, Rasa, gateway),
then prints one line per figure:
  sequential: 200 turns one after another (25 conversations of 8 turns), p50/p95 per turn type and overall;
  concurrent: 20 conversations at once, p50/p95 overall;
  overhead: gateway p50 / Rasa-direct p50 over the same sequential turns;
  long conversation: p50 of turns 1-10 and 91-100 of one 100-turn conversation.
Usage: `. scripts/env.sh && $APP_VENV/bin/python -m bench.latency`.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path

import aiohttp

from core.identity import mint_customer_token
from core.settings import LOCAL_REST_API_KEY
from core.stack import Stack, running_stack

# (turn type, text); a conversation cycles through them, so every type gets the same count.
TURNS: list[tuple[str, str]] = [
    ("greet", "Здравствуйте"),
    ("balance", "какой баланс на карте"),
    ("transactions", "покажи последние операции"),
    ("out_of_scope", "какая завтра погода в Казани"),
    ("greet_en", "hello there"),
    ("balance_en", "what's my account balance"),
    ("thank", "спасибо"),
    ("goodbye", "до свидания"),
]
SEQUENTIAL_TURNS = 200
# A bank chat is a handful of turns; the sequential turns are 25 such conversations, one after another.
TURNS_PER_CONVERSATION = 8
# Rasa's tracker store reads and rewrites the whole tracker every turn (on FerretDB/SQLite that
# costs more as the document grows): one long conversation shows how much.
LONG_CONVERSATION_TURNS = 100
CONCURRENT_CONVERSATIONS = 20
TURNS_PER_CONCURRENT_CONVERSATION = 8


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile, in the values' unit; NaN when there are none (every turn failed)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


async def gateway_turn(http: aiohttp.ClientSession, stack: Stack, sender: str, text: str, token: str) -> float:
    start = time.perf_counter()
    body = {"sender": sender, "text": text, "customer_token": token}
    async with http.post(
        f"{stack.gateway_url}/api/channels/rest/messages", json=body, headers={"X-Api-Key": LOCAL_REST_API_KEY}
    ) as resp:
        payload = await resp.json()
        if resp.status != 200 or not payload["replies"]:
            raise RuntimeError(f"gateway turn failed: {resp.status} {payload}")
    return (time.perf_counter() - start) * 1000


async def rasa_turn(http: aiohttp.ClientSession, stack: Stack, sender: str, text: str, customer_id: str) -> float:
    """The same turn sent straight to Rasa's gateway channel, as the gateway would send it."""
    start = time.perf_counter()
    language = "en" if any("a" <= ch.lower() <= "z" for ch in text) else "ru"
    body = {
        "sender": sender,
        "message": text,
        "metadata": {
            "channel": "rest",
            "language": language,
            "customer_id": customer_id,
            "identity_method": "customer_token",
            "redacted": [],
        },
    }
    headers = {"Authorization": f"Bearer {stack.rasa_token}"}
    async with http.post(f"{stack.rasa_url}/webhooks/gateway/webhook", json=body, headers=headers) as resp:
        payload = await resp.json()
        if resp.status != 200 or not payload:
            raise RuntimeError(f"rasa turn failed: {resp.status} {payload}")
    return (time.perf_counter() - start) * 1000


async def run(stack: Stack) -> None:
    token = mint_customer_token("demo-ivan", stack.customer_token_secret)
    gateway_times: dict[str, list[float]] = defaultdict(list)
    rasa_times: list[float] = []
    async with aiohttp.ClientSession() as http:
        # Warm-up: the first turns load TensorFlow graphs and open connections.
        for _, text in TURNS:
            await gateway_turn(http, stack, "warmup", text, token)
            await rasa_turn(http, stack, "warmup-direct", text, "demo-ivan")

        for i in range(SEQUENTIAL_TURNS):
            if i % TURNS_PER_CONVERSATION == 0:
                gateway_sender, rasa_sender = f"seq-{uuid.uuid4().hex}", f"direct-{uuid.uuid4().hex}"
            kind, text = TURNS[i % len(TURNS)]
            gateway_times[kind].append(await gateway_turn(http, stack, gateway_sender, text, token))
            rasa_times.append(await rasa_turn(http, stack, rasa_sender, text, "demo-ivan"))

        async def conversation(n: int) -> list[float]:
            sender = f"conc-{n}-{uuid.uuid4().hex}"
            return [
                await gateway_turn(http, stack, sender, TURNS[(n + i) % len(TURNS)][1], token)
                for i in range(TURNS_PER_CONCURRENT_CONVERSATION)
            ]

        concurrent = [
            t
            for times in await asyncio.gather(*(conversation(n) for n in range(CONCURRENT_CONVERSATIONS)))
            for t in times
        ]
        long_sender = f"long-{uuid.uuid4().hex}"
        long_times = [
            await gateway_turn(http, stack, long_sender, TURNS[i % len(TURNS)][1], token)
            for i in range(LONG_CONVERSATION_TURNS)
        ]

    all_sequential = [t for times in gateway_times.values() for t in times]
    for kind, times in gateway_times.items():
        print(f"latency.sequential.{kind}.p50_ms {percentile(times, 50):.1f}")
        print(f"latency.sequential.{kind}.p95_ms {percentile(times, 95):.1f}")
    print(f"latency.sequential.all.p50_ms {percentile(all_sequential, 50):.1f}")
    print(f"latency.sequential.all.p95_ms {percentile(all_sequential, 95):.1f}")
    print(f"latency.rasa_direct.all.p50_ms {percentile(rasa_times, 50):.1f}")
    print(f"latency.rasa_direct.all.p95_ms {percentile(rasa_times, 95):.1f}")
    print(f"latency.concurrent{CONCURRENT_CONVERSATIONS}.all.p50_ms {percentile(concurrent, 50):.1f}")
    print(f"latency.concurrent{CONCURRENT_CONVERSATIONS}.all.p95_ms {percentile(concurrent, 95):.1f}")
    print(f"latency.long_conversation.turns_1_10.p50_ms {percentile(long_times[:10], 50):.1f}")
    print(f"latency.long_conversation.turns_91_100.p50_ms {percentile(long_times[-10:], 50):.1f}")
    ratio = statistics.median(all_sequential) / statistics.median(rasa_times)
    print(f"latency.gateway_overhead_ratio_p50 {ratio:.3f}")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-latency-") as tmp, running_stack(Path(tmp)) as stack:
        asyncio.run(run(stack))


if __name__ == "__main__":
    main()
