"""Time from the run command to ready, and each process's memory after a 1,000-turn run.

Runs `scripts/run` itself (supervisord over every service) on free ports with its own
data folder, measures the seconds until the gateway answers a first chat turn,
sends 1,000 turns through the REST channel (four customers' turns at a time) and
prints the RSS of each process after every 250 turns, so growth is visible and a cut
short run still leaves figures. SIGTERM or Ctrl-C stops the platform it started.
Usage: `. scripts/env.sh && $APP_VENV/bin/python -m bench.resources [--turns N]`.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import time
from pathlib import Path

import aiohttp

from core.identity import mint_customer_token
from core.settings import LOCAL_CUSTOMER_TOKEN_SECRET, LOCAL_REST_API_KEY
from core.stack import RunCommand, descendants, tree_rss_kib

TURNS = ["привет", "какой баланс на карте", "последние операции", "hello", "what is my balance", "спасибо"]
TOTAL_TURNS = 1000
CHECKPOINT_TURNS = 250
# Four customers at a time: the run finishes in a quarter of the time, and it is still a light load.
CONCURRENT_CUSTOMERS = 4
_READY_TIMEOUT_SECONDS = 300
_PROCESS_LABELS = {
    "postgres -D": "postgres",
    "ferretdb": "ferretdb",
    "actions.server": "actions",
    "rasa run": "rasa",
    "-m core": "gateway",
}


async def first_answer(url: str, deadline: float) -> None:
    async with aiohttp.ClientSession() as http:
        attempt = 0
        while time.monotonic() < deadline:
            attempt += 1
            # A new sender each time: a probe answered while Rasa was still starting is handed to an operator.
            try:
                async with http.post(
                    url,
                    json={"sender": f"ready-probe-{attempt}", "text": "привет"},
                    headers={"X-Api-Key": LOCAL_REST_API_KEY},
                ) as resp:
                    if resp.status == 200 and (await resp.json())["state"] == "bot":
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.25)
    raise RuntimeError("the platform was not ready in time")


async def load(url: str, total: int, platform_pid: int) -> None:
    token = mint_customer_token("demo-anna", LOCAL_CUSTOMER_TOKEN_SECRET)
    done = 0

    async def customer(http: aiohttp.ClientSession, first: int) -> None:
        nonlocal done
        # Each customer talks in 20-turn conversations, like the sequential run did.
        for i in range(first, total, CONCURRENT_CUSTOMERS):
            body = {"sender": f"load-{i % CONCURRENT_CUSTOMERS}-{i // (20 * CONCURRENT_CUSTOMERS)}"}
            body |= {"text": TURNS[i % len(TURNS)], "customer_token": token}
            async with http.post(url, json=body, headers={"X-Api-Key": LOCAL_REST_API_KEY}) as resp:
                if resp.status != 200:
                    raise RuntimeError(f"turn {i} failed with HTTP {resp.status}")
            done += 1
            if done % CHECKPOINT_TURNS == 0 or done == total:
                for name, rss in process_rss(platform_pid).items():
                    print(f"resources.rss_after_{done}_turns_mib.{name} {rss / 1024:.0f}", flush=True)

    async with aiohttp.ClientSession() as http:
        await asyncio.gather(*(customer(http, first) for first in range(CONCURRENT_CUSTOMERS)))


def _stop_on_sigterm(signum: int, frame: object) -> None:
    # `timeout` and CI send SIGTERM: leave through the `finally` that stops the platform.
    raise SystemExit(128 + signum)


def process_rss(platform_pid: int) -> dict[str, int]:
    """RSS per supervised process, in KiB: the process itself and its own children.

    Below the run script sit supervisord and its programs; each platform process is found by its
    command line among the run script's descendants.
    """
    result: dict[str, int] = {}
    for pid in descendants(platform_pid):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if cmdline.startswith("/bin/sh"):
            continue
        label = next((label for key, label in _PROCESS_LABELS.items() if key in cmdline), None)
        if label is not None and label not in result:
            result[label] = tree_rss_kib(pid)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=TOTAL_TURNS, help="turns to send (default 1000)")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    start = time.monotonic()
    platform = RunCommand.start()
    url = f"{platform.gateway_url}/api/channels/rest/messages"
    try:
        asyncio.run(first_answer(url, start + _READY_TIMEOUT_SECONDS))
        print(f"resources.run_to_ready_s {time.monotonic() - start:.1f}", flush=True)
        for name, rss in process_rss(platform.process.pid).items():
            print(f"resources.rss_at_ready_mib.{name} {rss / 1024:.0f}", flush=True)
        load_started = time.monotonic()
        asyncio.run(load(url, args.turns, platform.process.pid))
        print(f"resources.turns_per_s {args.turns / (time.monotonic() - load_started):.2f}")
    finally:
        platform.stop()


if __name__ == "__main__":
    main()
