"""The web chat's websocket through the real gateway: a page says hello, talks, drops, reconnects, misbehaves."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from connectors.webchat import embed_origins
from core.app import create_app
from core.settings import Settings
from core.stack import Stack
from handoff.setup import DEMO_STAFF_PASSWORD

WS_PATH = "/chat/ws"
FRAME_TIMEOUT_SECONDS = 15


class Page:
    """One open web chat socket, speaking the protocol as webchat.js does."""

    def __init__(self, socket: aiohttp.ClientWebSocketResponse, visitor_id: str) -> None:
        self.socket = socket
        self.visitor_id = visitor_id
        self.conversation_id: str | None = None

    async def frame(self) -> dict[str, Any]:
        message = await self.socket.receive(timeout=FRAME_TIMEOUT_SECONDS)
        assert message.type == aiohttp.WSMsgType.TEXT, f"expected a text frame, got {message.type}: {message.data}"
        frame: dict[str, Any] = json.loads(message.data)
        return frame

    async def hello(
        self, *, token: str | None = None, last_seq: int = 0, conversation_id: str | None = None, language: str = "ru"
    ) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
        """Say hello; return the ready frame, the history's messages and any error frames before them."""
        await self.socket.send_json(
            {
                "type": "hello",
                "visitor_id": self.visitor_id,
                "customer_token": token,
                "last_seq": last_seq,
                "conversation_id": conversation_id,
                "language": language,
            }
        )
        errors: list[dict[str, Any]] = []
        frame = await self.frame()
        while frame["type"] == "error":
            errors.append(frame)
            if frame["code"] == "conversation_locked":
                return {}, [], errors
            frame = await self.frame()
        assert frame["type"] == "ready", frame
        self.conversation_id = frame["conversation_id"]
        history = await self.frame()
        assert history["type"] == "history", history
        return frame, history["messages"], errors

    async def say(self, text: str, message_id: str | None = None) -> list[dict[str, Any]]:
        """Send a message; return every frame up to and including its ack or error."""
        message_id = message_id or uuid.uuid4().hex
        await self.socket.send_json({"type": "message", "id": message_id, "text": text})
        frames: list[dict[str, Any]] = []
        while True:
            frame = await self.frame()
            frames.append(frame)
            if frame["type"] == "ready":
                self.conversation_id = frame["conversation_id"]
            if frame["type"] in {"ack", "error"} and frame.get("id") == message_id:
                return frames

    async def send_raw(self, data: str) -> dict[str, Any]:
        """Send any text and return the next frame that is not a typing signal."""
        await self.socket.send_str(data)
        frame = await self.frame()
        while frame["type"] == "typing":
            frame = await self.frame()
        return frame


def messages(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [f["message"] for f in frames if f["type"] == "message"]


def bot_texts(frames: list[dict[str, Any]]) -> str:
    return "\n".join(m["text"] for m in messages(frames) if m["author"] != "customer")


@pytest.fixture
async def open_page(gateway_url: str) -> AsyncIterator[Callable[..., Any]]:
    """Open web chat sockets like a browser tab would; all are closed after the test."""
    session = aiohttp.ClientSession()
    sockets: list[aiohttp.ClientWebSocketResponse] = []

    async def open_(visitor_id: str | None = None) -> Page:
        socket = await session.ws_connect(gateway_url + WS_PATH)
        sockets.append(socket)
        return Page(socket, visitor_id or str(uuid.uuid4()))

    yield open_
    for socket in sockets:
        await socket.close()
    await session.close()


async def test_a_new_visitor_is_ready_with_an_empty_history(open_page: Callable[..., Any]) -> None:
    page = await open_page()
    ready, history, errors = await page.hello()
    # A page view is not a conversation yet: it starts with the first message.
    assert ready == {"type": "ready", "conversation_id": None, "verified": False}
    assert history == []
    assert errors == []


async def test_a_guest_greets_and_gets_an_ack_the_echo_and_a_russian_reply(open_page: Callable[..., Any]) -> None:
    page = await open_page()
    await page.hello()
    frames = await page.say("Здравствуйте!", "greet-1")

    kinds = [f["type"] for f in frames]
    assert kinds[0] == "typing" and frames[0]["on"] is True
    assert kinds[-1] == "ack" and frames[-1] == {"type": "ack", "id": "greet-1"}
    assert {"type": "typing", "on": False, "who": "bot", "name": None} in frames
    ready = next(f for f in frames if f["type"] == "ready")
    assert ready["conversation_id"] == page.conversation_id and ready["verified"] is False
    stored = messages(frames)
    assert stored[0]["author"] == "customer" and stored[0]["text"] == "Здравствуйте!"
    assert stored[1]["author"] == "bot"
    assert any("а" <= ch <= "я" for ch in bot_texts(frames).lower()), bot_texts(frames)
    seqs = [m["seq"] for m in stored]
    assert seqs == sorted(set(seqs)), "each stored message arrives once, in order"


async def test_reload_restores_the_whole_history_and_a_reconnect_only_what_is_newer(
    open_page: Callable[..., Any],
) -> None:
    first = await open_page()
    await first.hello()
    greeting = messages(await first.say("Привет"))
    last_seen = greeting[-1]["seq"]
    await first.socket.close()

    # A reload knows nothing: last_seq 0 brings everything back.
    reloaded = await open_page(first.visitor_id)
    ready, history, _ = await reloaded.hello()
    assert ready["conversation_id"] == first.conversation_id
    assert [m["seq"] for m in history] == [m["seq"] for m in greeting]
    assert history[0]["text"] == "Привет"

    thanks = messages(await reloaded.say("Спасибо"))
    await reloaded.socket.close()

    # A reconnect after a drop asks for what came after the last seq it shows.
    reconnected = await open_page(first.visitor_id)
    _, newer, _ = await reconnected.hello(last_seq=last_seen, conversation_id=first.conversation_id)
    assert [m["seq"] for m in newer] == [m["seq"] for m in thanks]
    assert all(m["seq"] > last_seen for m in newer)

    # A last_seq that belongs to another conversation is ignored: the page gets everything.
    elsewhere = await open_page(first.visitor_id)
    _, everything, _ = await elsewhere.hello(last_seq=last_seen, conversation_id="some-other-conversation")
    assert [m["seq"] for m in everything] == [m["seq"] for m in greeting + thanks]


async def test_a_message_resent_after_a_reconnect_is_handled_once(open_page: Callable[..., Any]) -> None:
    page = await open_page()
    await page.hello()
    first = await page.say("Что ты умеешь?", "same-id")
    assert len([m for m in messages(first) if m["author"] == "customer"]) == 1
    await page.socket.close()

    # The page never saw the ack (say the network dropped) and sends the outbox again.
    again = await open_page(page.visitor_id)
    _, history, _ = await again.hello()
    retry = await again.say("Что ты умеешь?", "same-id")
    assert retry[-1] == {"type": "ack", "id": "same-id", "duplicate": True}
    assert messages(retry) == []

    later = await open_page(page.visitor_id)
    _, after, _ = await later.hello()
    assert [m["text"] for m in after if m["author"] == "customer"] == ["Что ты умеешь?"]
    assert len(after) == len(history)


async def test_html_comes_back_as_the_same_literal_text(open_page: Callable[..., Any]) -> None:
    page = await open_page()
    await page.hello()
    html = '<img src=x onerror=alert(1)><script>alert("x")</script> & &amp;'
    echo = messages(await page.say(html))[0]
    assert echo["author"] == "customer"
    assert echo["text"] == html


async def test_broken_frames_get_error_frames_and_the_socket_stays_open(open_page: Callable[..., Any]) -> None:
    page = await open_page()

    before_hello = await page.send_raw(json.dumps({"type": "message", "id": "m1", "text": "привет"}))
    assert before_hello["type"] == "error" and before_hello["code"] == "hello_first" and before_hello["id"] == "m1"

    bad_hellos = [
        {"type": "hello", "visitor_id": "x", "last_seq": 0, "language": "ru"},
        {"type": "hello", "visitor_id": str(uuid.uuid4()), "last_seq": "0", "language": "ru"},
        {"type": "hello", "visitor_id": str(uuid.uuid4()), "last_seq": -1, "language": "ru"},
        {"type": "hello", "visitor_id": str(uuid.uuid4()), "last_seq": 0, "language": "de"},
        {"type": "hello", "visitor_id": str(uuid.uuid4()), "last_seq": 0, "customer_token": 42},
    ]
    for hello in bad_hellos:
        frame = await page.send_raw(json.dumps(hello))
        assert frame["type"] == "error" and frame["code"] == "invalid_frame", (hello, frame)

    await page.hello()
    broken = [
        "{not json",
        "[1, 2, 3]",
        '"just a string"',
        "{}",
        json.dumps({"type": 7}),
        json.dumps({"type": "launch_missiles"}),
        json.dumps({"type": "message", "text": "без id"}),
        json.dumps({"type": "message", "id": "has spaces and / slashes", "text": "x"}),
        json.dumps({"type": "hello", "visitor_id": page.visitor_id, "last_seq": 0, "language": "ru"}),
    ]
    for raw in broken:
        frame = await page.send_raw(raw)
        assert frame["type"] == "error" and frame["code"] == "invalid_frame", (raw, frame)
        assert "Traceback" not in frame["error"]

    wrong_text = await page.send_raw(json.dumps({"type": "message", "id": "m2", "text": ["list"]}))
    assert wrong_text == {"type": "error", "id": "m2", "error": "'text' must be a string.", "code": "invalid_frame"}

    too_long = await page.say("я" * 5000, "m3")
    assert too_long[-1]["type"] == "error" and too_long[-1]["code"] == "invalid_message"
    assert "5000" in too_long[-1]["error"] and "4000" in too_long[-1]["error"]
    assert messages(too_long) == []

    empty = await page.say("   ", "m4")
    assert empty[-1]["type"] == "error" and empty[-1]["code"] == "invalid_message"

    await page.socket.send_bytes(b"\x00\xff binary")
    binary = await page.frame()
    assert binary["type"] == "error" and binary["code"] == "invalid_frame"

    assert await page.send_raw(json.dumps({"type": "ping"})) == {"type": "pong"}
    # After all that the same socket still talks.
    still_fine = await page.say("Привет", "m5")
    assert still_fine[-1] == {"type": "ack", "id": "m5"}
    assert bot_texts(still_fine)


async def test_a_signed_in_customer_sees_their_balance(
    open_page: Callable[..., Any], mint_token: Callable[..., str]
) -> None:
    page = await open_page()
    ready, _, errors = await page.hello(token=mint_token("demo-ivan"))
    assert errors == [] and ready["verified"] is True
    reply = bot_texts(await page.say("какой баланс на карте"))
    assert "₽" in reply, reply


async def test_a_forged_or_expired_token_is_refused_and_the_chat_goes_on_as_a_guest(
    open_page: Callable[..., Any], mint_token: Callable[..., str]
) -> None:
    for token in ["forged.token.value", mint_token("demo-ivan", ttl_seconds=-10)]:
        page = await open_page()
        ready, _, errors = await page.hello(token=token)
        assert [e["code"] for e in errors] == ["invalid_token"]
        assert errors[0]["id"] is None
        assert "sign in again" in errors[0]["error"] or "not valid" in errors[0]["error"]
        assert ready["verified"] is False
        reply = bot_texts(await page.say("какой баланс на карте"))
        assert "₽" not in reply, "a guest must not see balances"


async def test_a_signed_in_customers_conversation_stays_closed_without_their_token(
    open_page: Callable[..., Any], mint_token: Callable[..., str]
) -> None:
    ivan = await open_page()
    await ivan.hello(token=mint_token("demo-ivan"))
    await ivan.say("какой баланс на карте")

    # Someone later at the same browser, without Ivan's token (signed out, expired, another customer's).
    for token in [None, mint_token("demo-anna")]:
        stranger = await open_page(ivan.visitor_id)
        _, history, errors = await stranger.hello(token=token)
        assert [e["code"] for e in errors] == ["conversation_locked"]
        assert history == []
        # The same socket may start over with a new visitor id.
        stranger.visitor_id = str(uuid.uuid4())
        ready, fresh, _ = await stranger.hello(token=token)
        if token is None:
            assert ready["conversation_id"] is None and fresh == []
        else:
            # A signed-in customer is given their own open conversation on any device (issue 21), never Ivan's.
            assert ready["conversation_id"] != ivan.conversation_id
            assert not any(ending in m["text"] for m in fresh for ending in ("5678", "1234", "9012"))

    ivan_again = await open_page(ivan.visitor_id)
    _, history, errors = await ivan_again.hello(token=mint_token("demo-ivan"))
    assert errors == [] and any("₽" in m["text"] for m in history)


async def test_two_tabs_of_one_visitor_both_see_the_conversation(open_page: Callable[..., Any]) -> None:
    first = await open_page()
    await first.hello()
    await first.say("Привет")
    second = await open_page(first.visitor_id)
    await second.hello()

    sent = messages(await second.say("Спасибо"))
    seen_by_first: list[dict[str, Any]] = []
    while len(seen_by_first) < len(sent):
        frame = await first.frame()
        if frame["type"] == "message":
            seen_by_first.append(frame["message"])
    assert [m["seq"] for m in seen_by_first] == [m["seq"] for m in sent]


async def test_demo_sign_in_mints_tokens_for_demo_customers_only(http: aiohttp.ClientSession, gateway_url: str) -> None:
    async with http.get(gateway_url + "/chat/config") as resp:
        config = await resp.json()
    assert config["demo_sign_in"] is True
    assert {c["id"]: c["name"] for c in config["demo_customers"]} == {
        "demo-ivan": "Иван Петров",
        "demo-anna": "Анна Смирнова",
        "demo-john": "John Smith",
    }
    async with http.post(gateway_url + "/chat/demo-sign-in", json={"customer_id": "demo-ivan"}) as resp:
        assert resp.status == 200
        body = await resp.json()
    assert body["customer_id"] == "demo-ivan" and body["name"] == "Иван Петров" and body["customer_token"]
    for customer_id in ["real-customer-42", "", None, ["demo-ivan"]]:
        async with http.post(gateway_url + "/chat/demo-sign-in", json={"customer_id": customer_id}) as resp:
            assert resp.status == 403, customer_id
    async with http.post(gateway_url + "/chat/demo-sign-in", data="{oops") as resp:
        assert resp.status == 400


async def test_demo_sign_in_is_refused_when_it_is_off(stack: Stack, aiohttp_client: Any) -> None:
    settings = replace(
        Settings(),
        mongodb_uri=stack.mongodb_uri,
        mongodb_db=f"webchat_{uuid.uuid4().hex[:8]}",
        rasa_url=stack.rasa_url,
        demo_sign_in=False,
    )
    client: TestClient[web.Request, web.Application] = await aiohttp_client(create_app(settings))
    resp = await client.post("/chat/demo-sign-in", json={"customer_id": "demo-ivan"})
    assert resp.status == 403
    assert "customer_token" not in await resp.json()
    config = await (await client.get("/chat/config")).json()
    assert config == {"demo_sign_in": False, "demo_customers": [], "embed_origins": ["'self'"]}


async def test_the_page_is_served_with_a_strict_content_security_policy(
    http: aiohttp.ClientSession, gateway_url: str
) -> None:
    async with http.get(gateway_url + "/chat") as resp:
        assert resp.status == 200
        page = await resp.text()
        policy = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert '<script src="/chat/static/webchat.js"' in page
    async with http.get(gateway_url + "/chat/static/webchat.js") as resp:
        assert resp.status == 200
        script = await resp.text()
    assert not re.search(r"\.innerHTML\s*=|insertAdjacentHTML|outerHTML\s*=|document\.write", script)


class Operator:
    """An operator using the console's JSON API, as the console page does."""

    def __init__(self, http: aiohttp.ClientSession, gateway_url: str) -> None:
        self.http, self.base, self.csrf = http, gateway_url, ""

    async def post(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        async with self.http.post(self.base + path, json=body, headers={"X-CSRF-Token": self.csrf}) as resp:
            return resp.status, await resp.json()

    async def signs_in(self, login: str) -> None:
        status, body = await self.post("/api/console/sign-in", {"login": login, "password": DEMO_STAFF_PASSWORD})
        assert status == 200, body
        self.csrf = body["csrf"]

    async def clears_the_desk(self) -> None:
        """Close conversations earlier stories left with this operator, so capacity is free for ours."""
        async with self.http.get(self.base + "/api/console/queue") as resp:
            mine = (await resp.json())["mine"]
        for conversation in mine:
            await self.post(f"/api/console/conversations/{conversation['id']}/close", {"resolution": "other"})


async def test_an_operators_replies_reach_the_page_live_and_after_a_reconnect(
    open_page: Callable[..., Any], gateway_url: str
) -> None:
    page = await open_page()
    await page.hello()
    await page.say("Привет")
    handoff = await page.say("позови оператора")
    assert any(m["author"] == "system" for m in messages(handoff)), bot_texts(handoff)
    conversation_id = page.conversation_id
    assert conversation_id is not None

    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as console:
        olga = Operator(console, gateway_url)
        await olga.signs_in("olga")
        await olga.clears_the_desk()
        assert (await olga.post("/api/console/status", {"status": "online"}))[0] == 200
        try:
            # Auto-assignment may have given it to her already; then taking it again is a 409.
            status, taken = await olga.post(f"/api/console/conversations/{conversation_id}/take", {})
            assert status in {200, 409}, taken

            status, sent = await olga.post(
                f"/api/console/conversations/{conversation_id}/reply", {"text": "Я на связи."}
            )
            assert status == 200, (taken, sent)
            live = await page.frame()
            while live["type"] != "message" or live["message"]["author"] != "operator":
                live = await page.frame()
            assert live["message"]["text"] == "Я на связи." and live["conversation_id"] == conversation_id
            seen = live["message"]["seq"]
            await page.socket.close()

            # The page is away (network drop); the operator writes on; the reconnect brings it.
            status, _ = await olga.post(f"/api/console/conversations/{conversation_id}/reply", {"text": "Вы тут?"})
            assert status == 200
            back = await open_page(page.visitor_id)
            _, missed, _ = await back.hello(last_seq=seen, conversation_id=conversation_id)
            # (The "operator joined" notice is stored off the request path, so it may be newer still.)
            assert ("operator", "Вы тут?") in [(m["author"], m["text"]) for m in missed]
            assert ("operator", "Я на связи.") not in [(m["author"], m["text"]) for m in missed]
            assert all(m["seq"] > seen for m in missed)

            status, _ = await olga.post(
                f"/api/console/conversations/{conversation_id}/close", {"resolution": "information_given"}
            )
            assert status == 200
        finally:
            await olga.post("/api/console/status", {"status": "offline"})


async def test_open_pages_are_told_the_server_is_going_away_on_shutdown(stack: Stack, aiohttp_client: Any) -> None:
    settings = replace(
        Settings(), mongodb_uri=stack.mongodb_uri, mongodb_db=f"webchat_{uuid.uuid4().hex[:8]}", rasa_url=stack.rasa_url
    )
    client: TestClient[web.Request, web.Application] = await aiohttp_client(create_app(settings))
    socket = await client.ws_connect(WS_PATH)
    page = Page(socket, str(uuid.uuid4()))
    await page.hello()

    await client.server.close()
    closing = await socket.receive(timeout=FRAME_TIMEOUT_SECONDS)
    assert closing.type == aiohttp.WSMsgType.CLOSE
    assert closing.data == aiohttp.WSCloseCode.GOING_AWAY
    await socket.close()


async def test_a_signed_in_customer_on_a_second_device_joins_the_open_conversation_and_signs_the_first_out(
    open_page: Callable[..., Any], mint_token: Callable[..., str]
) -> None:
    # John (the English demo customer) talks on his laptop.
    laptop_token = mint_token("demo-john")
    laptop = await open_page()
    await laptop.hello(token=laptop_token, language="en")
    await laptop.say("what is my card balance")
    assert laptop.conversation_id is not None

    # His phone (another browser: another visitor id) shows the same conversation, history included.
    phone = await open_page()
    ready, history, errors = await phone.hello(token=mint_token("demo-john"), language="en")
    assert errors == [] and ready["conversation_id"] == laptop.conversation_id
    assert any(m["text"] == "what is my card balance" for m in history)

    # What he writes on the phone goes into that conversation and reaches the laptop live.
    await phone.say("thanks, and my last payments?")
    assert phone.conversation_id == laptop.conversation_id
    seen: list[str] = []
    while "thanks, and my last payments?" not in seen:
        frame = await laptop.frame()
        if frame["type"] == "message":
            seen.append(frame["message"]["text"])

    # From the phone he signs out everywhere else: the laptop is told, and the old token works nowhere else.
    await asyncio.sleep(1.1)  # token times are whole seconds: the sign-out comes after every token above
    await phone.socket.send_json({"type": "sign_out_others"})
    assert await next_of(phone, "signed_out_others")
    assert await next_of(laptop, "signed_out")
    stale = await open_page()
    ready, _, errors = await stale.hello(token=laptop_token, language="en")
    assert [e["code"] for e in errors][:1] == ["invalid_token"]
    # A fresh sign-in (a token issued after the sign-out) opens the conversation again.
    await asyncio.sleep(1.1)
    fresh = await open_page()
    ready, history, errors = await fresh.hello(token=mint_token("demo-john"), language="en")
    assert errors == [] and ready["conversation_id"] == laptop.conversation_id


async def next_of(page: Page, kind: str) -> dict[str, Any]:
    """The next frame of a kind, skipping typing signals and messages in between."""
    frame = await page.frame()
    while frame["type"] != kind:
        frame = await page.frame()
    return frame


def test_the_chat_talks_only_to_the_sites_allowed_to_frame_it() -> None:
    """/chat/config's embed_origins: the CSP frame-ancestors sources a page can name (origins, wildcards, 'self')."""
    ancestors = "'self' https://www.bank.example https://*.bank.example:8443 http://localhost:8090 https: 'none' data:"
    assert embed_origins(ancestors) == [
        "'self'",
        "https://www.bank.example",
        "https://*.bank.example:8443",
        "http://localhost:8090",
    ]
