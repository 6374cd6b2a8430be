"""Whole handoff stories through the gateway's REST channel and the operator console API, on the real platform.

The gateway is the real app from the factory, built in-process on the `stack`'s
FerretDB (a database of its own per test) and talking to the stack's Rasa with
the trained model and the action server, so customers say what the real bot
understands and read its real replies. Escalation is by request ("позовите
оператора"), by two questions in a row the knowledge base cannot answer, and by
a bot that is down: a gateway pointed at a port where no Rasa listens.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from core.app import create_app
from core.identity import mint_customer_token
from core.keys import BUS_KEY, DB_KEY
from core.stack import Stack, free_port
from core.staff import Role, save_staff
from handoff import operators

from .handoff_support import REST, REST_HEADERS, Operator, _close_operator_sessions, bot_heard, gateway_settings

__all__ = ["_close_operator_sessions"]

ASK_FOR_OPERATOR = "позовите оператора"
# Two questions in a row the knowledge base has no article for (tests/test_conversations.py asks the same).
KB_MISS_1 = "Сколько стоит аренда сейфовой ячейки?"
KB_MISS_2 = "Можно ли обменять у вас старые монеты на купюры?"
KB_MISS_REPLY = (
    "Я пока не знаю ответа на этот вопрос. Передал его коллегам, чтобы добавить ответ. Соединить вас с оператором?"
)
# What the real bot says (bot/domain.yml).
BOT_GREETING = (
    "Здравствуйте! Я виртуальный помощник Демо-Банка. Подскажу баланс, покажу последние операции, "
    "помогу заблокировать карту или позову оператора. Чем могу помочь?"
)


@pytest.fixture
async def gateway(stack: Stack, aiohttp_client: Any) -> TestClient[web.Request, web.Application]:
    client: TestClient[web.Request, web.Application] = await aiohttp_client(
        create_app(gateway_settings(stack, "stories"))
    )
    return client


@pytest.fixture
async def gateway_without_rasa(stack: Stack, aiohttp_client: Any) -> TestClient[web.Request, web.Application]:
    """The same gateway, but its Rasa URL is a loopback port where nothing listens: a real fault, no stand-in."""
    settings = gateway_settings(stack, "stories_down", rasa_url=f"http://127.0.0.1:{free_port()}")
    client: TestClient[web.Request, web.Application] = await aiohttp_client(create_app(settings))
    return client


class Customer:
    """A customer on the REST channel, signed in on the bank's site when given a customer token."""

    def __init__(self, client: TestClient[web.Request, web.Application], sender: str, token: str | None = None) -> None:
        self.client, self.sender, self.token = client, sender, token
        self.conversation_id = ""

    async def says(self, text: str) -> dict[str, Any]:
        message: dict[str, Any] = {"sender": self.sender, "text": text}
        if self.token is not None:
            message["customer_token"] = self.token
        resp = await self.client.post(REST, json=message, headers=REST_HEADERS)
        assert resp.status == 200, await resp.text()
        body: dict[str, Any] = await resp.json()
        self.conversation_id = body["conversation_id"]
        return body


def texts(turn: dict[str, Any]) -> list[str]:
    """What the customer reads, with ordinary spaces (amounts use no-break spaces)."""
    return [r["text"].replace("\u00a0", " ").replace("\u202f", " ") for r in turn["replies"]]


async def settle(client: TestClient[web.Request, web.Application]) -> None:
    await client.app[BUS_KEY].drain()


async def test_customer_asks_for_an_operator_and_gets_the_whole_service(
    gateway: TestClient[web.Request, web.Application], stack: Stack
) -> None:
    olga, kate = Operator(gateway, "olga"), Operator(gateway, "kate")
    await olga.signs_in()
    await kate.signs_in()

    ivan = Customer(gateway, "ivan-story", mint_customer_token("demo-ivan", stack.customer_token_secret))
    await ivan.says("баланс карты")
    turn = await ivan.says(ASK_FOR_OPERATOR)
    assert turn["state"] == "queued"
    assert texts(turn) == [
        "Сейчас все операторы заняты или не в сети. Вы можете оставить сообщение или заказать обратный звонок — "
        "мы свяжемся с вами.",
    ], "nobody is online yet"

    # A colleague comes online: the queue is served automatically, Olga (least loaded) gets it. The customer
    # hears that she joined only once she accepts (opens) the conversation, not at the assignment.
    await olga.goes_online()
    await settle(gateway)
    assert await gateway.app[DB_KEY].messages.find_one({"text": {"$regex": "подключился"}}) is None
    await olga.conversation(ivan.conversation_id, "accept")
    await settle(gateway)
    queued_turn = await ivan.says("я жду")
    assert "К чату подключился оператор Ольга." in texts(queued_turn)
    assert await bot_heard(stack, ivan.conversation_id) == ["баланс карты", ASK_FOR_OPERATOR], (
        "messages during the handoff never reach the bot"
    )

    context = await olga.conversation(ivan.conversation_id)
    assert context["reason"] == "customer_request"
    assert [m["text"] for m in context["messages"] if m["author"] == "customer"] == [
        "баланс карты",
        ASK_FOR_OPERATOR,
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
    assert texts(turn)[:2] == ["Передаю ваш вопрос коллеге. Повторять ничего не нужно.", BOT_GREETING]
    assert "Мир •••• 5678: 48 250,35 ₽" in texts(turn)[-1], "the bot carries on"
    assert (await bot_heard(stack, ivan.conversation_id))[-2:] == ["/greet", "баланс ещё раз"]

    await ivan.says(ASK_FOR_OPERATOR)
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
    answers = {a["question"]: a async for a in db.survey_answers.find({"run": ivan.conversation_id})}
    assert answers["rating"]["value"] == 5 and answers["comment"]["comment"] == "Всё быстро, спасибо"
    assert answers["rating"]["key"] == "after_conversation" and answers["comment"]["customer_id"] == "demo-ivan"
    rated = ivan.conversation_id
    fresh = await ivan.says("баланс")
    assert fresh["conversation_id"] != rated, "after the rating a new question opens a new conversation"


async def test_two_questions_the_bot_cannot_answer_in_a_row_bring_an_operator(
    gateway: TestClient[web.Request, web.Application],
) -> None:
    """With the real bot an unsure NLU hands the text to the knowledge base, so its misses are the fallbacks."""
    anna = Customer(gateway, "anna-fallback")
    first = await anna.says(KB_MISS_1)
    assert first["state"] == "bot"
    assert texts(first) == [KB_MISS_REPLY]
    second = await anna.says(KB_MISS_2)
    assert second["state"] == "queued"
    doc = await gateway.app[DB_KEY].conversations.find_one({"_id": anna.conversation_id})
    assert doc is not None and doc["handoff"]["reason"] == "kb_no_answer"


async def test_an_understood_turn_resets_the_fallback_count(gateway: TestClient[web.Request, web.Application]) -> None:
    anna = Customer(gateway, "anna-reset")
    assert texts(await anna.says(KB_MISS_1)) == [KB_MISS_REPLY]
    await anna.says("какой у меня баланс?")
    turn = await anna.says(KB_MISS_2)
    assert texts(turn) == [KB_MISS_REPLY], "the second miss was still a miss"
    assert turn["state"] == "bot"


async def test_a_failing_bot_queues_the_customer_with_a_callback_offer(
    gateway_without_rasa: TestClient[web.Request, web.Application],
) -> None:
    gateway = gateway_without_rasa
    petr = Customer(gateway, "petr-failure")
    turn = await petr.says("Здравствуйте")
    assert turn["state"] == "queued"
    [notice] = turn["replies"]
    assert [b["payload"] for b in notice["buttons"]] == ["/leave_message", "/request_callback"]
    doc = await gateway.app[DB_KEY].conversations.find_one({"_id": petr.conversation_id})
    assert doc is not None and doc["handoff"]["reason"] == "bot_unavailable"
    turn = await petr.says("/request_callback")
    assert texts(turn) == ["Напишите номер телефона, по которому вам перезвонить."]
    assert texts(await petr.says("позвоните мне"))[0].startswith("Я не нашёл в сообщении номера телефона")
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
        replies.append(texts(await customer.says(ASK_FOR_OPERATOR)))
        await settle(gateway)
    assert replies[3][-1] == "Соединяю вас с оператором. Ваш номер в очереди: 1."
    assert replies[4][-1] == "Соединяю вас с оператором. Ваш номер в очереди: 2."


async def test_ten_operators_race_through_the_console_and_one_wins(stack: Stack, aiohttp_client: Any) -> None:
    settings = gateway_settings(stack, "race", handoff_auto_assign=False)
    client: TestClient[web.Request, web.Application] = await aiohttp_client(create_app(settings))
    db = client.app[DB_KEY]
    base = str(client.make_url("")).rstrip("/")
    customer = Customer(client, "contested")
    assert (await customer.says(ASK_FOR_OPERATOR))["state"] == "queued"

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
        assert (await resp.json())["error"] == "Missing or wrong CSRF token; reload the page."
    async with olga.session.post(
        olga.base + "/api/console/status", json={"status": "online"}, headers={"X-CSRF-Token": "forged"}
    ) as resp:
        assert resp.status == 403


async def test_wrong_password_and_missing_session_are_refused(
    gateway: TestClient[web.Request, web.Application],
) -> None:
    resp = await gateway.post("/api/console/sign-in", json={"login": "olga", "password": "guess"})
    assert resp.status == 401
    assert (await resp.json()) == {"error": "Wrong login or password, or no access to this page."}
    resp = await gateway.get("/api/console/queue")
    assert resp.status == 401


async def test_only_supervisors_see_the_figures(gateway: TestClient[web.Request, web.Application]) -> None:
    olga = Operator(gateway, "olga")
    await olga.signs_in()
    async with olga.session.get(olga.base + "/api/supervisor/figures") as resp:
        assert resp.status == 403


async def test_the_operator_sees_a_verified_customers_masked_profile_and_history(
    gateway: TestClient[web.Request, web.Application], stack: Stack
) -> None:
    ivan = Customer(gateway, "ivan-verified", mint_customer_token("demo-ivan", stack.customer_token_secret))
    earlier = (await ivan.says("баланс"))["conversation_id"]
    olga = Operator(gateway, "olga")
    await olga.signs_in()
    await olga.goes_online()
    await ivan.says(ASK_FOR_OPERATOR)
    await settle(gateway)
    await olga.conversation(earlier, "close", {"resolution": "resolved"})
    await settle(gateway)
    await ivan.says("5")
    await ivan.says("спасибо")
    now = (await ivan.says(ASK_FOR_OPERATOR))["conversation_id"]
    await settle(gateway)

    context = await olga.conversation(now)
    profile = context["profile"]
    assert profile["customer"]["full_name"] == "Иван Петров"
    assert profile["cards"] and all(re.fullmatch(r"\S+ •••• \d{4}", c["card"]) for c in profile["cards"])
    assert not re.search(r"\d{12,}", json.dumps(profile, ensure_ascii=False)), "no full card or account numbers"
    assert [c["id"] for c in context["earlier_conversations"]] == [earlier]
    assert context["earlier_conversations"][0]["resolution"] == "resolved"
