"""A fault run: services killed or paused under load, and no customer message lost, duplicated or left unanswered.

Starts `./scripts/run` (supervisord, two gateway processes on one port) on free
ports, keeps a bounded load of concurrent REST and web chat conversations going,
and, in turn, kills with SIGKILL Rasa, the action server, the database (PostgreSQL)
and one gateway process (the supervisor restarts each), then stops (SIGSTOP, then
SIGCONT) FerretDB and every PostgreSQL process for 10-15 s each: a paused database
keeps its connections, so a write the gateway gave up on may be applied when it
resumes, which is how messages used to be stored twice. Every REST message carries a
client `message_id` and every web chat message a frame `id`; each is retried with the
same id after an error, a timeout or a dropped socket, as an integration and the chat
page do. Then it counts, from the database, how often each message was stored, and
prints one line per figure (`faults.<figure> <value>`):
  sent, stored_once, lost, duplicated (also per channel), answered (bot or queued),
  acknowledged_as_duplicate (a retry the gateway recognised: the first try was stored,
  its answer lost on the way), over_5s (first answer later than 5 s after the first
  try), retries, answer p95 ms.
Usage: `. scripts/env.sh && $APP_VENV/bin/python -m bench.faults [--customers 8] [--webchat 4] [--gap 30]
[--stop-seconds 10 15]`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from pymongo import MongoClient

from core.identity import mint_customer_token
from core.settings import LOCAL_CUSTOMER_TOKEN_SECRET, LOCAL_REST_API_KEY
from core.stack import RunCommand

REST_PATH = "/api/channels/rest/messages"
HEADERS = {"Authorization": f"Bearer {LOCAL_REST_API_KEY}"}
SCRIPT = ["Здравствуйте", "какой баланс на карте?", "покажи последние операции", "спасибо"]
# Killed in this order, `--gap` seconds apart; the command-line fragment finds the process.
VICTIMS = [("rasa", "rasa run"), ("actions", "actions.server"), ("database", "postgres -D"), ("gateway", "-m core")]
# Paused (SIGSTOP ... SIGCONT) in this order after the kills; the fragment finds every process to pause.
PAUSES = [("ferretdb", ("ferretdb --handler",)), ("postgres", ("postgres -D", "postgres: "))]
WEBCHAT_PATH = "/chat/ws"
# A message is retried for at most this long before it counts as unanswered.
_GIVE_UP_SECONDS = 120.0


@dataclass
class Tally:
    """What the customers saw."""

    texts: list[str] = field(default_factory=list)
    webchat_texts: list[str] = field(default_factory=list)
    answered: int = 0
    # Retries answered `duplicate: true`: the first try was stored but its answer never reached the client.
    acknowledged_duplicates: int = 0
    retries: int = 0
    latencies_ms: list[float] = field(default_factory=list)


async def send(http: aiohttp.ClientSession, url: str, body: dict[str, Any], tally: Tally) -> bool:
    """One message, retried with the same message_id until it is answered; True when answered."""
    started = time.monotonic()
    while time.monotonic() - started < _GIVE_UP_SECONDS:
        try:
            async with http.post(url, json=body, headers=HEADERS) as resp:
                payload = await resp.json() if resp.status == 200 else {}
                if payload.get("duplicate"):
                    tally.acknowledged_duplicates += 1
                    return True
                if payload.get("state") in {"bot", "queued", "assigned"}:
                    tally.latencies_ms.append((time.monotonic() - started) * 1000)
                    tally.answered += 1
                    return True
        except (aiohttp.ClientError, TimeoutError, ValueError):
            pass
        tally.retries += 1
        await asyncio.sleep(0.5)
    return False


async def load(run: RunCommand, customers: int, until: float, tally: Tally) -> None:
    token = mint_customer_token("demo-anna", LOCAL_CUSTOMER_TOKEN_SECRET)
    url = run.gateway_url + REST_PATH

    async def customer(n: int) -> None:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
            while time.monotonic() < until:
                sender = f"fault-{n}-{uuid.uuid4().hex[:6]}"
                for text in SCRIPT:
                    unique = f"{text} [{uuid.uuid4().hex[:10]}]"
                    tally.texts.append(unique)
                    body = {"sender": sender, "text": unique, "customer_token": token, "message_id": uuid.uuid4().hex}
                    if not await send(http, url, body, tally) or time.monotonic() >= until:
                        break

    await asyncio.gather(*(customer(n) for n in range(customers)))


async def send_frame(run: RunCommand, visitor: str, frame: dict[str, Any], tally: Tally) -> bool:
    """One web chat message, resent with the same frame id on a new socket until acknowledged."""
    started = time.monotonic()
    while time.monotonic() - started < _GIVE_UP_SECONDS:
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=40)) as http,
                http.ws_connect(run.gateway_url + WEBCHAT_PATH, heartbeat=None) as socket,
            ):
                await socket.send_json({"type": "hello", "visitor_id": visitor, "language": "ru"})
                await socket.send_json(frame)
                while True:
                    msg = await socket.receive(timeout=30)
                    if msg.type != aiohttp.WSMsgType.TEXT:
                        break
                    answer = json.loads(msg.data)
                    if answer.get("type") == "error" and answer.get("id") == frame["id"]:
                        break
                    if answer.get("type") == "ack" and answer.get("id") == frame["id"]:
                        if answer.get("duplicate"):
                            tally.acknowledged_duplicates += 1
                        else:
                            tally.answered += 1
                            tally.latencies_ms.append((time.monotonic() - started) * 1000)
                        return True
        except (aiohttp.ClientError, TimeoutError, ValueError):
            pass
        tally.retries += 1
        await asyncio.sleep(0.5)
    return False


async def webchat_load(run: RunCommand, visitors: int, until: float, tally: Tally) -> None:
    async def visitor(n: int) -> None:
        while time.monotonic() < until:
            visitor_id = f"faults-{n}-{uuid.uuid4().hex[:12]}"
            for text in SCRIPT:
                unique = f"{text} [{uuid.uuid4().hex[:10]}]"
                tally.webchat_texts.append(unique)
                frame = {"type": "message", "id": uuid.uuid4().hex[:16], "text": unique}
                if not await send_frame(run, visitor_id, frame, tally) or time.monotonic() >= until:
                    break

    await asyncio.gather(*(visitor(n) for n in range(visitors)))


async def kill_in_turn(run: RunCommand, gap: float, stop_seconds: list[float]) -> None:
    for name, fragment in VICTIMS:
        await asyncio.sleep(gap)
        pids = run.pids_of(fragment)
        if pids:
            os.kill(pids[0], signal.SIGKILL)
            print(f"faults.killed.{name} 1", flush=True)
    for (name, fragments), seconds in zip(PAUSES, stop_seconds, strict=False):
        await asyncio.sleep(gap)
        pids = [pid for fragment in fragments for pid in run.pids_of(fragment)]
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        await asyncio.sleep(seconds)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        print(f"faults.stopped_s.{name} {seconds:.0f}", flush=True)


def stored_counts(run: RunCommand, texts: list[str]) -> Counter[str]:
    """How often each sent text is stored, matched by the unique tag at its end (a masked text still counts)."""
    client: MongoClient[dict[str, Any]] = MongoClient(run.mongodb_uri)
    try:
        by_tag = {text.rsplit("[", 1)[-1]: text for text in texts}
        counts: Counter[str] = Counter()
        for doc in client["contact_center"].messages.find({"author": "customer"}, {"text": 1}):
            sent = by_tag.get(str(doc["text"]).rsplit("[", 1)[-1])
            if sent is not None:
                counts[sent] += 1
                if doc["text"] != sent:
                    print(f"faults.stored_changed {doc['text']!r}", flush=True)
        return counts
    finally:
        client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=8)
    parser.add_argument("--webchat", type=int, default=4, help="web chat visitors beside the REST customers")
    parser.add_argument("--gap", type=float, default=30.0, help="seconds between kills (and after the last)")
    parser.add_argument(
        "--stop-seconds", type=float, nargs="*", default=[10.0, 15.0], help="pause FerretDB, then PostgreSQL"
    )
    args = parser.parse_args()
    run = RunCommand.start({"GATEWAY_PROCESSES": "2"})
    try:
        print(f"faults.start_to_ready_s {run.wait_ready():.1f}", flush=True)
        tally = Tally()
        stops = args.stop_seconds[: len(PAUSES)]
        until = time.monotonic() + args.gap * (len(VICTIMS) + len(stops) + 1) + sum(stops)

        async def everything() -> None:
            await asyncio.gather(
                load(run, args.customers, until, tally),
                webchat_load(run, args.webchat, until, tally),
                kill_in_turn(run, args.gap, stops),
            )

        asyncio.run(everything())
        texts = tally.texts + tally.webchat_texts
        counts = stored_counts(run, texts)
        print(f"faults.sent {len(texts)}")
        print(f"faults.sent.webchat {len(tally.webchat_texts)}")
        print(f"faults.stored_once {sum(1 for t in texts if counts[t] == 1)}")
        print(f"faults.lost {sum(1 for t in texts if counts[t] == 0)}")
        for text in [t for t in texts if counts[t] == 0][:5]:
            channel = "webchat" if text in set(tally.webchat_texts) else "rest"
            print(f"faults.lost_example {channel} {text!r}")
        print(f"faults.duplicated {sum(1 for t in texts if counts[t] > 1)}")
        print(f"faults.duplicated.rest {sum(1 for t in tally.texts if counts[t] > 1)}")
        print(f"faults.duplicated.webchat {sum(1 for t in tally.webchat_texts if counts[t] > 1)}")
        print(f"faults.answered {tally.answered}")
        print(f"faults.acknowledged_as_duplicate {tally.acknowledged_duplicates}")
        print(f"faults.over_5s {sum(1 for ms in tally.latencies_ms if ms > 5000)}")
        print(f"faults.retries {tally.retries}")
        ordered = sorted(tally.latencies_ms) or [float("nan")]
        print(f"faults.answer_p95_ms {ordered[int(0.95 * (len(ordered) - 1))]:.0f}")
    finally:
        run.stop()


if __name__ == "__main__":
    main()
