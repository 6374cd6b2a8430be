"""Whole stories on Telegram and the phone against the real platform: FerretDB, the action server and the trained Rasa.

The gateway under test is built in-process by the app factory with the channels
configured, on the `stack`'s FerretDB and Rasa, so the Bot API can be a local
recording server and the voice gateway's requests can be signed by the test.
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from core.app import create_app
from core.keys import BUS_KEY, DB_KEY
from core.stack import Stack

from .channel_support import BOT_TOKEN, TELEGRAM_SECRET, TWIML_TOKEN, FakeBotApi, twilio_signature
from .handoff_support import Operator, _close_operator_sessions, gateway_settings
from .test_telegram_channel import TelegramUser

__all__ = ["_close_operator_sessions"]

PUBLIC = "https://bank.example"
ANNA_PHONE = "+79160000002"
ANNA_CHAT = 800_002


@pytest.fixture
async def bot_api() -> AsyncIterator[FakeBotApi]:
    api = FakeBotApi()
    yield api
    await api.close()


@pytest.fixture
async def gateway(stack: Stack, bot_api: FakeBotApi, aiohttp_client: Any) -> TestClient[web.Request, web.Application]:
    settings = gateway_settings(
        stack,
        "stories",
        telegram_bot_token=BOT_TOKEN,
        telegram_webhook_secret=TELEGRAM_SECRET,
        telegram_api_base=await bot_api.start(),
        twiml_auth_token=TWIML_TOKEN,
        twiml_public_url=PUBLIC,
    )
    client: TestClient[web.Request, web.Application] = await aiohttp_client(create_app(settings))
    return client


async def call_turn(
    gateway: TestClient[web.Request, web.Application], path: str, sid: str, caller: str, **fields: str
) -> ET.Element:
    form = {"CallSid": sid, "From": caller, "To": "+78000000000", "CallStatus": "in-progress"} | fields
    signature = twilio_signature(TWIML_TOKEN, PUBLIC + path, form)
    resp = await gateway.post(path, data=form, headers={"X-Twilio-Signature": signature})
    assert resp.status == 200, await resp.text()
    return ET.fromstring(await resp.text())  # noqa: S314 -- our own gateway's answer


def spoken(response: ET.Element) -> str:
    return " ".join((say.text or "") for say in response.iter("Say"))


async def test_anna_hears_her_balance_by_voice(gateway: TestClient[web.Request, web.Application]) -> None:
    sid = "CA" + uuid.uuid4().hex
    await call_turn(gateway, "/voice/twiml/incoming", sid, ANNA_PHONE)
    ask = await call_turn(
        gateway, "/voice/twiml/gather", sid, ANNA_PHONE, SpeechResult="какой у меня баланс", Confidence="0.9"
    )
    assert "последние четыре цифры" in spoken(ask)
    answer = await call_turn(gateway, "/voice/twiml/gather", sid, ANNA_PHONE, Digits="4821")

    text = spoken(answer)
    assert text.startswith("Спасибо, личность подтверждена.")
    assert "с окончанием сорок восемь двадцать один" in text
    assert "двадцать три тысячи семьсот восемьдесят рублей девяносто копеек" in text
    assert "₽" not in text and "•" not in text


async def test_a_caller_asks_a_question_and_hears_the_short_voice_answer(
    gateway: TestClient[web.Request, web.Application],
) -> None:
    sid = "CA" + uuid.uuid4().hex
    await call_turn(gateway, "/voice/twiml/incoming", sid, "+79990001122")
    answer = await call_turn(
        gateway,
        "/voice/twiml/gather",
        sid,
        "+79990001122",
        SpeechResult="как активировать новую карту",
        Confidence="0.9",
    )
    text = spoken(answer)
    assert "задайте ПИН-код в мобильном приложении" in text, text
    assert "«" not in text  # the written answer's quoted button names are not read out


async def test_anna_blocks_her_credit_card_with_the_keypad(gateway: TestClient[web.Request, web.Application]) -> None:
    sid = "CA" + uuid.uuid4().hex
    await call_turn(gateway, "/voice/twiml/incoming", sid, ANNA_PHONE)
    await call_turn(
        gateway, "/voice/twiml/gather", sid, ANNA_PHONE, SpeechResult="заблокируйте карту", Confidence="0.9"
    )
    menu = await call_turn(gateway, "/voice/twiml/gather", sid, ANNA_PHONE, Digits="4821")
    assert "Карта Visa с окончанием семьдесят семь пятьдесят пять — нажмите 2." in spoken(menu), spoken(menu)

    confirm = await call_turn(gateway, "/voice/twiml/gather", sid, ANNA_PHONE, Digits="2")
    assert spoken(confirm).endswith("Если да — нажмите 1, если нет — 2."), spoken(confirm)
    done = await call_turn(gateway, "/voice/twiml/gather", sid, ANNA_PHONE, Digits="1")
    assert "заблокирована" in spoken(done), spoken(done)


async def test_anna_on_telegram_is_handed_to_an_operator_and_back(
    gateway: TestClient[web.Request, web.Application], bot_api: FakeBotApi
) -> None:
    olga = Operator(gateway, "olga")
    await olga.signs_in()
    await olga.goes_online()
    anna = TelegramUser(gateway, bot_api, ANNA_CHAT)
    anna.updates.next_id = 900_000

    await anna.says("/start", expect_messages=2)
    [linked] = await anna.sends(anna.updates.contact(ANNA_CHAT, ANNA_PHONE.lstrip("+"), contact_user_id=ANNA_CHAT))
    assert linked["text"].startswith("Спасибо, номер подтверждён.")
    [balance] = await anna.says("какой у меня баланс?")
    assert "4821" in balance["text"]

    await anna.says("позовите оператора")
    await gateway.app[BUS_KEY].drain()
    doc = await gateway.app[DB_KEY].conversations.find_one({"channel": "telegram", "channel_user_id": str(ANNA_CHAT)})
    assert doc is not None and doc["state"] in {"queued", "assigned"}
    if doc["state"] == "queued":
        await olga.conversation(doc["_id"], "take")
    await olga.conversation(doc["_id"], "reply", {"text": "Анна, здравствуйте! Чем помочь?"})
    await gateway.app[BUS_KEY].drain()
    await bot_api.wait_for(lambda: "Анна, здравствуйте! Чем помочь?" in bot_api.texts(ANNA_CHAT))

    await olga.conversation(doc["_id"], "return-to-bot")
    await gateway.app[BUS_KEY].drain()
    before = len(bot_api.texts(ANNA_CHAT))
    await anna.says("привет")
    assert any(t.startswith("Здравствуйте! Я виртуальный помощник") for t in bot_api.texts(ANNA_CHAT)[before:])
