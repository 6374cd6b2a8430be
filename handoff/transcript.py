"""The transcript: every message of a conversation, in order, masked before it is stored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo.errors import BulkWriteError, DuplicateKeyError

from core.db import Database, Document, ensure_collections
from core.messages import Button, Reply
from handoff import claims


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
    # Who wrote an operator message: the customer sees the name of the person they talk to.
    operator_name: str | None = None

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
            operator_name=doc.get("operator_name"),
        )

    def to_dict(self) -> dict[str, Any]:
        """Serialize for JSON channels."""
        serialized = {
            "seq": self.seq,
            "author": self.author,
            "text": self.text,
            "buttons": [{"title": b.title, "payload": b.payload} for b in self.buttons],
            "custom": self.custom,
            "at": self.at.isoformat(),
        }
        return serialized | ({"operator_name": self.operator_name} if self.operator_name else {})


async def ensure_indexes(db: Database) -> None:
    """Create the transcript's indexes."""
    await db.messages.create_index([("conversation_id", 1), ("seq", 1)], unique=True)
    await ensure_collections(db, ["transcript_heads"])


# Storing an inbound message (router.handle, bounded by its INTAKE_WRITE_SECONDS) finishes well within this; a
# claim still pending after it belongs to an attempt that failed and could not give the claim back.
INBOUND_LEASE_SECONDS = 30.0
_DUPLICATE_KEY = 11000


def inbound_key(channel: str, channel_message_id: str) -> str:
    """The id under which a channel message is claimed and stored (`inbound_id` of its transcript entry)."""
    return f"{channel}:{channel_message_id}"


async def claim_inbound(
    db: Database,
    channel: str,
    channel_message_id: str,
    now: datetime,
    *,
    lease_seconds: float = INBOUND_LEASE_SECONDS,
) -> claims.Lease | claims.Held:
    """Claim a channel message for storing, once.

    The caller completes the lease once the message is stored, or releases it when
    storing fails, so the client's retry of the same id is stored instead of being
    taken for a duplicate. `Held(done=True)` is a retry of a stored message;
    `Held(done=False)` is one whose first attempt may still be storing it. A caller
    whose guarded work takes longer than storing (a whole bot turn) passes a longer lease.
    """
    return await claims.claim_lease(
        db.inbound_seen, inbound_key(channel, channel_message_id), {}, now=now, lease_seconds=lease_seconds
    )


async def stored_inbound(db: Database, conversation_id: str, key: str) -> bool:
    """Whether a message claimed under `key` is in the conversation (an abandoned claim whose store had landed)."""
    return await db.messages.find_one({"conversation_id": conversation_id, "inbound_id": key}, {"_id": 1}) is not None


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
    after: int | None = None,
    move_head: bool = True,
) -> StoredMessage:
    """Append one message; its sequence number is claimed by a unique insert (see handoff/claims.py).

    The insert starts from `after` + 1 when the caller knows the conversation's last number (the
    router remembers the one it wrote, handoff/turn_memory.py), else from the conversation's head
    (`transcript_heads`, one small document per conversation read by `_id`) instead of reading the
    highest stored number, which made every append read the whole conversation. When a remembered
    number was taken meanwhile, the insert fails and the next try starts from the head.
    `move_head=False` leaves moving the head to the caller, which moves it once for a whole turn.

    Callers pass the id of a conversation they just loaded or opened.
    """
    inbound_id = (extra or {}).get("inbound_id")

    def build(seq: int) -> Document:
        # A customer's message keyed by its channel id is stored under that id: a retry after an insert
        # that timed out but was applied later finds it instead of storing a second copy (AlreadyInserted).
        own_id = {"_id": f"inbound:{inbound_id}"} if inbound_id else {}
        return {
            **own_id,
            "conversation_id": conversation_id,
            "seq": seq,
            "author": author,
            "text": text,
            "buttons": [{"title": b.title, "payload": b.payload} for b in buttons],
            "custom": custom or {},
            "at": now,
            **(extra or {}),
        }

    async def from_head(taken: int) -> int:
        return max(taken + 1, await _next_seq(db, conversation_id))

    if after is None:
        doc = await claims.insert_unique(db.messages, await _next_seq(db, conversation_id), build)
    else:
        doc = await claims.insert_unique(db.messages, after + 1, build, restart=from_head)
    if move_head:
        await advance_head(db, conversation_id, int(doc["seq"]))
    return StoredMessage.from_document(doc)


async def append_replies(
    db: Database, conversation_id: str, replies: list[Reply], now: datetime, *, after: int | None
) -> list[StoredMessage]:
    """Store the replies that travel back in the response to the customer's own request, in one insert.

    Numbered from `after` + 1 (after the customer's message just stored), or from the head when
    unknown. Numbers taken meanwhile (an operator's message, a notice) fail the insert from the
    first of them on; the rest are inserted again from the head. The caller moves the head.
    """
    if not replies:
        return []
    start = after + 1 if after is not None else await _next_seq(db, conversation_id)
    stored: list[Document] = []
    remaining = list(replies)
    for _ in range(claims.MAX_SEQUENCE_ATTEMPTS):
        docs = [_reply_document(conversation_id, start + i, reply, now) for i, reply in enumerate(remaining)]
        try:
            await db.messages.insert_many(docs, ordered=True)
        except BulkWriteError as err:
            errors = err.details.get("writeErrors") or []
            if not errors or any(e.get("code") != _DUPLICATE_KEY for e in errors):
                raise
            inserted = int(err.details.get("nInserted", 0))
            stored.extend(docs[:inserted])
            remaining = remaining[inserted:]
            start = max(start + inserted + 1, await _next_seq(db, conversation_id))
            continue
        stored.extend(docs)
        return [StoredMessage.from_document(doc) for doc in stored]
    raise RuntimeError(f"No free numbers for replies in {conversation_id}; check the messages index")


def _reply_document(conversation_id: str, seq: int, reply: Reply, now: datetime) -> Document:
    return {
        "conversation_id": conversation_id,
        "seq": seq,
        "author": reply.author,
        "text": reply.text,
        "buttons": [{"title": b.title, "payload": b.payload} for b in reply.buttons],
        "custom": reply.custom or {},
        "at": now,
        "delivery": "delivered",
    }


async def _next_seq(db: Database, conversation_id: str) -> int:
    head = await db.transcript_heads.find_one({"_id": conversation_id})
    if head is not None:
        return int(head["seq"]) + 1
    # A conversation stored before heads existed: read its highest number once.
    last = await db.messages.find_one({"conversation_id": conversation_id}, sort=[("seq", -1)])
    return int(last["seq"]) + 1 if last else 1


async def advance_head(db: Database, conversation_id: str, seq: int) -> None:
    """Move the head forward; only a hint, the unique index decides.

    FerretDB applies `$max` without isolation, so two writers at once may leave the
    head a step behind; the next append then retries one number higher.
    """
    try:
        await db.transcript_heads.update_one({"_id": conversation_id}, {"$max": {"seq": seq}}, upsert=True)
    except DuplicateKeyError:
        await db.transcript_heads.update_one({"_id": conversation_id}, {"$max": {"seq": seq}})


async def pending_outbound(db: Database, conversation_id: str) -> list[int]:
    """Sequence numbers of outbound messages not yet delivered, oldest first."""
    cursor = db.messages.find({"conversation_id": conversation_id, "delivery": "pending"}, projection={"seq": 1}).sort(
        "seq", 1
    )
    return [int(doc["seq"]) async for doc in cursor]


async def claim_delivery(db: Database, conversation_id: str, seq: int) -> Document | None:
    """Claim the delivery of a pending message (one caller wins); None if it is not pending or already claimed."""
    doc = await db.messages.find_one({"conversation_id": conversation_id, "seq": seq, "delivery": "pending"})
    if doc is None:
        return None
    attempt = int(doc.get("delivery_attempt", 0))
    if not await claims.claim(db.delivery_claims, f"{conversation_id}:{seq}:{attempt}"):
        return None
    return doc


async def set_delivery(db: Database, conversation_id: str, seq: int, status: str) -> None:
    """Record the delivery status of a message: "delivered", or "pending" again after a failed push."""
    update: dict[str, Any] = {"$set": {"delivery": status}}
    if status == "pending":
        update["$inc"] = {"delivery_attempt": 1}
    await db.messages.update_one({"conversation_id": conversation_id, "seq": seq}, update)


async def all_messages(db: Database, conversation_id: str, limit: int = 2000) -> list[Document]:
    """Every stored message of a conversation with all its fields (the operator's transcript)."""
    cursor = db.messages.find({"conversation_id": conversation_id}).sort("seq", 1).limit(limit)
    return [doc async for doc in cursor]


async def messages_after(
    db: Database, conversation_id: str, after_seq: int = 0, limit: int = 500
) -> list[StoredMessage]:
    """Messages with a sequence number above `after_seq`, oldest first (for history and catch-up)."""
    cursor = (
        db.messages.find({"conversation_id": conversation_id, "seq": {"$gt": after_seq}}).sort("seq", 1).limit(limit)
    )
    return [StoredMessage.from_document(doc) async for doc in cursor]
