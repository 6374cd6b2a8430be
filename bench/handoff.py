"""Live-operator figures: escalation-to-console latency, operator-reply-to-customer delivery, and loss under load.

Runs the real gateway app (in this process, on a free port) on its own FerretDB,
with a scripted stand-in for Rasa (the bot's speed is measured by bench.latency;
here only the handoff path counts). 5 operators keep consoles open over the
websocket; 50 customers escalate at once; then the load runs for LOAD_SECONDS
with one console reconnect in the middle. Customer delivery goes through a push
channel registered like the web chat's deliverer. Prints one line per figure.
Usage: `. scripts/env.sh && $APP_VENV/bin/python -m bench.handoff [load_seconds]` (default 300).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bench.latency import percentile
from core.app import create_app
from core.keys import DB_KEY, DELIVERY_KEY
from core.settings import LOCAL_REST_API_KEY, Settings
from core.stack import Stack, free_port
from core.staff import Role, save_staff
from handoff import operators
from handoff.conversations import Conversation
from handoff.transcript import StoredMessage

CUSTOMERS = 50
OPERATORS = 5
# Each operator can carry a tenth of the customers, so all 50 are served at once.
CAPACITY = 10
DEFAULT_LOAD_SECONDS = 300
# One customer message every this many seconds per customer during the load phase (~10 messages/s in total).
CUSTOMER_PAUSE_SECONDS = 5.0
PASSWORD = "bench-password"  # noqa: S105 -- throwaway accounts in a throwaway database


async def scripted_rasa(port: int) -> web.AppRunner:
    async def webhook(request: web.Request) -> web.Response:
        body = await request.json()
        return web.json_response(
            [
                {"recipient_id": body["sender"], "text": "Соединяю с оператором."},
                {"recipient_id": body["sender"], "custom": {"handoff": {"reason": "customer_request"}}},
            ]
        )

    app = web.Application()
    app.router.add_post("/webhooks/gateway/webhook", webhook)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


class PushChannel:
    """Stands where the web chat's websocket deliverer stands; records when each message reaches the customer."""

    def __init__(self) -> None:
        self.delivered: Counter[tuple[str, int]] = Counter()
        self.at: dict[str, float] = {}

    async def deliver(self, conversation: Conversation, message: StoredMessage) -> None:
        self.delivered[(conversation.id, message.seq)] += 1
        if message.author == "operator":
            self.at.setdefault(message.text, time.perf_counter())


class ConsoleClient:
    """One operator's console: signed in, listening on the websocket, reconnecting with catch-up."""

    def __init__(self, base: str, login: str) -> None:
        self.base, self.login = base, login
        self.session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.csrf = ""
        self.last_seq = 0
        self.seen: set[str] = set()
        self.handoff_at: dict[str, float] = {}
        self.customer_messages: Counter[tuple[str, int]] = Counter()
        self.task: asyncio.Task[None] | None = None
        self.socket: aiohttp.ClientWebSocketResponse | None = None
        self.ready = asyncio.Event()

    async def sign_in(self) -> None:
        async with self.session.post(
            self.base + "/api/console/sign-in", json={"login": self.login, "password": PASSWORD}
        ) as resp:
            self.csrf = (await resp.json())["csrf"]
        async with self.session.post(
            self.base + "/api/console/status", json={"status": "online"}, headers={"X-CSRF-Token": self.csrf}
        ):
            pass

    def start(self) -> None:
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            try:
                async with self.session.ws_connect(f"{self.base}/api/console/live?after={self.last_seq}") as socket:
                    self.socket = socket
                    async for message in socket:
                        data = json.loads(message.data)
                        if data["type"] == "ready":
                            self.ready.set()
                        elif data["type"] == "event":
                            self._handle(data["event"])
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)

    def _handle(self, event: dict[str, Any]) -> None:
        if event["id"] in self.seen:
            return
        self.seen.add(event["id"])
        self.last_seq = max(self.last_seq, event["seq"] or 0)
        if event["name"] == "conversation.bot_handoff":
            self.handoff_at.setdefault(event["conversation_id"], time.perf_counter())
        if event["name"] == "message.created" and event["data"]["author"] == "customer":
            self.customer_messages[(event["conversation_id"], event["data"]["seq"])] += 1

    async def drop(self) -> None:
        self.ready.clear()
        if self.socket is not None:
            await self.socket.close()

    async def reply(self, conversation_id: str, text: str) -> int:
        url = f"{self.base}/api/console/conversations/{conversation_id}/reply"
        async with self.session.post(url, json={"text": text}, headers={"X-CSRF-Token": self.csrf}) as resp:
            return resp.status

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
        await self.session.close()


async def main(load_seconds: float) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="bench-handoff-"))
    stack = Stack(data_dir=data_dir)
    await asyncio.to_thread(stack.start_ferretdb)
    rasa_port, gateway_port = free_port(), free_port()
    rasa = await scripted_rasa(rasa_port)
    settings = replace(
        Settings(),
        mongodb_uri=stack.mongodb_uri,
        mongodb_db=f"bench_{uuid.uuid4().hex[:8]}",
        rasa_url=f"http://127.0.0.1:{rasa_port}",
    )
    app = create_app(settings)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", gateway_port).start()
    base = f"http://127.0.0.1:{gateway_port}"
    push = PushChannel()
    app[DELIVERY_KEY].register("rest", push)
    db = app[DB_KEY]
    consoles = []
    try:
        for index in range(OPERATORS):
            login = f"bench-op{index}"
            await save_staff(db, login, PASSWORD, display_name=login, roles=(Role.OPERATOR,))
            await operators.save_operator(db, login, display_name=login, languages=("ru",), capacity=CAPACITY)
            console = ConsoleClient(base, login)
            await console.sign_in()
            console.start()
            consoles.append(console)
        await asyncio.gather(*(c.ready.wait() for c in consoles))

        async with aiohttp.ClientSession() as customers:
            sent_at: dict[str, float] = {}

            async def escalate(index: int) -> str:
                sent_at[f"c{index}"] = time.perf_counter()
                async with customers.post(
                    base + "/api/channels/rest/messages",
                    json={"sender": f"bench-{index}", "text": "оператора"},
                    headers={"X-Api-Key": LOCAL_REST_API_KEY},
                ) as resp:
                    body = await resp.json()
                conversation_id: str = body["conversation_id"]
                sent_at[conversation_id] = sent_at.pop(f"c{index}")
                return conversation_id

            conversation_ids = await asyncio.gather(*(escalate(i) for i in range(CUSTOMERS)))
            await asyncio.sleep(2)
            escalation = [
                (min(c.handoff_at[cid] for c in consoles if cid in c.handoff_at) - sent_at[cid]) * 1000
                for cid in conversation_ids
                if any(cid in c.handoff_at for c in consoles)
            ]
            print(
                f"escalation_to_console_ms p50={statistics.median(escalation):.0f} "
                f"p95={percentile(escalation, 95):.0f} "
                f"n={len(escalation)}/{CUSTOMERS}"
            )

            owners: dict[str, ConsoleClient] = {}
            deadline = time.perf_counter() + 60
            while len(owners) < CUSTOMERS and time.perf_counter() < deadline:
                for cid in conversation_ids:
                    doc = await db.conversations.find_one({"_id": cid})
                    owner: str | None = ((doc or {}).get("assignee") or {}).get("id")
                    for console in consoles:
                        if console.login == owner:
                            owners[cid] = console
                await asyncio.sleep(0.5)
            print(f"assigned_automatically={len(owners)}/{CUSTOMERS}")

            reply_latency: list[float] = []
            counts = Counter[str]()
            stop_at = time.perf_counter() + load_seconds

            async def customer_loop(index: int, cid: str) -> None:
                n = 0
                await asyncio.sleep(index * CUSTOMER_PAUSE_SECONDS / CUSTOMERS)
                while time.perf_counter() < stop_at:
                    n += 1
                    async with customers.post(
                        base + "/api/channels/rest/messages",
                        json={"sender": f"bench-{index}", "text": f"вопрос {index}-{n}"},
                        headers={"X-Api-Key": LOCAL_REST_API_KEY},
                    ) as resp:
                        if resp.status == 200:
                            counts["customer_sent"] += 1
                    if cid not in owners:
                        await asyncio.sleep(CUSTOMER_PAUSE_SECONDS)
                        continue
                    text = f"ответ {index}-{n}"
                    started = time.perf_counter()
                    if await owners[cid].reply(cid, text) == 200:
                        counts["operator_sent"] += 1
                        for _ in range(200):
                            if text in push.at:
                                reply_latency.append((push.at[text] - started) * 1000)
                                break
                            await asyncio.sleep(0.005)
                    await asyncio.sleep(CUSTOMER_PAUSE_SECONDS)

            async def reconnect_in_the_middle() -> None:
                await asyncio.sleep(load_seconds / 2)
                await consoles[0].drop()

            await asyncio.gather(
                *(customer_loop(i, cid) for i, cid in enumerate(conversation_ids)), reconnect_in_the_middle()
            )
            await asyncio.sleep(3)

        customer_stored = (
            await db.messages.count_documents({"conversation_id": {"$in": conversation_ids}, "author": "customer"})
            - CUSTOMERS
        )  # the escalating messages were not part of the load phase
        operator_stored = await db.messages.count_documents(
            {"conversation_id": {"$in": conversation_ids}, "author": "operator"}
        )
        operator_keys = {
            (doc["conversation_id"], doc["seq"])
            async for doc in db.messages.find({"conversation_id": {"$in": conversation_ids}, "author": "operator"})
        }
        delivered = [n for key, n in push.delivered.items() if key in operator_keys]
        console_seen = Counter[tuple[str, int]]()
        for console in consoles:
            for key in console.customer_messages:
                if owners.get(key[0]) is console:
                    console_seen[key] += console.customer_messages[key]
        print(
            f"operator_reply_to_customer_ms p50={statistics.median(reply_latency):.0f} "
            f"p95={percentile(reply_latency, 95):.0f} n={len(reply_latency)}"
        )
        print(f"load_seconds={load_seconds:.0f} customers={CUSTOMERS} operators={OPERATORS} console_reconnects=1")
        print(
            f"customer_messages sent={counts['customer_sent']} stored={customer_stored} "
            f"seen_by_owner_console={len(console_seen) - CUSTOMERS} "
            f"duplicates={sum(v - 1 for v in console_seen.values())}"
        )
        print(
            f"operator_messages sent={counts['operator_sent']} stored={operator_stored} delivered={len(delivered)} "
            f"duplicates={sum(n - 1 for n in delivered)}"
        )
    finally:
        for console in consoles:
            await console.close()
        await runner.cleanup()
        await rasa.cleanup()
        await asyncio.to_thread(stack.stop)


if __name__ == "__main__":
    asyncio.run(main(float(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_LOAD_SECONDS))
