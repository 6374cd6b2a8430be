"""Conversations stored before priority levels had three ranks: their rank 1 meant "normal", it now means "high".

Until issue 21 the queue had two ranks (0 urgent, 1 normal); now it has three (0 urgent, 1 high, 2 normal), so
a stored rank 1 is ambiguous. Each such conversation is ranked again from its handoff reason with today's
mapping (PRIORITY_BY_REASON): a complaint or a bot failure stays high, the rest become normal. A conversation
a person raised to high (a `conversation.priority_changed` event says so) keeps it. The migration runs at
start-up until it has finished once (a marker in `migrations`); it is idempotent, so two gateways starting
together, or a stop half-way, do no harm.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

from pymongo.errors import DuplicateKeyError

from core.db import Database
from handoff import triage
from handoff.events import CONVERSATION_PRIORITY_CHANGED

MIGRATION_ID = "priority_three_levels"
_AMBIGUOUS_RANK = 1  # "normal" before, "high" now
_BATCH = 500


async def migrate_priorities(db: Database) -> int:
    """Re-rank the conversations stored with the old normal rank; how many were changed (0 once done)."""
    if await db.migrations.find_one({"_id": MIGRATION_ID}) is not None:
        return 0
    raised_by_hand = {
        e["conversation_id"]
        async for e in db.events.find(
            {"name": CONVERSATION_PRIORITY_CHANGED, "data.priority": triage.HIGH}, {"conversation_id": 1}
        )
    }
    normal = triage.rank(triage.NORMAL)
    to_normal: list[str] = []
    async for doc in db.conversations.find({"priority": _AMBIGUOUS_RANK}, {"handoff.reason": 1}):
        reason = str((doc.get("handoff") or {}).get("reason") or "")
        if doc["_id"] not in raised_by_hand and triage.rank(triage.level_of_reason(reason)) == normal:
            to_normal.append(doc["_id"])
    changed = 0
    for start in range(0, len(to_normal), _BATCH):
        batch = to_normal[start : start + _BATCH]
        # Conditional on the old rank: a change made meanwhile (a person's, or a concurrent run's) is kept.
        result = await db.conversations.update_many(
            {"_id": {"$in": batch}, "priority": _AMBIGUOUS_RANK}, {"$set": {"priority": normal}}
        )
        changed += result.modified_count
    with contextlib.suppress(DuplicateKeyError):  # another gateway finished it at the same time
        await db.migrations.insert_one({"_id": MIGRATION_ID, "at": datetime.now(UTC), "changed": changed})
    return changed
