"""Fixtures and helpers for the handoff tests.

A private FerretDB with a fresh database per test (for the handoff modules that
need no bot), settings of an in-process gateway on the real platform, operators
using the console's JSON API, and what the real Rasa heard.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pymongo import AsyncMongoClient

from core.db import Database
from core.settings import LOCAL_REST_API_KEY, Settings
from core.stack import Stack
from handoff import bus as bus_module
from handoff import conversations, operators, transcript
from handoff.bus import EventBus
from handoff.conversations import Conversation
from handoff.setup import DEMO_STAFF_PASSWORD

REST = "/api/channels/rest/messages"
# The local integration's API key (REST_API_KEYS default): every REST request carries it.
REST_HEADERS = {"Authorization": f"Bearer {LOCAL_REST_API_KEY}"}
# The real bot answers in 0.3-3 s on the shared 2-core machine (a knowledge-base miss takes about 2 s),
# so the production 4 s would now and then turn a story into a bot_unavailable handoff. What a slow or
# dead bot does is the subject of test_bot_faults.py; here the bot gets all the time it needs.
STORY_BOT_TIMEOUT_SECONDS = 30.0


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


def gateway_settings(stack: Stack, db_prefix: str, **changes: Any) -> Settings:
    """Settings of a gateway built in-process by the app factory on the real platform.

    It talks to the stack's Rasa (and through it the action server) and stores its
    conversations on the stack's FerretDB, in a database of its own; the action server
    reads the stack's demo bank, which the app factory seeds alike in every database.
    """
    on_the_stack = replace(
        Settings(),
        mongodb_uri=stack.mongodb_uri,
        mongodb_db=f"{db_prefix}_{uuid.uuid4().hex[:8]}",
        rasa_url=stack.rasa_url,
        rasa_token=stack.rasa_token,
        customer_token_secret=stack.customer_token_secret,
        bot_timeout_seconds=STORY_BOT_TIMEOUT_SECONDS,
    )
    return replace(on_the_stack, **changes)


async def bot_heard(stack: Stack, conversation_id: str) -> list[str]:
    """Every customer text the real Rasa received in a conversation, from its tracker."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            f"{stack.rasa_url}/conversations/{conversation_id}/tracker", params={"token": stack.rasa_token}
        ) as resp,
    ):
        assert resp.status == 200, await resp.text()
        tracker = await resp.json()
    return [event.get("text") or "" for event in tracker["events"] if event["event"] == "user"]


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
    """Close the operators' HTTP sessions after each test of a module that imports this fixture."""
    yield
    while _open_sessions:
        await _open_sessions.pop().close()
