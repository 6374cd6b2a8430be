"""Telegram stories: the real aiogram Bot and Dispatcher inside the real gateway, against a local Bot API server.

The gateway comes from the app factory on a private FerretDB; Rasa is a scripted
stand-in speaking its REST reply format, so each story is deterministic (the real
bot is exercised in test_channel_stories.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from connectors.telegram import SECRET_HEADER
from core.app import create_app
from core.keys import BUS_KEY, DB_KEY
from core.settings import Settings

from .channel_support import (
    BOT_TOKEN,
    TELEGRAM_SECRET,
    FakeBotApi,
    ScriptedRasa,
    Updates,
    channel_settings,
    scripted_rasa,
)
from .handoff_support import Operator, _close_operator_sessions, ferretdb

__all__ = ["_close_operator_sessions", "ferretdb", "scripted_rasa"]

WEBHOOK = "/telegram/webhook"
IVAN = 700_001  # Ivan's Telegram user id = his private chat id


@pytest.fixture
async def bot_api() -> AsyncIterator[FakeBotApi]:
    api = FakeBotApi()
    yield api
    await api.close()


def telegram_settings(mongodb_uri: str, rasa_url: str, api_base: str, **mode: Any) -> Settings:
    """A gateway of its own database with the Telegram channel on the local Bot API server."""
    return channel_settings(
        mongodb_uri,
        rasa_url,
        bot_timeout_seconds=2.0,
        telegram_bot_token=BOT_TOKEN,
        telegram_api_base=api_base,
        **mode,
    )


@pytest.fixture
async def gateway(
    ferretdb: str, bot_api: FakeBotApi, scripted_rasa: tuple[ScriptedRasa, str], aiohttp_client: Any
) -> TestClient[web.Request, web.Application]:
    settings = telegram_settings(
        ferretdb,
        scripted_rasa[1],
        await bot_api.start(),
        telegram_mode="webhook",
        telegram_webhook_url="https://bank.example/telegram/webhook",
        telegram_webhook_secret=TELEGRAM_SECRET,
    )
    client: TestClient[web.Request, web.Application] = await aiohttp_client(create_app(settings))
    return client


class TelegramUser:
    """A customer in their private chat; Telegram posts their updates to our webhook."""

    def __init__(self, gateway: TestClient[web.Request, web.Application], api: FakeBotApi, chat_id: int) -> None:
        self.gateway, self.api, self.chat_id = gateway, api, chat_id
        self.updates = Updates()

    async def post(self, update: dict[str, Any], secret: str = TELEGRAM_SECRET) -> int:
        resp = await self.gateway.post(WEBHOOK, json=update, headers={SECRET_HEADER: secret})
        return resp.status

    async def sends(self, update: dict[str, Any], expect_messages: int = 1) -> list[dict[str, Any]]:
        before = len(self.api.sent(self.chat_id))
        assert await self.post(update) == 200
        await self.api.wait_for(lambda: len(self.api.sent(self.chat_id)) >= before + expect_messages)
        return self.api.sent(self.chat_id)[before:]

    async def says(self, text: str, expect_messages: int = 1) -> list[dict[str, Any]]:
        return await self.sends(self.updates.message(self.chat_id, text), expect_messages)


async def test_the_gateway_points_telegram_at_its_webhook_with_the_secret(
    gateway: TestClient[web.Request, web.Application], bot_api: FakeBotApi
) -> None:
    [set_webhook] = [c for c in bot_api.calls if c.method == "setWebhook"]
    assert set_webhook.params["url"] == "https://bank.example/telegram/webhook"
    assert set_webhook.params["secret_token"] == TELEGRAM_SECRET
    assert set_webhook.params["allowed_updates"] == ["message", "edited_message", "channel_post", "callback_query"]


async def test_ivan_starts_the_bot_and_is_greeted_and_offered_to_share_his_number(
    gateway: TestClient[web.Request, web.Application], bot_api: FakeBotApi
) -> None:
    ivan = TelegramUser(gateway, bot_api, IVAN)
    greeting, offer = await ivan.says("/start", expect_messages=2)

    assert greeting["text"] == "Здравствуйте! Я виртуальный помощник Демо-банка."
    assert greeting["parse_mode"] == "HTML"
    assert offer["reply_markup"]["keyboard"] == [[{"text": "📱 Поделиться номером", "request_contact": True}]]
    assert "sendChatAction" in bot_api.methods(), "a typing action while the bot works"
    [typing] = [c.params for c in bot_api.calls if c.method == "sendChatAction"]
    assert typing == {"chat_id": str(IVAN), "action": "typing"}


async def test_balance_is_locked_until_ivan_shares_his_own_contact(
    gateway: TestClient[web.Request, web.Application], bot_api: FakeBotApi, scripted_rasa: tuple[ScriptedRasa, str]
) -> None:
    ivan = TelegramUser(gateway, bot_api, IVAN)
    [locked] = await ivan.says("какой у меня баланс?")
    assert locked["text"] == "Чтобы узнать баланс, войдите в интернет-банк."

    [refused] = await ivan.sends(ivan.updates.contact(IVAN, "79160000002", contact_user_id=999))
    assert refused["text"].startswith("Подтвердить можно только свой номер"), "Anna's contact forwarded by Ivan"
    [no_user] = await ivan.sends(ivan.updates.contact(IVAN, "79160000002", contact_user_id=None))
    assert no_user["text"].startswith("Подтвердить можно только свой номер"), "a contact card typed by hand"

    [linked] = await ivan.sends(ivan.updates.contact(IVAN, "79160000001", contact_user_id=IVAN))
    assert linked["text"].startswith("Спасибо, номер подтверждён.")
    assert linked["reply_markup"] == {"remove_keyboard": True}

    [balance] = await ivan.says("какой у меня баланс?")
    assert balance["text"] == "Баланс по картам:\n• Мир •••• 5678: 48\u00a0250,35\u00a0₽"
    metadata = scripted_rasa[0].received[-1]["metadata"]
    assert (metadata["customer_id"], metadata["identity_method"], metadata["channel"]) == (
        "demo-ivan",
        "telegram_contact",
        "telegram",
    )
    link = await gateway.app[DB_KEY].telegram_links.find_one({"_id": IVAN})
    assert link is not None and link["customer_id"] == "demo-ivan" and "phone" not in link


async def test_buttons_come_as_an_inline_keyboard_and_a_press_answers_the_callback(
    gateway: TestClient[web.Request, web.Application], bot_api: FakeBotApi
) -> None:
    ivan = TelegramUser(gateway, bot_api, IVAN)
    [question] = await ivan.says("заблокируйте карту")
    assert question["reply_markup"] == {
        "inline_keyboard": [
            [{"text": "Мир •••• 5678", "callback_data": '/inform{"card_last4":"5678"}'}],
            [{"text": "Mastercard •••• 9012", "callback_data": '/inform{"card_last4":"9012"}'}],
        ]
    }

    [confirm] = await ivan.sends(ivan.updates.callback(IVAN, '/inform{"card_last4":"5678"}'))
    assert confirm["text"] == "Заблокировать карту •••• 5678?"
    answered = [c.params for c in bot_api.calls if c.method == "answerCallbackQuery"]
    assert answered and answered[0]["callback_query_id"].startswith("cb-")
    removed = [c.params for c in bot_api.calls if c.method == "editMessageReplyMarkup"]
    assert removed == [{"chat_id": str(IVAN), "message_id": "1000"}], "the pressed keyboard is taken away"


async def test_text_is_escaped_for_html_and_long_answers_are_split_at_sentences(
    gateway: TestClient[web.Request, web.Application], bot_api: FakeBotApi
) -> None:
    ivan = TelegramUser(gateway, bot_api, IVAN)
    [echo] = await ivan.says("<b>привет</b> & пока")
    assert echo["text"] == "Здравствуйте! Я виртуальный помощник Демо-банка."

    parts = await ivan.says("расскажите всё о тарифах", expect_messages=3)
    assert all(len(p["text"]) <= 4096 for p in parts)
    assert all(p["text"].endswith("о тарифах банка.") for p in parts), "each part ends at a sentence"
    joined = " ".join(p["text"] for p in parts)
    assert joined == " ".join(f"Предложение номер {n} о тарифах банка." for n in range(300))


async def test_a_photo_gets_a_polite_answer_and_group_chats_are_refused(
    gateway: TestClient[web.Request, web.Application], bot_api: FakeBotApi
) -> None:
    ivan = TelegramUser(gateway, bot_api, IVAN)
    [answer] = await ivan.sends(ivan.updates.photo(IVAN, caption="чек"))
    assert answer["text"].startswith("Я понимаю только текст.")

    group = ivan.updates.message(IVAN, "/start@demo_bank_bot")
    group["message"]["chat"] = {"id": -100500, "type": "group", "title": "Семья"}
    assert await ivan.post(group) == 200
    await bot_api.wait_for(lambda: len(bot_api.sent(-100500)) == 1)
    assert bot_api.texts(-100500)[0].startswith("Я отвечаю только в личных сообщениях")

    channel_post = {
        "update_id": 1,
        "channel_post": {"message_id": 5, "chat": {"id": -100777, "type": "channel"}, "date": 1, "text": "пост"},
    }
    edited = ivan.updates.message(IVAN, "баланс")
    edited["edited_message"] = edited.pop("message") | {"edit_date": 2}
    assert await ivan.post(channel_post) == 200
    [edit_answer] = await ivan.sends(edited)
    assert edit_answer["text"].startswith("Я вижу только новые сообщения")
    assert bot_api.sent(-100777) == []


async def test_a_retried_update_is_handled_once_and_a_forged_one_never(
    gateway: TestClient[web.Request, web.Application], bot_api: FakeBotApi, scripted_rasa: tuple[ScriptedRasa, str]
) -> None:
    ivan = TelegramUser(gateway, bot_api, IVAN)
    update = ivan.updates.message(IVAN, "привет")
    await ivan.sends(update)
    assert await ivan.post(update) == 200, "Telegram retried the webhook"
    await ivan.says("баланс")
    assert [m["message"] for m in scripted_rasa[0].received] == ["привет", "баланс"]

    assert await ivan.post(ivan.updates.message(IVAN, "привет"), secret="guessed") == 401
    assert await ivan.post(ivan.updates.message(IVAN, "привет"), secret="") == 401
    resp = await gateway.post(WEBHOOK, json={"update_id": 1, "message": {"chat": 1}})
    assert resp.status == 401, "no secret header at all"
    bad = await gateway.post(WEBHOOK, data=b"not json", headers={SECRET_HEADER: TELEGRAM_SECRET})
    assert bad.status == 400


async def test_a_429_from_telegram_is_waited_out_and_the_message_still_arrives(
    gateway: TestClient[web.Request, web.Application], bot_api: FakeBotApi
) -> None:
    bot_api.flood_answers, bot_api.retry_after = 1, 1
    ivan = TelegramUser(gateway, bot_api, IVAN)
    [greeting] = await ivan.says("привет")

    assert greeting["text"] == "Здравствуйте! Я виртуальный помощник Демо-банка."
    assert bot_api.methods().count("sendMessage:429") == 1


async def test_ivan_is_handed_to_an_operator_and_back_to_the_bot(
    gateway: TestClient[web.Request, web.Application], bot_api: FakeBotApi, scripted_rasa: tuple[ScriptedRasa, str]
) -> None:
    olga = Operator(gateway, "olga")
    await olga.signs_in()
    await olga.goes_online()
    ivan = TelegramUser(gateway, bot_api, IVAN)

    # One notice from the gateway, which knows Olga is online; it replaces the bot's own "connecting".
    connecting = await ivan.says("позовите оператора")
    assert connecting[0]["text"] == "Соединяю вас с оператором. Ваш номер в очереди: 1."
    await gateway.app[BUS_KEY].drain()
    doc = await gateway.app[DB_KEY].conversations.find_one({"channel": "telegram", "channel_user_id": str(IVAN)})
    assert doc is not None and doc["state"] == "assigned"
    conversation_id = doc["_id"]
    # Ivan hears who joined once Olga accepts the assignment (opening the conversation in her console).
    await olga.conversation(conversation_id, "accept")
    await bot_api.wait_for(lambda: any("оператор Ольга" in t for t in bot_api.texts(IVAN)))
    context = await olga.conversation(conversation_id)
    assert context["conversation"]["channel"] == "telegram", "the operator sees where the customer writes from"

    # While with Olga, Ivan's photo reaches her as a labelled message, not the bot.
    before = len(scripted_rasa[0].received)
    assert await ivan.post(ivan.updates.photo(IVAN, caption="скриншот ошибки")) == 200
    await olga.conversation(conversation_id, "reply", {"text": "Вижу скриншот, <сейчас> проверю."})
    await gateway.app[BUS_KEY].drain()
    await bot_api.wait_for(lambda: "Вижу скриншот, &lt;сейчас&gt; проверю." in bot_api.texts(IVAN))
    context = await olga.conversation(conversation_id)
    assert "[фото] скриншот ошибки" in [m["text"] for m in context["messages"] if m["author"] == "customer"]
    assert len(scripted_rasa[0].received) == before

    await olga.conversation(conversation_id, "return-to-bot")
    await gateway.app[BUS_KEY].drain()
    [back] = await ivan.says("привет")
    assert back["text"] == "Здравствуйте! Я виртуальный помощник Демо-банка.", "the bot answers again"


async def test_long_polling_fetches_updates_and_answers_them_in_order(
    ferretdb: str, bot_api: FakeBotApi, scripted_rasa: tuple[ScriptedRasa, str], aiohttp_client: Any
) -> None:
    """Development mode: no webhook; the gateway polls getUpdates and confirms what it handled."""
    settings = telegram_settings(ferretdb, scripted_rasa[1], await bot_api.start(), telegram_mode="polling")
    client: TestClient[web.Request, web.Application] = await aiohttp_client(create_app(settings))
    updates = Updates()
    bot_api.queue_update(updates.message(700_001, "привет"))
    bot_api.queue_update(updates.message(700_001, "спасибо"))
    await bot_api.wait_for(lambda: len(bot_api.sent(700_001)) >= 2)

    assert "deleteWebhook" in bot_api.methods()
    polls = [c.params for c in bot_api.calls if c.method == "getUpdates"]
    assert polls and all(int(p.get("timeout") or 0) > 0 for p in polls)  # long polling, not busy polling
    await bot_api.wait_for(lambda: not bot_api.pending_updates)  # both confirmed through the next offset
    assert len(bot_api.sent(700_001)) == 2
    await client.close()


async def test_with_the_bot_api_unreachable_ivan_s_messages_and_button_presses_are_still_stored(
    gateway: TestClient[web.Request, web.Application], bot_api: FakeBotApi, scripted_rasa: tuple[ScriptedRasa, str]
) -> None:
    """The webhook answers 200 at once, so Telegram never resends: nothing may call the Bot API before storing."""
    ivan = TelegramUser(gateway, bot_api, IVAN)
    await bot_api.close()  # Telegram's side is down: every Bot API call now fails to connect

    assert await ivan.post(ivan.updates.message(IVAN, "я потерял карту")) == 200
    assert await ivan.post(ivan.updates.callback(IVAN, '/inform{"card_last4":"5678"}')) == 200

    db = gateway.app[DB_KEY]

    async def stored() -> list[str]:
        return [d["text"] async for d in db.messages.find({"author": "customer"}).sort("at", 1)]

    for _ in range(100):
        if len(await stored()) == 2:
            break
        await asyncio.sleep(0.05)
    assert await stored() == ["я потерял карту", '/inform{"card_last4":"5678"}']
    assert [m["message"] for m in scripted_rasa[0].received] == ["я потерял карту", '/inform{"card_last4":"5678"}']
