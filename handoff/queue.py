"""The operator queue: priority first, then waiting time; routed by language and team."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.db import Database
from handoff.conversations import Conversation, ConversationState
from handoff.operators import Operator

ORDER = [("priority", 1), ("queued_at", 1)]


def routing_filter(operator: Operator) -> dict[str, Any]:
    """The queued conversations an operator may serve: their languages, their skills or no team."""
    return {
        "state": ConversationState.QUEUED.value,
        "language": {"$in": [*operator.languages, None]},
        "team": {"$in": [*operator.skills, None]},
    }


async def waiting(db: Database, *, limit: int = 200) -> list[Conversation]:
    """The whole queue in service order."""
    cursor = db.conversations.find({"state": ConversationState.QUEUED.value}).sort(ORDER).limit(limit)
    return [Conversation.from_document(doc) async for doc in cursor]


async def waiting_for(db: Database, operator: Operator, *, limit: int = 200) -> list[Conversation]:
    """The queue an operator may serve (their languages, their skills or no team), in service order."""
    cursor = db.conversations.find(routing_filter(operator)).sort(ORDER).limit(limit)
    return [Conversation.from_document(doc) async for doc in cursor]


async def next_for(db: Database, operator: Operator) -> Conversation | None:
    """The conversation this operator should get next, if any."""
    found = await waiting_for(db, operator, limit=1)
    return found[0] if found else None


async def position(db: Database, conversation: Conversation) -> int:
    """The customer's place in their queue (same language and team), counting from 1."""
    if conversation.queued_at is None:
        return 1
    ahead = await db.conversations.count_documents(
        {
            "state": ConversationState.QUEUED.value,
            "language": conversation.language,
            "team": conversation.team,
            "_id": {"$ne": conversation.id},
            "$or": [
                {"priority": {"$lt": conversation.priority}},
                {"priority": conversation.priority, "queued_at": {"$lte": conversation.queued_at}},
            ],
        }
    )
    return ahead + 1


@dataclass(frozen=True)
class QueueFigure:
    """Live queue length and oldest wait for one language and team."""

    language: str | None
    team: str | None
    length: int
    oldest_wait_seconds: float

    def to_dict(self) -> dict[str, Any]:
        """Serialize for the supervisor view."""
        return {
            "language": self.language,
            "team": self.team,
            "length": self.length,
            "oldest_wait_seconds": round(self.oldest_wait_seconds, 1),
        }


async def live_figures(db: Database, now: datetime) -> list[QueueFigure]:
    """Queue length and oldest wait per language and team, right now."""
    groups: dict[tuple[str | None, str | None], list[datetime]] = {}
    cursor = db.conversations.find(
        {"state": ConversationState.QUEUED.value}, projection={"language": 1, "team": 1, "queued_at": 1}
    )
    async for doc in cursor:
        key = (doc.get("language"), doc.get("team"))
        groups.setdefault(key, []).append(doc.get("queued_at") or now)
    return [
        QueueFigure(language, team, len(times), (now - min(times)).total_seconds())
        for (language, team), times in sorted(groups.items(), key=lambda item: (str(item[0][0]), str(item[0][1])))
    ]
