"""Fixtures and helpers for the handoff tests: a private FerretDB, a fresh database per test, operators."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from core.db import Database
from core.stack import Stack
from handoff import bus as bus_module
from handoff import conversations, operators, transcript
from handoff.bus import EventBus
from handoff.conversations import Conversation


class Clock:
    """A clock the test moves by hand, so waits and handle times are exact."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


@pytest.fixture(scope="session")
def ferretdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A FerretDB of our own on a free port (never the shared one)."""
    stack = Stack(data_dir=Path(tmp_path_factory.mktemp("handoff-ferretdb")))
    stack.start_ferretdb()
    yield stack.mongodb_uri
    stack.stop()


@pytest.fixture(scope="session")
async def mongo(ferretdb: str) -> AsyncIterator[AsyncMongoClient[dict[str, Any]]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(ferretdb, tz_aware=True)
    yield client
    await client.close()


@pytest.fixture
async def db(mongo: AsyncMongoClient[dict[str, Any]]) -> AsyncIterator[Database]:
    """A fresh database for one test, with the platform's indexes."""
    name = f"handoff_{uuid.uuid4().hex[:10]}"
    database = mongo[name]
    await conversations.ensure_indexes(database)
    await transcript.ensure_indexes(database)
    await operators.ensure_indexes(database)
    await bus_module.ensure_indexes(database)
    yield database
    await mongo.drop_database(name)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def bus(db: Database) -> AsyncIterator[EventBus]:
    event_bus = EventBus(db)
    yield event_bus
    await event_bus.close()


async def customer_conversation(
    db: Database, bus: EventBus, clock: Clock, user: str, *, language: str = "ru", customer_id: str | None = None
) -> Conversation:
    """A customer who wrote one message to the bot."""
    conversation = await conversations.open_conversation(db, "rest", user, clock(), bus)
    await conversations.remember_customer(db, conversation.id, language=language, customer_id=customer_id, now=clock())
    await transcript.append(db, conversation.id, author="customer", text="Здравствуйте", now=clock())
    found = await conversations.get_conversation(db, conversation.id)
    assert found is not None
    return found


async def online_operator(
    db: Database,
    bus: EventBus,
    clock: Clock,
    operator_id: str,
    *,
    languages: tuple[str, ...] = ("ru",),
    skills: tuple[str, ...] = (),
    capacity: int = 3,
) -> operators.Operator:
    await operators.save_operator(
        db, operator_id, display_name=operator_id.title(), languages=languages, skills=skills, capacity=capacity
    )
    operator = await operators.set_status(db, bus, operator_id, operators.OperatorStatus.ONLINE, now=clock())
    assert operator is not None
    return operator
