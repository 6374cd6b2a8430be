"""A customer asking for a person reads one notice that says what will really happen.

Stories on the real platform (the real bot decides to hand off; its action says
"connecting you" and sends the handoff payload): nobody online, an operator
online, out of hours, and a signed-in customer booking a callback, who is not
asked for the phone number the bank already has.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from core.app import create_app
from core.identity import mint_customer_token
from core.keys import BUS_KEY, DB_KEY
from core.stack import Stack

from .handoff_support import REST, REST_HEADERS, Operator, _close_operator_sessions, gateway_settings

__all__ = ["_close_operator_sessions"]

ASK_FOR_OPERATOR = "позовите оператора"
CONNECTING = "Соединяю вас с оператором"
NOBODY = "Сейчас все операторы заняты или не в сети"
# What the bot's handoff action says; the gateway's notice replaces it.
BOT_ANNOUNCEMENT = "первый освободившийся специалист ответит"
OFFER = ["Оставить сообщение", "Заказать обратный звонок"]


@pytest.fixture
async def gateway(stack: Stack, aiohttp_client: Any) -> TestClient[web.Request, web.Application]:
    client: TestClient[web.Request, web.Application] = await aiohttp_client(
        create_app(gateway_settings(stack, "notices"))
    )
    return client


async def says(
    gateway: TestClient[web.Request, web.Application], sender: str, text: str, token: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"sender": sender, "text": text}
    if token:
        body["customer_token"] = token
    resp = await gateway.post(REST, json=body, headers=REST_HEADERS)
    assert resp.status == 200, await resp.text()
    turn: dict[str, Any] = await resp.json()
    return turn


def texts(turn: dict[str, Any]) -> list[str]:
    return [reply["text"] for reply in turn["replies"]]


def buttons(turn: dict[str, Any]) -> list[str]:
    return [button["title"] for reply in turn["replies"] for button in reply.get("buttons") or []]


async def test_nobody_online_the_customer_reads_only_the_offer(
    gateway: TestClient[web.Request, web.Application],
) -> None:
    turn = await says(gateway, "notice-nobody", ASK_FOR_OPERATOR)
    assert turn["state"] == "queued"
    assert len(texts(turn)) == 1, texts(turn)
    assert texts(turn)[0].startswith(NOBODY)
    assert CONNECTING not in texts(turn)[0] and BOT_ANNOUNCEMENT not in texts(turn)[0]
    assert buttons(turn) == OFFER


async def test_with_an_operator_online_the_customer_reads_one_connecting_notice_with_the_position(
    gateway: TestClient[web.Request, web.Application],
) -> None:
    olga = Operator(gateway, "olga")
    await olga.signs_in()
    await olga.goes_online()
    await gateway.app[BUS_KEY].drain()
    turn = await says(gateway, "notice-online", ASK_FOR_OPERATOR)
    assert texts(turn) == ["Соединяю вас с оператором. Ваш номер в очереди: 1."]
    assert buttons(turn) == []


async def test_out_of_hours_the_customer_reads_the_hours_and_the_offer_once(stack: Stack, aiohttp_client: Any) -> None:
    # A one-hour window that is certainly not now in Moscow.
    hour = datetime.now(ZoneInfo("Europe/Moscow")).hour
    window = "13:00-14:00" if hour < 12 else "01:00-02:00"
    client: TestClient[web.Request, web.Application] = await aiohttp_client(
        create_app(gateway_settings(stack, "notices_hours", operator_hours=window))
    )
    olga = Operator(client, "olga")
    await olga.signs_in()
    await olga.goes_online()
    turn = await says(client, "notice-night", ASK_FOR_OPERATOR)
    opens, closes = window.split("-")
    assert texts(turn) == [
        f"Операторы работают с {opens} до {closes} (МСК). Вы можете оставить сообщение или заказать обратный звонок."
    ]
    assert buttons(turn) == OFFER


async def test_a_signed_in_customer_books_a_callback_without_typing_the_phone(
    gateway: TestClient[web.Request, web.Application], stack: Stack
) -> None:
    token = mint_customer_token("demo-ivan", stack.customer_token_secret)
    turn = await says(gateway, "notice-ivan", ASK_FOR_OPERATOR, token)
    assert buttons(turn) == OFFER
    turn = await says(gateway, "notice-ivan", "/request_callback", token)
    assert texts(turn) == ["Спасибо! Оператор перезвонит вам на номер, указанный в банке (оканчивается на 0001)."]
    task = await gateway.app[DB_KEY].callback_tasks.find_one({"conversation_id": turn["conversation_id"]})
    assert task is not None and task["phone"] == "+79160000001" and task["kind"] == "callback"
    # The next message is an ordinary one, not a phone number the gateway waits for.
    turn = await says(gateway, "notice-ivan", "спасибо, жду", token)
    assert not any(text.startswith("Не похоже на номер телефона") for text in texts(turn))


async def test_a_guest_is_still_asked_for_the_phone(gateway: TestClient[web.Request, web.Application]) -> None:
    await says(gateway, "notice-guest", ASK_FOR_OPERATOR)
    turn = await says(gateway, "notice-guest", "/request_callback")
    assert texts(turn) == ["Напишите номер телефона, по которому вам перезвонить."]


async def test_a_guest_gives_the_number_and_the_time_in_one_message(
    gateway: TestClient[web.Request, web.Application],
) -> None:
    await says(gateway, "notice-evening", ASK_FOR_OPERATOR)
    await says(gateway, "notice-evening", "/request_callback")
    turn = await says(gateway, "notice-evening", "+7 999 123-45-67 после 18:00")
    assert texts(turn) == [
        "Спасибо! Оператор перезвонит вам по номеру +79991234567 после 18:00 (по московскому времени)."
    ] or texts(turn) == [
        "Спасибо! Оператор перезвонит вам по номеру +79991234567 завтра после 18:00 (по московскому времени)."
    ]
    task = await gateway.app[DB_KEY].callback_tasks.find_one({"conversation_id": turn["conversation_id"]})
    assert task is not None and task["phone"] == "+79991234567"
    assert task["preferred_at"].astimezone(ZoneInfo("Europe/Moscow")).strftime("%H:%M") == "18:00"
    operator = Operator(gateway, "olga")
    await operator.signs_in()
    [shown] = (await operator.get("/api/console/queue"))["callbacks"]
    assert shown["preferred_label"].endswith("после 18:00") and shown["preferred_at"] is not None


async def test_an_unclear_answer_is_asked_again_with_a_way_out_and_a_time_alone_is_kept(
    gateway: TestClient[web.Request, web.Application],
) -> None:
    await says(gateway, "notice-unclear", "call an operator please")
    await says(gateway, "notice-unclear", "/request_callback")
    turn = await says(gateway, "notice-unclear", "what is this about?")
    assert texts(turn)[0].startswith("I could not find a phone number in that")
    assert '"cancel"' in texts(turn)[0]
    # A time alone is acknowledged and kept for the number that follows.
    turn = await says(gateway, "notice-unclear", "after 6pm please")
    assert "we will call" in texts(turn)[0] and "18:00" in texts(turn)[0]
    turn = await says(gateway, "notice-unclear", "8 916 555 44 33")
    assert texts(turn)[0].startswith("Thank you! An operator will call you back on +79165554433")
    assert "18:00" in texts(turn)[0]
    # The way out: a customer who no longer wants a call is not held in the phone question.
    await says(gateway, "notice-cancel", ASK_FOR_OPERATOR)
    await says(gateway, "notice-cancel", "/request_callback")
    turn = await says(gateway, "notice-cancel", "отмена")
    assert texts(turn) == ["Хорошо, звонить не будем. Оператор ответит вам здесь, в чате."]
    turn = await says(gateway, "notice-cancel", "у меня вопрос по вкладу")
    assert not any("номер" in text for text in texts(turn))


async def test_a_signed_in_customer_adds_the_time_after_booking(
    gateway: TestClient[web.Request, web.Application], stack: Stack
) -> None:
    token = mint_customer_token("demo-john", stack.customer_token_secret)
    await says(gateway, "notice-john", "I need an operator", token)
    turn = await says(gateway, "notice-john", "/request_callback", token)
    assert texts(turn)[0].startswith("Thank you! An operator will call you back on the number the bank has")
    turn = await says(gateway, "notice-john", "after 6pm please", token)
    assert texts(turn)[0].startswith("Noted: we will call you") and "18:00" in texts(turn)[0]
    task = await gateway.app[DB_KEY].callback_tasks.find_one({"conversation_id": turn["conversation_id"]})
    assert task is not None and task["preferred_label"].endswith("after 18:00")
