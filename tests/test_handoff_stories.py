"""Whole handoff stories through the gateway's REST channel and the operator console API.

The gateway is the real app from the factory on a private FerretDB. Rasa is a
scripted stand-in HTTP server speaking Rasa's REST reply format, so these
stories can drive escalation by request, by two fallbacks and by failure
deterministically (the bot's own handoff rules are covered by the Rasa test
stories in bot/tests).
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from core.app import create_app
from core.identity import mint_customer_token
from core.keys import BUS_KEY, DB_KEY
from core.settings import Settings
from core.staff import Role, save_staff
from handoff import operators
from handoff.setup import DEMO_STAFF_PASSWORD

from .handoff_support import ferretdb

__all__ = ["ferretdb"]

REST = "/api/channels/rest/messages"


class ScriptedRasa:
    """Answers like Rasa's REST channel: a fixed reply per message text, a fallback otherwise."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.failing = False

    async def webhook(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.received.append(body)
        if self.failing:
            return web.Response(status=500)
        text, sender = body["message"], body["sender"]
        english = body["metadata"]["language"] == "en"
        if text in {"оператора", "operator please", "/request_operator"}:
            return web.json_response(
                [
                    {"recipient_id": sender, "text": "Connecting you" if english else "Соединяю с оператором."},
                    {"recipient_id": sender, "custom": {"handoff": {"reason": "customer_request"}}},
                ]
            )
        if text == "/greet":
            return web.json_response(
                [{"recipient_id": sender, "text": "Hello again!" if english else "Снова здравствуйте!"}]
            )
        if text.startswith("баланс"):
            return web.json_response([{"recipient_id": sender, "text": "Баланс: 12 345,67 ₽"}])
        return web.json_response(
            [
                {
                    "recipient_id": sender,
                    "text": "Извините, я не понял.",
                    "buttons": [{"title": "Позвать оператора", "payload": "/request_operator"}],
                },
                {"recipient_id": sender, "custom": {"fallback": True}},
            ]
        )


@pytest.fixture
async def rasa() -> AsyncIterator[tuple[ScriptedRasa, str]]:
    scripted = ScriptedRasa()
    app = web.Application()
    app.router.add_post("/webhooks/gateway/webhook", scripted.webhook)
    server = TestServer(app)
    await server.start_server()
    yield scripted, str(server.make_url("")).rstrip("/")
    await server.close()


@pytest.fixture
async def gateway(
    ferretdb: str, rasa: tuple[ScriptedRasa, str], aiohttp_client: Any
) -> TestClient[web.Request, web.Application]:
    settings = replace(
        Settings(),
        mongodb_uri=ferretdb,
        mongodb_db=f"stories_{uuid.uuid4().hex[:8]}",
        rasa_url=rasa[1],
        bot_timeout_seconds=2.0,
    )
    client: TestClient[web.Request, web.Application] = await aiohttp_client(create_app(settings))
    return client


class Customer:
    """A customer on the REST channel."""

    def __init__(self, client: TestClient[web.Request, web.Application], sender: str) -> None:
        self.client, self.sender = client, sender
        self.conversation_id = ""

    async def says(self, text: str) -> dict[str, Any]:
        resp = await self.client.post(REST, json={"sender": self.sender, "text": text})
        assert resp.status == 200, await resp.text()
        body: dict[str, Any] = await resp.json()
        self.conversation_id = body["conversation_id"]
        return body


class Operator:
    """An operator using the console's JSON API from their own browser (own cookie jar), as the page does."""

    def __init__(self, client: TestClient[web.Request, web.Application], login: str) -> None:
        self.base = str(client.make_url("")).rstrip("/")
        self.login, self.csrf = login, ""
        self.session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        _open_sessions.append(self.session)

    async def signs_in(self, password: str = DEMO_STAFF_PASSWORD) -> None:
        async with self.session.post(
            self.base + "/api/console/sign-in", json={"login": self.login, "password": password}
        ) as resp:
            assert resp.status == 200, await resp.text()
            self.csrf = (await resp.json())["csrf"]

    async def post(self, path: str, body: dict[str, Any] | None = None, expect: int = 200) -> Any:
        async with self.session.post(self.base + path, json=body or {}, headers={"X-CSRF-Token": self.csrf}) as resp:
            assert resp.status == expect, await resp.text()
            return await resp.json()

    async def get(self, path: str) -> Any:
        async with self.session.get(self.base + path) as resp:
            assert resp.status == 200, await resp.text()
            return await resp.json()

    async def goes_online(self) -> None:
        await self.post("/api/console/status", {"status": "online"})

    async def conversation(
        self, conversation_id: str, action: str = "", body: dict[str, Any] | None = None, expect: int = 200
    ) -> Any:
        path = f"/api/console/conversations/{conversation_id}" + (f"/{action}" if action else "")
        return await (self.post(path, body, expect) if action else self.get(path))


_open_sessions: list[aiohttp.ClientSession] = []


@pytest.fixture(autouse=True)
async def _close_operator_sessions() -> AsyncIterator[None]:
    yield
    while _open_sessions:
        await _open_sessions.pop().close()


def texts(turn: dict[str, Any]) -> list[str]:
    return [r["text"] for r in turn["replies"]]


async def settle(client: TestClient[web.Request, web.Application]) -> None:
    await client.app[BUS_KEY].drain()


async def test_customer_asks_for_an_operator_and_gets_the_whole_service(
    gateway: TestClient[web.Request, web.Application], rasa: tuple[ScriptedRasa, str]
) -> None:
    olga, kate = Operator(gateway, "olga"), Operator(gateway, "kate")
    await olga.signs_in()
    await kate.signs_in()

    ivan = Customer(gateway, "ivan-story")
    await ivan.says("баланс карты")
    turn = await ivan.says("оператора")
    assert turn["state"] == "queued"
    assert texts(turn) == [
        "Соединяю с оператором.",
        "Сейчас все операторы заняты или не в сети. Вы можете оставить сообщение или заказать обратный звонок — "
        "мы свяжемся с вами.",
    ], "nobody is online yet"

    # A colleague comes online: the queue is served automatically, Olga (least loaded) gets it.
    await olga.goes_online()
    await settle(gateway)
    queued_turn = await ivan.says("я жду")
    assert "К чату подключился оператор Ольга." in texts(queued_turn)
    sent_to_rasa = [m["message"] for m in rasa[0].received]
    assert "я жду" not in sent_to_rasa, "messages during the handoff never reach the bot"

    context = await olga.conversation(ivan.conversation_id)
    assert context["reason"] == "customer_request"
    assert [m["text"] for m in context["messages"] if m["author"] == "customer"] == [
        "баланс карты",
        "оператора",
        "я жду",
    ]

    await olga.conversation(ivan.conversation_id, "reply", {"text": "Здравствуйте, Иван! Чем помочь?"})
    await olga.conversation(ivan.conversation_id, "notes", {"text": "клиент нервничает"})
    await settle(gateway)
    turn = await ivan.says("карта не работает")
    assert texts(turn) == ["Здравствуйте, Иван! Чем помочь?"], "the reply arrives, the private note does not"

    await kate.goes_online()
    await olga.conversation(ivan.conversation_id, "transfer", {"to_operator_id": "kate", "note": "проверить карту"})
    await settle(gateway)
    await olga.conversation(ivan.conversation_id, "reply", {"text": "ещё я"}, expect=409)
    await kate.conversation(ivan.conversation_id, "return-to-bot")
    await settle(gateway)
    turn = await ivan.says("баланс ещё раз")
    assert texts(turn)[:2] == ["Передаю ваш вопрос коллеге. Повторять ничего не нужно.", "Снова здравствуйте!"]
    assert texts(turn)[-1] == "Баланс: 12 345,67 ₽", "the bot carries on"

    await ivan.says("оператора")
    await settle(gateway)
    context = await kate.conversation(ivan.conversation_id)
    assignee = context["conversation"]["assignee_id"]
    closer = kate if assignee == "kate" else olga
    await closer.conversation(ivan.conversation_id, "close", {"resolution": "information_given"})
    await settle(gateway)
    turn = await ivan.says("5")
    assert texts(turn)[-2:] == [
        "Оператор завершил разговор. Оцените, пожалуйста, нашу помощь от 1 до 5.",
        "Спасибо за оценку! Хотите добавить комментарий? Просто напишите его.",
    ]
    await ivan.says("Всё быстро, спасибо")
    db = gateway.app[DB_KEY]
    rating = await db.ratings.find_one({"_id": ivan.conversation_id})
    assert rating is not None and rating["score"] == 5 and rating["comment"] == "Всё быстро, спасибо"
    rated = ivan.conversation_id
    fresh = await ivan.says("баланс")
    assert fresh["conversation_id"] != rated, "after the rating a new question opens a new conversation"


async def test_two_misunderstandings_in_a_row_bring_an_operator(
    gateway: TestClient[web.Request, web.Application],
) -> None:
    anna = Customer(gateway, "anna-fallback")
    first = await anna.says("ыва ыва")
    assert first["state"] == "bot"
    second = await anna.says("фыва олдж")
    assert second["state"] == "queued"
    doc = await gateway.app[DB_KEY].conversations.find_one({"_id": anna.conversation_id})
    assert doc is not None and doc["handoff"]["reason"] == "nlu_fallback"


async def test_an_understood_turn_resets_the_fallback_count(gateway: TestClient[web.Request, web.Application]) -> None:
    anna = Customer(gateway, "anna-reset")
    await anna.says("ыва ыва")
    await anna.says("баланс")
    turn = await anna.says("фыва олдж")
    assert turn["state"] == "bot"


async def test_a_failing_bot_queues_the_customer_with_a_callback_offer(
    gateway: TestClient[web.Request, web.Application], rasa: tuple[ScriptedRasa, str]
) -> None:
    rasa[0].failing = True
    petr = Customer(gateway, "petr-failure")
    turn = await petr.says("Здравствуйте")
    assert turn["state"] == "queued"
    [notice] = turn["replies"]
    assert [b["payload"] for b in notice["buttons"]] == ["/leave_message", "/request_callback"]
    turn = await petr.says("/request_callback")
    assert texts(turn) == ["Напишите номер телефона, по которому вам перезвонить."]
    assert texts(await petr.says("позвоните мне"))[0].startswith("Не похоже на номер телефона")
    turn = await petr.says("8 (900) 123-45-67")
    assert texts(turn) == ["Спасибо! Оператор перезвонит вам по номеру +79001234567."]
    olga = Operator(gateway, "olga")
    await olga.signs_in()
    tasks = (await olga.get("/api/console/queue"))["callbacks"]
    assert [(t["kind"], t["phone"]) for t in tasks] == [("callback", "+79001234567")]


async def test_queue_position_is_told_when_operators_are_busy(
    gateway: TestClient[web.Request, web.Application],
) -> None:
    db = gateway.app[DB_KEY]
    await operators.save_operator(db, "away-op", display_name="Away", languages=("ru",))
    olga = Operator(gateway, "olga")
    await olga.signs_in()
    await olga.post("/api/console/status", {"status": "online"})
    # Olga can carry three; the fourth and fifth customers wait with their positions.
    replies = []
    for index in range(5):
        customer = Customer(gateway, f"busy-{index}")
        replies.append(texts(await customer.says("оператора")))
        await settle(gateway)
    assert replies[3][-1] == "Соединяю вас с оператором. Ваш номер в очереди: 1."
    assert replies[4][-1] == "Соединяю вас с оператором. Ваш номер в очереди: 2."


async def test_ten_operators_race_through_the_console_and_one_wins(
    ferretdb: str, rasa: tuple[ScriptedRasa, str], aiohttp_client: Any
) -> None:
    settings = replace(
        Settings(),
        mongodb_uri=ferretdb,
        mongodb_db=f"race_{uuid.uuid4().hex[:8]}",
        rasa_url=rasa[1],
        handoff_auto_assign=False,
    )
    client: TestClient[web.Request, web.Application] = await aiohttp_client(create_app(settings))
    db = client.app[DB_KEY]
    base = str(client.make_url("")).rstrip("/")
    customer = Customer(client, "contested")
    await customer.says("оператора")

    async def signed_in(login: str) -> tuple[aiohttp.ClientSession, str]:
        await save_staff(db, login, "racer-password", display_name=login, roles=(Role.OPERATOR,))
        await operators.save_operator(db, login, display_name=login, languages=("ru",))
        session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        async with session.post(
            base + "/api/console/sign-in", json={"login": login, "password": "racer-password"}
        ) as r:
            return session, (await r.json())["csrf"]

    racers = [await signed_in(f"racer{i}") for i in range(10)]

    async def take(session: aiohttp.ClientSession, csrf: str) -> tuple[int, Any]:
        url = f"{base}/api/console/conversations/{customer.conversation_id}/take"
        async with session.post(url, headers={"X-CSRF-Token": csrf}) as resp:
            return resp.status, await resp.json()

    try:
        results = await asyncio.gather(*(take(session, csrf) for session, csrf in racers))
    finally:
        for session, _ in racers:
            await session.close()
    assert sorted(status for status, _ in results) == [200] + [409] * 9
    assert {body["error"] for status, body in results if status == 409} == {"This conversation has already been taken."}


async def test_state_changing_console_calls_need_the_csrf_token(
    gateway: TestClient[web.Request, web.Application],
) -> None:
    olga = Operator(gateway, "olga")
    await olga.signs_in()
    async with olga.session.post(olga.base + "/api/console/status", json={"status": "online"}) as resp:
        assert resp.status == 403
        assert (await resp.json())["error"] == "Missing or wrong CSRF token; reload the console."
    async with olga.session.post(
        olga.base + "/api/console/status", json={"status": "online"}, headers={"X-CSRF-Token": "forged"}
    ) as resp:
        assert resp.status == 403


async def test_wrong_password_and_missing_session_are_refused(
    gateway: TestClient[web.Request, web.Application],
) -> None:
    resp = await gateway.post("/api/console/sign-in", json={"login": "olga", "password": "guess"})
    assert resp.status == 401 and (await resp.json()) == {"error": "Wrong login or password."}
    resp = await gateway.get("/api/console/queue")
    assert resp.status == 401


async def test_only_supervisors_see_the_figures(gateway: TestClient[web.Request, web.Application]) -> None:
    olga = Operator(gateway, "olga")
    await olga.signs_in()
    async with olga.session.get(olga.base + "/api/supervisor/figures") as resp:
        assert resp.status == 403


async def test_the_operator_sees_a_verified_customers_masked_profile_and_history(
    gateway: TestClient[web.Request, web.Application],
) -> None:
    token = mint_customer_token("demo-ivan", Settings().customer_token_secret)

    async def ivan_says(text: str) -> dict[str, Any]:
        resp = await gateway.post(REST, json={"sender": "ivan-verified", "text": text, "customer_token": token})
        body: dict[str, Any] = await resp.json()
        return body

    earlier = (await ivan_says("баланс"))["conversation_id"]
    olga = Operator(gateway, "olga")
    await olga.signs_in()
    await olga.goes_online()
    await ivan_says("оператора")
    await settle(gateway)
    await olga.conversation(earlier, "close", {"resolution": "resolved"})
    await settle(gateway)
    await ivan_says("5")
    await ivan_says("спасибо")
    now = (await ivan_says("оператора"))["conversation_id"]
    await settle(gateway)

    context = await olga.conversation(now)
    profile = context["profile"]
    assert profile["customer"]["full_name"] == "Иван Петров"
    assert profile["cards"] and all(re.fullmatch(r"\S+ •••• \d{4}", c["card"]) for c in profile["cards"])
    assert not re.search(r"\d{12,}", json.dumps(profile, ensure_ascii=False)), "no full card or account numbers"
    assert [c["id"] for c in context["earlier_conversations"]] == [earlier]
    assert context["earlier_conversations"][0]["resolution"] == "resolved"
