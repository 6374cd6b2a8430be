"""Two gateways sharing one database talk over Redis pub/sub: the customer on one, the operator's console on the other.

Both gateways are the real app from the factory with GATEWAY_PROCESSES=2, each
with its own event bus, on the real platform (the `stack`'s FerretDB, Rasa and
action server); the only path between their live events is Debian's
redis-server, started here on a free port.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from core.app import create_app
from core.keys import DB_KEY, DELIVERY_KEY
from core.stack import Stack, free_port
from handoff.conversations import Conversation
from handoff.setup import DEMO_STAFF_PASSWORD
from handoff.transcript import StoredMessage

from .handoff_support import REST, REST_HEADERS, gateway_settings

ASK_FOR_OPERATOR = "позовите оператора"


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is missing: ./scripts/setup installs Debian's redis-server")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        import socket
        import time

        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.1)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


class PushChannel:
    """A channel that can push, like the web chat: it records what reaches the customer."""

    def __init__(self) -> None:
        self.received: asyncio.Queue[str] = asyncio.Queue()

    async def deliver(self, conversation: Conversation, message: StoredMessage) -> None:
        await self.received.put(message.text)


@pytest.fixture
async def two_gateways(
    stack: Stack, redis_url: str, aiohttp_client: Any
) -> AsyncIterator[tuple[TestClient[web.Request, web.Application], TestClient[web.Request, web.Application]]]:
    settings = gateway_settings(stack, "two", gateway_processes=2, redis_url=redis_url, handoff_auto_assign=False)
    customer_side = await aiohttp_client(create_app(settings))
    operator_side = await aiohttp_client(create_app(settings))
    yield customer_side, operator_side


async def next_event(socket: aiohttp.ClientWebSocketResponse, name: str) -> dict[str, Any]:
    while True:
        message = await asyncio.wait_for(socket.receive(), timeout=10)
        data = json.loads(message.data)
        if data.get("type") == "event" and data["event"]["name"] == name:
            event: dict[str, Any] = data["event"]
            return event


async def test_customer_on_one_gateway_and_operator_on_the_other(
    two_gateways: tuple[TestClient[web.Request, web.Application], TestClient[web.Request, web.Application]],
) -> None:
    customer_side, operator_side = two_gateways
    push = PushChannel()
    customer_side.app[DELIVERY_KEY].register("rest", push)

    base = str(operator_side.make_url("")).rstrip("/")
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        async with browser.post(
            base + "/api/console/sign-in", json={"login": "olga", "password": DEMO_STAFF_PASSWORD}
        ) as r:
            csrf = (await r.json())["csrf"]
        async with browser.ws_connect(base + "/api/console/live?after=0") as console:
            resp = await customer_side.post(
                REST, json={"sender": "two-gw", "text": ASK_FOR_OPERATOR}, headers=REST_HEADERS
            )
            conversation_id = (await resp.json())["conversation_id"]
            handoff = await next_event(console, "conversation.bot_handoff")
            assert handoff["conversation_id"] == conversation_id

            async with browser.post(
                f"{base}/api/console/conversations/{conversation_id}/take", headers={"X-CSRF-Token": csrf}
            ) as r:
                assert r.status == 200
            assert await asyncio.wait_for(push.received.get(), 10) == "К чату подключился оператор Ольга."

            await customer_side.post(
                REST, json={"sender": "two-gw", "text": "у меня вопрос по карте"}, headers=REST_HEADERS
            )
            seen: list[tuple[str, str]] = []
            while not seen or seen[-1] != ("customer", "у меня вопрос по карте"):
                message = await next_event(console, "message.created")
                seen.append((message["data"]["author"], message["data"]["text"]))
            assert seen[0] == ("customer", ASK_FOR_OPERATOR), "the escalating message reaches the console too"

            async with browser.post(
                f"{base}/api/console/conversations/{conversation_id}/reply",
                json={"text": "Слушаю вас"},
                headers={"X-CSRF-Token": csrf},
            ) as r:
                assert r.status == 200
            assert await asyncio.wait_for(push.received.get(), 10) == "Слушаю вас"


async def test_two_gateways_starting_at_once_on_a_fresh_database_both_seed_it_and_come_up(
    stack: Stack, redis_url: str, aiohttp_client: Any
) -> None:
    """Seeding is a claim: staff, operators, canned answers, the demo bank and the KB seed are each created once
    by a unique insert, so the second gateway finds them instead of crashing on a duplicate key."""
    for round_ in range(3):
        settings = gateway_settings(stack, f"fresh{round_}", gateway_processes=2, redis_url=redis_url)
        first, second = await asyncio.gather(aiohttp_client(create_app(settings)), aiohttp_client(create_app(settings)))
        for gateway in (first, second):
            assert (await gateway.get("/healthz")).status == 200, f"round {round_}"
        db = first.app[DB_KEY]
        assert sorted([d["_id"] async for d in db.operators.find({}, {"_id": 1})]) == ["kate", "olga", "sveta"]
        assert await db.kb_articles.count_documents({}) == 32
        assert await db.kb_article_versions.count_documents({}) == 32, "each seed article created once"
        await first.close()
        await second.close()


async def test_signing_out_other_devices_closes_a_page_held_by_the_other_gateway_at_once(
    two_gateways: tuple[TestClient[web.Request, web.Application], TestClient[web.Request, web.Application]],
    mint_token: Any,
) -> None:
    """Anna's laptop talks to one gateway process, her phone to the other; signing out from the phone ends the
    laptop's session now, not at its next reconnect."""
    laptop_side, phone_side = two_gateways
    laptop_token = mint_token("demo-anna")
    laptop = await laptop_side.ws_connect("/chat/ws")
    await laptop.send_json({"type": "hello", "visitor_id": "anna-laptop-01", "customer_token": laptop_token})
    assert (await laptop.receive_json(timeout=10))["type"] == "ready"
    await asyncio.sleep(1.1)  # token times are whole seconds: the sign-out comes after the laptop's token
    phone = await phone_side.ws_connect("/chat/ws")
    await phone.send_json({"type": "hello", "visitor_id": "anna-phone-001", "customer_token": mint_token("demo-anna")})
    assert (await phone.receive_json(timeout=10))["type"] == "ready"

    await phone.send_json({"type": "sign_out_others"})
    frames: list[str] = []
    while "signed_out_others" not in frames:
        frames.append((await phone.receive_json(timeout=10))["type"])

    # The laptop, on the other process, is told and its socket closed, without reconnecting.
    seen: list[str] = []
    while True:
        message = await laptop.receive(timeout=10)
        if message.type != aiohttp.WSMsgType.TEXT:
            break
        seen.append(json.loads(message.data)["type"])
    assert "signed_out" in seen
    assert laptop.closed and laptop.close_code == aiohttp.WSCloseCode.POLICY_VIOLATION
    # The phone stays signed in and connected.
    assert not phone.closed
    await phone.send_json({"type": "ping"})
    assert (await phone.receive_json(timeout=10))["type"] == "pong"
    await phone.close()
