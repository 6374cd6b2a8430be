"""Snooze: a conversation set aside until a time or until the customer replies.

While snoozed it leaves the working views (it has a view of its own) and its service-level clock stands
still. It comes back once: at its time (every gateway process looks; a unique claim makes one of them wake
it) or at the customer's next message, whichever is first.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from core.db import Database, find_each
from handoff import claims, events, triage
from handoff.bus import EventBus
from handoff.conversations import WITH_OPERATOR
from handoff.events import Event

logger = logging.getLogger(__name__)

WAKE_EVERY_SECONDS = 5.0
_WAKE_LIMIT = 200


async def snooze(
    db: Database, bus: EventBus, conversation_id: str, *, until: datetime | None, by: str, now: datetime
) -> bool:
    """Snooze until `until` (None: until the customer replies); False when there is no such conversation."""
    stored = {"at": now, "by": by, "until": until}
    if not await triage.set_fields(db, conversation_id, {"snooze": stored}):
        return False
    await bus.emit(
        Event(
            events.CONVERSATION_SNOOZED,
            conversation_id,
            by,
            now,
            {"until": until.isoformat() if until else None, "until_reply": until is None},
        )
    )
    return True


async def wake(db: Database, bus: EventBus, conversation_id: str, *, by: str, now: datetime) -> bool:
    """End the conversation's snooze, once; the snoozed time is kept so the service-level clock skips it."""
    doc = await db.conversations.find_one({"_id": conversation_id}, {"snooze": 1, "paused": 1})
    current = triage.Snooze.from_document((doc or {}).get("snooze"))
    if doc is None or current is None:
        return False
    if not await claims.claim(db.snooze_wakes, f"{conversation_id}:{current.at.isoformat()}", {"at": now, "by": by}):
        return False
    paused = [*(doc.get("paused") or []), {"from": current.at, "to": now}]
    await triage.set_fields(db, conversation_id, {"paused": paused}, unset=("snooze",))
    await bus.emit(Event(events.CONVERSATION_WOKEN, conversation_id, by, now, {"by": by}))
    return True


async def wake_due(db: Database, bus: EventBus, now: datetime) -> int:
    """Wake every conversation whose snooze time has come; returns how many this process woke."""
    woken = 0
    # Only open conversations are snoozed; asked per state so PostgreSQL reads them through an index.
    due = await find_each(db.conversations, "state", list(WITH_OPERATOR), {"snooze.until": {"$lte": now}}, {"_id": 1})
    for doc in due[:_WAKE_LIMIT]:
        woken += await wake(db, bus, doc["_id"], by="system", now=now)
    return woken


class CustomerReplyWaker:
    """A customer's message ends the snooze of their conversation (subscribed local-only)."""

    def __init__(self, db: Database, bus: EventBus) -> None:
        self._db = db
        self._bus = bus

    async def message_created(self, event: Event) -> None:
        """Wake on the customer's own message."""
        if event.conversation_id is None or event.data.get("author") != "customer":
            return
        doc = await self._db.conversations.find_one({"_id": event.conversation_id}, {"snooze": 1})
        if doc is not None and doc.get("snooze"):
            await wake(self._db, self._bus, event.conversation_id, by="customer", now=event.at)


async def wake_forever(db: Database, bus: EventBus, clock: Callable[[], datetime]) -> None:
    """Wake due conversations every few seconds for the process's lifetime."""
    while True:
        await asyncio.sleep(WAKE_EVERY_SECONDS)
        try:
            await wake_due(db, bus, clock())
        except Exception:
            logger.exception("Snooze waker failed")
