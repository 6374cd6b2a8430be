"""Conversations: the closed set of states and the stored transitions between them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from pymongo import ReturnDocument

from core.db import Database, Document


class ConversationState(StrEnum):
    """Who is answering the customer now."""

    BOT = "bot"
    QUEUED = "queued"
    ASSIGNED = "assigned"
    CLOSED = "closed"


class HandoffReason(StrEnum):
    """Why a conversation left the bot; priorities and reports key on these."""

    CUSTOMER_REQUEST = "customer_request"
    COMPLAINT = "complaint"
    BOT_UNAVAILABLE = "bot_unavailable"
    BLOCK_CARD_UNVERIFIED = "block_card_unverified"
    OTHER = "other"

    @classmethod
    def parse(cls, value: object) -> HandoffReason:
        """Map an untrusted reason (from a bot payload) onto the closed set."""
        try:
            return cls(str(value))
        except ValueError:
            return cls.OTHER


@dataclass(frozen=True)
class Conversation:
    """A conversation as the router needs it."""

    id: str
    channel: str
    channel_user_id: str
    state: ConversationState
    language: str | None
    customer_id: str | None
    handoff_reason: str | None

    @classmethod
    def from_document(cls, doc: Document) -> Conversation:
        """Build from a stored document."""
        handoff: dict[str, Any] = doc.get("handoff") or {}
        return cls(
            id=doc["_id"],
            channel=doc["channel"],
            channel_user_id=doc["channel_user_id"],
            state=ConversationState(doc["state"]),
            language=doc.get("language"),
            customer_id=doc.get("customer_id"),
            handoff_reason=handoff.get("reason"),
        )


async def ensure_indexes(db: Database) -> None:
    """Create the indexes the routing queries rely on."""
    await db.conversations.create_index([("state", 1), ("updated_at", 1)])
    await db.conversations.create_index([("customer_id", 1), ("created_at", -1)])


async def open_conversation(db: Database, channel: str, channel_user_id: str, now: datetime) -> Conversation:
    """Return the customer's open conversation on this channel, creating it if there is none.

    The pointer document is claimed with one upsert, so concurrent first messages
    from one customer still share one conversation.
    """
    pointer_id = f"{channel}:{channel_user_id}"
    pointer = await db.channel_users.find_one_and_update(
        {"_id": pointer_id},
        {"$setOnInsert": {"conversation_id": uuid.uuid4().hex, "created_at": now}},
        upsert=True,
        return_document=ReturnDocument.AFTER,
    )
    assert pointer is not None  # noqa: S101 -- an upsert with AFTER always returns the document
    doc = await db.conversations.find_one_and_update(
        {"_id": pointer["conversation_id"]},
        {
            "$setOnInsert": {
                "channel": channel,
                "channel_user_id": channel_user_id,
                "state": ConversationState.BOT.value,
                "created_at": now,
                "updated_at": now,
                "last_seq": 0,
                "transitions": [],
            }
        },
        upsert=True,
        return_document=ReturnDocument.AFTER,
    )
    assert doc is not None  # noqa: S101
    return Conversation.from_document(doc)


async def get_conversation(db: Database, conversation_id: str) -> Conversation | None:
    """Load a conversation by id."""
    doc = await db.conversations.find_one({"_id": conversation_id})
    return Conversation.from_document(doc) if doc else None


async def remember_customer(
    db: Database, conversation_id: str, *, language: str, customer_id: str | None, now: datetime
) -> None:
    """Store the conversation's language and, once verified, who the customer is."""
    fields: dict[str, Any] = {"language": language, "updated_at": now}
    if customer_id is not None:
        fields["customer_id"] = customer_id
    await db.conversations.update_one({"_id": conversation_id}, {"$set": fields})


async def hand_off(db: Database, conversation_id: str, *, reason: HandoffReason, actor: str, now: datetime) -> bool:
    """Move a conversation from the bot to the operator queue.

    Returns:
        True if this call made the transition, False if it had already left the bot.
    """
    result = await db.conversations.update_one(
        {"_id": conversation_id, "state": ConversationState.BOT.value},
        {
            "$set": {
                "state": ConversationState.QUEUED.value,
                "handoff": {"reason": reason.value, "at": now, "actor": actor},
                "queued_at": now,
                "updated_at": now,
            },
            "$push": {
                "transitions": {
                    "from": ConversationState.BOT.value,
                    "to": ConversationState.QUEUED.value,
                    "at": now,
                    "actor": actor,
                    "reason": reason.value,
                }
            },
        },
    )
    return result.modified_count == 1
