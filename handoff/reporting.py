"""Reporting: a listener that turns events into reporting rows, and the service figures computed from them.

Each row's `_id` is derived from the event that caused it, so a redelivered
event (a retry, a second process) never counts twice.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from core.db import Database, Document
from handoff import claims
from handoff.events import Event


async def ensure_indexes(db: Database) -> None:
    """Figures select rows by name and time."""
    await db.reporting_events.create_index([("name", 1), ("at", 1)])


class ReportingListener:
    """Writes one reporting row per relevant event, idempotently; subscribed local-only."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def _row(self, row_id: str, event: Event, name: str, **fields: Any) -> None:
        await claims.claim(
            self._db.reporting_events,
            row_id,
            {"name": name, "conversation_id": event.conversation_id, "at": event.at, **fields},
        )

    async def conversation_created(self, event: Event) -> None:
        """Every conversation counts once, for containment."""
        await self._row(f"created:{event.conversation_id}", event, "conversation_created")

    async def conversation_bot_handoff(self, event: Event) -> None:
        """An escalation and its reason."""
        await self._row(
            event.id, event, "escalated", reason=event.data.get("reason"), language=event.data.get("language")
        )

    async def conversation_assigned(self, event: Event) -> None:
        """Time the customer waited in the queue."""
        await self._row(
            event.id,
            event,
            "assigned",
            value=float(event.data.get("waited_seconds") or 0.0),
            operator_id=event.data.get("operator_id"),
            how=event.data.get("how"),
        )

    async def message_created(self, event: Event) -> None:
        """The first operator reply of a conversation: first response time from the handoff."""
        if event.data.get("author") != "operator" or event.conversation_id is None:
            return
        conversation = await self._db.conversations.find_one({"_id": event.conversation_id})
        queued_at = (conversation or {}).get("queued_at")
        if not isinstance(queued_at, datetime):
            return
        await self._row(
            f"first_response:{event.conversation_id}:{queued_at.isoformat()}",
            event,
            "first_response",
            value=(event.at - queued_at).total_seconds(),
            operator_id=event.data.get("operator_id"),
        )

    async def conversation_closed(self, event: Event) -> None:
        """Resolution code and handle time."""
        await self._row(
            event.id,
            event,
            "closed",
            resolution=event.data.get("resolution"),
            value=event.data.get("handle_seconds"),
            operator_id=event.data.get("operator_id"),
        )

    async def conversation_returned_to_bot(self, event: Event) -> None:
        """Operators giving conversations back to the bot."""
        await self._row(event.id, event, "returned_to_bot")

    async def rating_created(self, event: Event) -> None:
        """A customer rating, 1-5."""
        await self._row(f"rating:{event.conversation_id}", event, "rated", value=float(event.data["score"]))


@dataclass(frozen=True)
class Figures:
    """Service figures for a period."""

    period_from: str
    period_to: str
    conversations: int
    escalated: int
    containment_rate: float | None
    escalation_rate_by_reason: dict[str, float] = field(default_factory=dict)
    wait_avg_seconds: float | None = None
    wait_p90_seconds: float | None = None
    first_response_avg_seconds: float | None = None
    first_response_p90_seconds: float | None = None
    handle_avg_seconds: float | None = None
    resolutions: dict[str, int] = field(default_factory=dict)
    rating_avg: float | None = None
    ratings: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Serialize for the JSON API."""
        return asdict(self)

    def to_csv(self) -> str:
        """One `metric,value` line per figure (nested figures flattened as `metric.key`)."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["metric", "value"])
        for key, value in self.to_dict().items():
            if isinstance(value, dict):
                for sub, sub_value in sorted(value.items()):
                    writer.writerow([f"{key}.{sub}", sub_value])
            else:
                writer.writerow([key, "" if value is None else value])
        return out.getvalue()


def _avg(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 3) if values else None


def percentile(values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile (p90 of 10 values is the 9th smallest)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return round(ordered[rank - 1], 3)


async def figures(db: Database, period_from: datetime, period_to: datetime) -> Figures:
    """Compute the figures of a period from the stored reporting rows."""
    rows: dict[str, list[Document]] = {}
    cursor = db.reporting_events.find({"at": {"$gte": period_from, "$lt": period_to}})
    async for row in cursor:
        rows.setdefault(row["name"], []).append(row)
    created = {r["conversation_id"] for r in rows.get("conversation_created", [])}
    escalated_rows = rows.get("escalated", [])
    escalated = {r["conversation_id"] for r in escalated_rows}
    total = len(created)
    by_reason: dict[str, set[str]] = {}
    for row in escalated_rows:
        by_reason.setdefault(str(row.get("reason")), set()).add(row["conversation_id"])
    resolutions: dict[str, int] = {}
    for row in rows.get("closed", []):
        resolutions[str(row.get("resolution"))] = resolutions.get(str(row.get("resolution")), 0) + 1

    def values(name: str) -> list[float]:
        return [float(r["value"]) for r in rows.get(name, []) if isinstance(r.get("value"), int | float)]

    waits, first, handle, ratings = values("assigned"), values("first_response"), values("closed"), values("rated")
    return Figures(
        period_from=period_from.isoformat(),
        period_to=period_to.isoformat(),
        conversations=total,
        escalated=len(escalated),
        containment_rate=round(len(created - escalated) / total, 4) if total else None,
        escalation_rate_by_reason={
            reason: round(len(ids) / total, 4) if total else 0.0 for reason, ids in sorted(by_reason.items())
        },
        wait_avg_seconds=_avg(waits),
        wait_p90_seconds=percentile(waits, 90),
        first_response_avg_seconds=_avg(first),
        first_response_p90_seconds=percentile(first, 90),
        handle_avg_seconds=_avg(handle),
        resolutions=resolutions,
        rating_avg=_avg(ratings),
        ratings=len(ratings),
    )
