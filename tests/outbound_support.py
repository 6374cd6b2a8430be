"""The outbound side's own small stack: PostgreSQL (queue and attempts), FerretDB (bank, conversations), Redis.

No Rasa and no gateway: delivery stories drive the real procrastinate worker and the real
aiogram client against the local Bot API stand-in (tests/channel_support.py), which answers
exactly as api.telegram.org does; Telegram itself cannot be reached from here.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pymongo import AsyncMongoClient

from connectors import telegram_links
from core import pgcluster
from core.app import create_app
from core.banking import MongoBankingBackend
from core.db import Database, Document
from core.demo_data import seed_demo_bank
from core.stack import Stack
from handoff import conversations, transcript
from outbound import store

from .channel_support import BOT_TOKEN, TELEGRAM_SECRET, channel_settings

# Tuesday 1 December 2026, noon in Moscow: inside every window, in the past so jobs run at once.
NOON = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@dataclass
class OutboundStack:
    """Addresses of the outbound stack's services."""

    stack: Stack

    @property
    def mongodb_uri(self) -> str:
        return self.stack.mongodb_uri

    @property
    def postgres_port(self) -> int:
        return self.stack.ports["postgres"]

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.stack.ports['redis']}/0"

    def new_database_url(self) -> str:
        """A fresh PostgreSQL database, so each story's queue and attempts start empty."""
        name = f"outbound_{uuid.uuid4().hex[:10]}"
        pgcluster.create_databases(self.postgres_port, [name])
        return f"postgresql://{pgcluster.PG_ROLE}@127.0.0.1:{self.postgres_port}/{name}"


@pytest.fixture(scope="session")
def outbound_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OutboundStack]:
    stack = Stack(data_dir=Path(tmp_path_factory.mktemp("outbound")))
    try:
        stack.start_ferretdb()
        stack.start_redis()
        yield OutboundStack(stack)
    finally:
        stack.stop()


@pytest.fixture
async def pg(outbound_stack: OutboundStack) -> AsyncIterator[tuple[store.Pool, str]]:
    url = outbound_stack.new_database_url()
    pool = await store.open_pool(url)
    await store.ensure_schema(pool)
    yield pool, url
    await pool.close()


@pytest.fixture
async def bank_db(outbound_stack: OutboundStack) -> AsyncIterator[Database]:
    client: AsyncMongoClient[Document] = AsyncMongoClient(outbound_stack.mongodb_uri, tz_aware=True)
    db = client[f"outbound_{uuid.uuid4().hex[:10]}"]
    await seed_demo_bank(db)
    await conversations.ensure_indexes(db)
    await transcript.ensure_indexes(db)
    yield db
    await client.close()


def backend(db: Database) -> MongoBankingBackend:
    return MongoBankingBackend(db, clock=lambda: NOON)


async def link_telegram(db: Database, customer_id: str, chat_id: int) -> None:
    """The customer shared their own phone number in the chat (connectors/telegram.py does this)."""
    await telegram_links.link_chat(db, chat_id=chat_id, user_id=chat_id, customer_id=customer_id, now=NOON)


def ids_in(rows: list[dict[str, Any]], key: str = "chat_id") -> list[int]:
    return [int(r[key]) for r in rows]


Gateway = TestClient[web.Request, web.Application]


def telegram_webhook_settings(bot_api_url: str) -> dict[str, Any]:
    """The gateway's Telegram channel in webhook mode, on the local Bot API stand-in."""
    return {
        "telegram_bot_token": BOT_TOKEN,
        "telegram_api_base": bot_api_url,
        "telegram_mode": "webhook",
        "telegram_webhook_url": "https://bank.example/telegram/webhook",
        "telegram_webhook_secret": TELEGRAM_SECRET,
    }


MakeGateway = Callable[..., Awaitable[Gateway]]


@pytest.fixture
def outbound_gateway(
    aiohttp_client: Any,
    monkeypatch: pytest.MonkeyPatch,
    outbound_stack: OutboundStack,
    pg: tuple[store.Pool, str],
    bank_db: Database,
    scripted_rasa: tuple[Any, str],
) -> MakeGateway:
    """Builds the real app factory with outbound on: attempts in this story's PostgreSQL, the bank in `bank_db`,
    a scripted Rasa; keyword arguments are the story's own settings (channels, the phone line)."""

    async def make(**settings: Any) -> Gateway:
        monkeypatch.setenv("OUTBOUND_DATABASE_URL", pg[1])
        config = channel_settings(outbound_stack.mongodb_uri, scripted_rasa[1], mongodb_db=bank_db.name, **settings)
        client: Gateway = await aiohttp_client(create_app(config))
        return client

    return make
