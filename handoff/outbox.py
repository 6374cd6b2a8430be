"""Messages to the customer outside their own turn (operator replies, queue notices), and their delivery.

The sender stores the message as pending and emits `message.created`; the
delivery listener, running in every gateway process, pushes it through the
channel's deliverer when that process holds the customer's connection. Channels
that cannot push get pending messages with the reply to their next message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime
from typing import Any

from core.db import Database
from core.messages import Button, Reply
from handoff import claims, events, transcript
from handoff.bus import EventBus
from handoff.conversations import Conversation, get_conversation
from handoff.delivery import DeliveryRegistry
from handoff.events import Event
from handoff.transcript import StoredMessage

logger = logging.getLogger(__name__)

PENDING = "pending"
DELIVERED = "delivered"
# Authors whose messages go to the customer; "note" never does.
OUTBOUND_AUTHORS = frozenset({"bot", "operator", "system"})


def message_event_data(message: StoredMessage, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """What `message.created` carries: enough for a console to show the message without a query."""
    return {**message.to_dict(), **(extra or {})}


async def send_to_customer(
    db: Database,
    bus: EventBus,
    conversation: Conversation,
    reply: Reply,
    *,
    actor: str,
    now: datetime,
    operator_id: str | None = None,
    operator_name: str | None = None,
) -> StoredMessage:
    """Store an outbound message as pending and announce it; delivery happens in the listener."""
    extra: dict[str, Any] = {"delivery": PENDING}
    if operator_id is not None:
        extra |= {"operator_id": operator_id, "operator_name": operator_name}
    message = await transcript.append(
        db,
        conversation.id,
        author=reply.author,
        text=reply.text,
        buttons=reply.buttons,
        custom=reply.custom,
        now=now,
        extra=extra,
    )
    await bus.emit(
        Event(
            events.MESSAGE_CREATED,
            conversation.id,
            actor,
            now,
            message_event_data(message, {"operator_id": operator_id, "operator_name": operator_name}),
        )
    )
    return message


class DeliveryListener:
    """Pushes outbound messages to customers whose connection lives in this process.

    Deliveries to different conversations run concurrently (one slow customer
    connection must not hold up the others); within a conversation they stay in order.
    """

    def __init__(self, db: Database, registry: DeliveryRegistry) -> None:
        self._db = db
        self._registry = registry
        self._tails: dict[str, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def message_created(self, event: Event) -> None:
        """Queue delivery of a pending outbound message behind earlier ones of the same conversation."""
        if event.conversation_id is None or event.data.get("author") not in OUTBOUND_AUTHORS:
            return
        conversation_id = event.conversation_id
        task = asyncio.create_task(self._after(self._tails.get(conversation_id), event))
        self._tails[conversation_id] = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(lambda done: self._forget(conversation_id, done))

    def _forget(self, conversation_id: str, task: asyncio.Task[None]) -> None:
        if self._tails.get(conversation_id) is task:
            del self._tails[conversation_id]

    async def _after(self, previous: asyncio.Task[None] | None, event: Event) -> None:
        if previous is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(previous)
        try:
            await self._deliver(event)
        except Exception:
            logger.exception("Delivery of message %s in %s failed", event.data.get("seq"), event.conversation_id)

    async def _deliver(self, event: Event) -> None:
        data = event.data
        assert event.conversation_id is not None  # noqa: S101 -- checked in message_created
        conversation = await get_conversation(self._db, event.conversation_id)
        if conversation is None or not self._registry.can_reach(conversation):
            return
        seq = int(data["seq"])
        # Claim first, so that with several processes (or a pull on the next turn) a message goes out once;
        # ":0" is the claim id transcript.claim_delivery uses for a first attempt.
        if not await claims.claim(self._db.delivery_claims, f"{conversation.id}:{seq}:0"):
            return
        message = StoredMessage(
            conversation_id=conversation.id,
            seq=seq,
            author=str(data["author"]),
            text=str(data.get("text", "")),
            buttons=tuple(Button(str(b["title"]), str(b["payload"])) for b in data.get("buttons") or []),
            custom=dict(data.get("custom") or {}),
            at=event.at,
            operator_name=data.get("operator_name") or None,
        )
        delivered = await self._registry.deliver(conversation, message)
        await transcript.set_delivery(self._db, conversation.id, seq, DELIVERED if delivered else PENDING)

    async def drain(self) -> None:
        """Wait for deliveries in flight (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


async def collect_pending(db: Database, conversation_id: str) -> list[Reply]:
    """Claim the outbound messages still pending for a channel that cannot push, oldest first."""
    replies: list[Reply] = []
    for seq in await transcript.pending_outbound(db, conversation_id):
        doc = await transcript.claim_delivery(db, conversation_id, seq)
        if doc is None:
            continue
        await transcript.set_delivery(db, conversation_id, seq, DELIVERED)
        message = StoredMessage.from_document(doc)
        replies.append(Reply(text=message.text, buttons=message.buttons, custom=message.custom, author=message.author))
    return replies
