"""Bot-only conversations close by themselves after a day without messages (BOT_IDLE_CLOSE_HOURS).

Operators close what they handle; nobody closes a conversation the bot alone served, so a signed-in
customer's web chat (which follows them to their newest open conversation) would otherwise grow without
end. As in Chatwoot and Intercom, a bot conversation idle for BOT_IDLE_CLOSE_HOURS (default 24; 0 turns it
off) is closed with the resolution `bot_idle`: no rating is asked (no person served it), the transcript stays
readable, and the customer's next message starts a new conversation. Conversations with the operators
(queued, assigned, snoozed) are never closed this way.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
from collections.abc import Callable
from datetime import datetime, timedelta

from core.db import Database
from handoff import conversations
from handoff.bus import EventBus
from handoff.conversations import ConversationState

logger = logging.getLogger(__name__)

DEFAULT_IDLE_HOURS = 24.0
RESOLUTION = "bot_idle"
SWEEP_EVERY_SECONDS = 300.0
# Bounds one sweep; what is left waits for the next one.
_SWEEP_LIMIT = 1000
_MAX_HOURS = 24.0 * 365


def idle_after() -> timedelta | None:
    """BOT_IDLE_CLOSE_HOURS as a duration; None when closing idle bot conversations is off (0).

    Raises:
        ValueError: the variable is not a non-negative number (the start stops, not the first sweep).
    """
    raw = os.environ.get("BOT_IDLE_CLOSE_HOURS", "").strip()
    try:
        hours = float(raw) if raw else DEFAULT_IDLE_HOURS
    except ValueError:
        hours = -1.0
    if not math.isfinite(hours) or hours < 0 or hours > _MAX_HOURS:
        raise ValueError(f"BOT_IDLE_CLOSE_HOURS must be a number of hours from 0 to {_MAX_HOURS:g}, not {raw!r}")
    return timedelta(hours=hours) if hours > 0 else None


async def last_activity(db: Database, conversation: dict[str, object]) -> datetime | None:
    """When the customer or the bot last wrote (the conversation's creation when nobody did)."""
    last = await db.messages.find_one({"conversation_id": conversation["_id"]}, {"at": 1}, sort=[("seq", -1)])
    at = (last or {}).get("at") or conversation.get("created_at")
    return at if isinstance(at, datetime) else None


async def close_idle(db: Database, bus: EventBus, now: datetime, idle: timedelta) -> list[str]:
    """Close the bot conversations without a message since `now - idle`; their ids."""
    cutoff = now - idle
    closed: list[str] = []
    # A conversation's updated_at is never later than its last activity, so anything newer is not idle.
    candidates = db.conversations.find(
        {"state": ConversationState.BOT.value, "updated_at": {"$lt": cutoff}}, {"_id": 1, "created_at": 1}
    ).limit(_SWEEP_LIMIT)
    async for doc in candidates:
        at = await last_activity(db, doc)
        if at is None or at >= cutoff:
            continue
        done = await conversations.close_bot_idle(db, bus, doc["_id"], resolution=RESOLUTION, now=now)
        if done is not None:
            closed.append(done.id)
    return closed


async def close_idle_forever(db: Database, bus: EventBus, clock: Callable[[], datetime]) -> None:
    """Sweep every few minutes for the process's lifetime (every gateway may: each close happens once)."""
    idle = idle_after()
    if idle is None:
        return
    while True:
        await asyncio.sleep(SWEEP_EVERY_SECONDS)
        try:
            closed = await close_idle(db, bus, clock(), idle)
            if closed:
                logger.info("Closed %d idle bot conversations", len(closed))
        except Exception:
            logger.exception("Closing idle bot conversations failed")
