"""The transcript: every message of a conversation, in order, masked before it is stored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from core.db import Database, Document
from core.messages import Button, Reply


@dataclass(frozen=True)
class StoredMessage:
    """A transcript entry."""

    conversation_id: str
    seq: int
    # "customer", "bot", "operator" or "system".
    author: str
    text: str
    buttons: tuple[Button, ...]
    custom: dict[str, Any]
    at: datetime

    @classmethod
    def from_document(cls, doc: Document) -> StoredMessage:
        """Build from a stored document."""
        return cls(
            conversation_id=doc["conversation_id"],
            seq=doc["seq"],
            author=doc["author"],
            text=doc["text"],
            buttons=tuple(Button(b["title"], b["payload"]) for b in doc.get("buttons", [])),
            custom=doc.get("custom") or {},
            at=doc["at"],
        )

    def to_dict(self) -> dict[str, Any]:
        """Serialize for JSON channels."""
        return {
            "seq": self.seq,
            "author": self.author,
            "text": self.text,
            "buttons": [{"title": b.title, "payload": b.payload} for b in self.buttons],
            "custom": self.custom,
            "at": self.at.isoformat(),
        }


async def ensure_indexes(db: Database) -> None:
    """Create the transcript's indexes."""
    await db.messages.create_index([("conversation_id", 1), ("seq", 1)], unique=True)


async def claim_inbound(db: Database, channel: str, channel_message_id: str, now: datetime) -> bool:
    """Record a channel message id; False when it was seen before (a retry)."""
    try:
        await db.inbound_seen.insert_one({"_id": f"{channel}:{channel_message_id}", "at": now})
    except DuplicateKeyError:
        return False
    return True


async def append(
    db: Database,
    conversation_id: str,
    *,
    author: str,
    text: str,
    now: datetime,
    buttons: tuple[Button, ...] = (),
    custom: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> StoredMessage:
    """Append one message; the sequence number comes from one atomic increment."""
    counter = await db.conversations.find_one_and_update(
        {"_id": conversation_id},
        {"$inc": {"last_seq": 1}, "$set": {"updated_at": now}},
        projection={"last_seq": 1},
        return_document=ReturnDocument.AFTER,
    )
    if counter is None:
        raise LookupError(f"conversation {conversation_id} does not exist")
    doc: Document = {
        "conversation_id": conversation_id,
        "seq": counter["last_seq"],
        "author": author,
        "text": text,
        "buttons": [{"title": b.title, "payload": b.payload} for b in buttons],
        "custom": custom or {},
        "at": now,
        **(extra or {}),
    }
    await db.messages.insert_one(doc)
    return StoredMessage.from_document(doc)


async def append_reply(db: Database, conversation_id: str, reply: Reply, now: datetime) -> StoredMessage:
    """Store an outgoing reply."""
    return await append(
        db, conversation_id, author=reply.author, text=reply.text, buttons=reply.buttons, custom=reply.custom, now=now
    )


async def messages_after(
    db: Database, conversation_id: str, after_seq: int = 0, limit: int = 500
) -> list[StoredMessage]:
    """Messages with a sequence number above `after_seq`, oldest first (for history and catch-up)."""
    cursor = (
        db.messages.find({"conversation_id": conversation_id, "seq": {"$gt": after_seq}}).sort("seq", 1).limit(limit)
    )
    return [StoredMessage.from_document(doc) async for doc in cursor]
