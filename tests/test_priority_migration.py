"""Conversations stored with the old two-rank priorities (0 urgent, 1 normal) read right after the change to
three levels (0 urgent, 1 high, 2 normal), on the stack's FerretDB; the gateway migrates them when it starts."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from core.app import create_app
from core.db import Database, Document
from core.keys import DB_KEY
from core.stack import Stack
from handoff.conversations import Conversation
from handoff.priority_migration import MIGRATION_ID, migrate_priorities

from .handoff_support import gateway_settings

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def stored_before(conversation_id: str, priority: int, reason: str) -> Document:
    """A conversation as the two-rank code stored it."""
    return {
        "_id": conversation_id,
        "channel": "webchat",
        "channel_user_id": f"visitor-{conversation_id}",
        "state": "closed",
        "priority": priority,
        "handoff": {"reason": reason, "at": NOW, "actor": "bot", "context": {}},
        "created_at": NOW,
        "updated_at": NOW,
    }


@pytest.fixture
async def db(stack: Stack) -> AsyncIterator[Database]:
    client: AsyncMongoClient[Document] = AsyncMongoClient(stack.mongodb_uri, tz_aware=True)
    yield client[f"priorities_{uuid.uuid4().hex[:8]}"]
    await client.close()


async def levels(db: Database) -> dict[str, str]:
    return {
        doc["_id"]: Conversation.from_document(doc).to_dict()["priority_level"]
        async for doc in db.conversations.find({})
    }


async def test_old_normal_conversations_read_as_normal_and_a_second_run_changes_nothing(db: Database) -> None:
    await db.conversations.insert_many(
        [
            stored_before("asked-for-a-person", 1, "customer_request"),
            stored_before("lost-card", 0, "block_card_unverified"),
            stored_before("complained", 1, "complaint"),  # high under today's mapping: stays high
            stored_before("raised-by-kate", 1, "customer_request"),
        ]
    )
    # Kate raised one to high under the new levels: a person's choice is kept.
    await db.events.insert_one(
        {
            "_id": uuid.uuid4().hex,
            "seq": 1,
            "name": "conversation.priority_changed",
            "conversation_id": "raised-by-kate",
            "actor": "operator:kate",
            "at": NOW,
            "data": {"priority": "high", "was": "high"},
        }
    )
    assert (await levels(db))["asked-for-a-person"] == "high", "the bug: the old normal rank reads as high"

    # Two gateways starting together both run it.
    changed = await asyncio.gather(migrate_priorities(db), migrate_priorities(db))
    assert sorted(changed) in ([0, 1], [1, 1])
    assert await levels(db) == {
        "asked-for-a-person": "normal",
        "lost-card": "urgent",
        "complained": "high",
        "raised-by-kate": "high",
    }
    assert await db.migrations.count_documents({"_id": MIGRATION_ID}) == 1

    # Done once: later starts change nothing, not even a conversation a person has since set to high.
    await db.conversations.insert_one(stored_before("new-high", 1, "customer_request"))
    assert await migrate_priorities(db) == 0
    assert (await levels(db))["new-high"] == "high"


async def test_the_gateway_migrates_the_stored_conversations_when_it_starts(stack: Stack, aiohttp_client: Any) -> None:
    settings = gateway_settings(stack, "priorities_start")
    client: AsyncMongoClient[Document] = AsyncMongoClient(stack.mongodb_uri, tz_aware=True)
    try:
        await client[settings.mongodb_db].conversations.insert_one(stored_before("from-last-week", 1, "other"))
    finally:
        await client.close()
    gateway = await aiohttp_client(create_app(settings))
    doc = await gateway.app[DB_KEY].conversations.find_one({"_id": "from-last-week"})
    assert doc is not None and Conversation.from_document(doc).to_dict()["priority_level"] == "normal"
