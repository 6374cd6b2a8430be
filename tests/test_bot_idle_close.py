"""Bot-only conversations close by themselves after a day without messages, on the real platform.

A signed-in customer's web chat follows them to their newest open conversation; without this a bot
conversation would stay open for ever and the chat would grow without end. The gateway is the real app
on the stack's FerretDB and Rasa; the sweep runs with the clock moved a day on, as the background task
does every few minutes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from core.app import create_app
from core.keys import BUS_KEY, DB_KEY
from core.stack import Stack
from handoff import bot_idle

from .handoff_support import gateway_settings
from .rest_support import Customer

Gateway = TestClient[web.Request, web.Application]


@pytest.fixture
async def gateway(stack: Stack, aiohttp_client: Any) -> Gateway:
    client: Gateway = await aiohttp_client(create_app(gateway_settings(stack, "bot_idle")))
    return client


async def test_a_day_old_bot_conversation_closes_quietly_and_the_next_message_starts_a_new_one(
    gateway: Gateway, http: aiohttp.ClientSession, mint_token: Any
) -> None:
    url = str(gateway.make_url("")).rstrip("/")
    db, bus = gateway.app[DB_KEY], gateway.app[BUS_KEY]
    ivan = Customer(http, url, mint_token("demo-ivan"), prefix="idle-ivan")
    await ivan.says("какой у меня баланс?")
    yesterday = ivan.conversation_id
    # Someone who asked for a person waits for the operators: that is never closed as idle.
    waiting = Customer(http, url, prefix="idle-waiting")
    await waiting.says("позовите оператора")
    await bus.drain()
    before = await db.messages.count_documents({"conversation_id": yesterday})

    # Within the day nothing closes.
    assert await bot_idle.close_idle(db, bus, datetime.now(UTC), timedelta(hours=24)) == []
    # A day and a bit later the bot conversation closes, the waiting one does not.
    later = datetime.now(UTC) + timedelta(hours=25)
    assert await bot_idle.close_idle(db, bus, later, timedelta(hours=24)) == [yesterday]
    await bus.drain()
    doc = await db.conversations.find_one({"_id": yesterday})
    assert doc is not None and doc["state"] == "closed" and doc["resolution"] == "bot_idle"
    assert (await db.conversations.find_one({"_id": waiting.conversation_id}) or {})["state"] != "closed"
    # Quietly: no rating is asked of a customer no person served.
    assert await db.messages.count_documents({"conversation_id": yesterday}) == before
    closed = await db.events.find_one({"conversation_id": yesterday, "name": "conversation.closed"})
    assert closed is not None and closed["actor"] == "system" and closed["data"]["resolution"] == "bot_idle"
    # A second sweep finds nothing more to do.
    assert await bot_idle.close_idle(db, bus, later, timedelta(hours=24)) == []

    # Ivan comes back: his message starts a new conversation, and the bot answers it.
    replies = await ivan.says("а последние операции?")
    assert ivan.conversation_id != yesterday
    assert replies, "the bot answers in the new conversation"


def test_the_idle_time_is_configurable_and_zero_turns_it_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BOT_IDLE_CLOSE_HOURS", raising=False)
    assert bot_idle.idle_after() == timedelta(hours=24)
    monkeypatch.setenv("BOT_IDLE_CLOSE_HOURS", "6")
    assert bot_idle.idle_after() == timedelta(hours=6)
    monkeypatch.setenv("BOT_IDLE_CLOSE_HOURS", "0")
    assert bot_idle.idle_after() is None
    for bad in ("-1", "a day", "nan"):
        monkeypatch.setenv("BOT_IDLE_CLOSE_HOURS", bad)
        with pytest.raises(ValueError, match="BOT_IDLE_CLOSE_HOURS"):
            bot_idle.idle_after()
