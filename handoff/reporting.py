"""Reporting: a listener that turns events into reporting rows, and the service figures computed from them.

Each row's `_id` is derived from the event that caused it, so a redelivered
event (a retry, a second process) never counts twice.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from dataclasses import asdict, astuple, dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from core.csv_cells import SafeWriter
from core.db import Database, Document
from handoff import claims, surveys
from handoff.events import Event

UTC_ZONE = ZoneInfo("UTC")


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
        """An escalation, its reason and how many requests the bot handled before it (0: at once)."""
        handled = await self._db.messages.count_documents(
            {"conversation_id": event.conversation_id, "author": "customer", "at": {"$lt": event.at}}
        )
        await self._row(
            event.id,
            event,
            "escalated",
            reason=event.data.get("reason"),
            language=event.data.get("language"),
            bot_turns=handled,
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
class OperatorFigures:
    """What one operator did in the period."""

    operator_id: str
    name: str
    assigned: int = 0
    closed: int = 0
    wait_avg_seconds: float | None = None
    first_response_avg_seconds: float | None = None
    handle_avg_seconds: float | None = None
    rating_avg: float | None = None
    ratings: int = 0


@dataclass(frozen=True)
class Bucket:
    """One hour or day of the period, for the charts."""

    start: str  # ISO time of the bucket's start, in the requested time zone
    conversations: int
    escalated: int
    containment_rate: float | None
    wait_avg_seconds: float | None


@dataclass(frozen=True)
class RatingComment:
    """A customer's comment after a rating, with the conversation it is about."""

    conversation_id: str
    score: int | None
    comment: str
    at: str
    operator_id: str | None


@dataclass(frozen=True)
class Figures:
    """Service figures for a period.

    Rates are fractions (0.25), times seconds, moments ISO 8601 in UTC: the page formats them
    for the reader (%, mm:ss, local dates), the CSV keeps them exact.
    """

    period_from: str
    period_to: str
    conversations: int
    escalated: int
    containment_rate: float | None
    # Escalated on the first message (the customer wanted a person, or the bot was down) ...
    escalated_at_once: int = 0
    # ... or after the bot had handled at least one request; the average of those requests.
    escalated_after_bot: int = 0
    bot_turns_before_escalation_avg: float | None = None
    escalation_rate_by_reason: dict[str, float] = field(default_factory=dict)
    wait_avg_seconds: float | None = None
    wait_p90_seconds: float | None = None
    first_response_avg_seconds: float | None = None
    first_response_p90_seconds: float | None = None
    handle_avg_seconds: float | None = None
    resolutions: dict[str, int] = field(default_factory=dict)
    rating_avg: float | None = None
    ratings: int = 0
    operators: list[OperatorFigures] = field(default_factory=list)
    series: list[Bucket] = field(default_factory=list)
    bucket: str = "hour"
    comments: list[RatingComment] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Serialize for the JSON API."""
        return asdict(self)

    def to_csv(self, conversation_link: Callable[[str], str] = lambda cid: cid) -> str:
        """The figures as CSV: `metric,value` lines, then per operator, per bucket and the rating comments.

        Args:
            conversation_link: turns a conversation id into the address a reader opens it at.
        """
        out = io.StringIO()
        # Comments are the customers' own words: no cell may run as a formula in the reader's spreadsheet.
        writer = SafeWriter(out)
        writer.writerow(["metric", "value"])
        tables = {"operators", "series", "comments"}
        for key, value in self.to_dict().items():
            if key in tables:
                continue
            if isinstance(value, dict):
                for sub, sub_value in sorted(value.items()):
                    writer.writerow([f"{key}.{sub}", sub_value])
            else:
                writer.writerow([key, "" if value is None else value])
        writer.writerow([])
        writer.writerow([f.name for f in fields(OperatorFigures)])
        for operator in self.operators:
            writer.writerow(["" if v is None else v for v in astuple(operator)])
        writer.writerow([])
        writer.writerow([f"{self.bucket}_start", "conversations", "escalated", "containment_rate", "wait_avg_seconds"])
        for bucket in self.series:
            writer.writerow(["" if v is None else v for v in astuple(bucket)])
        writer.writerow([])
        writer.writerow(["comment_at", "score", "operator_id", "comment", "conversation"])
        for comment in self.comments:
            writer.writerow(
                [
                    comment.at,
                    comment.score,
                    comment.operator_id or "",
                    comment.comment,
                    conversation_link(comment.conversation_id),
                ]
            )
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


def _values(rows: list[Document]) -> list[float]:
    return [float(r["value"]) for r in rows if isinstance(r.get("value"), int | float)]


def bucket_size(period_from: datetime, period_to: datetime) -> str:
    """Hours for up to two days, days beyond: a chart stays readable (at most ~50 bars of hours)."""
    return "hour" if period_to - period_from <= timedelta(days=2) else "day"


def _bucket_start(moment: datetime, bucket: str, zone: ZoneInfo) -> datetime:
    local = moment.astimezone(zone)
    local = local.replace(minute=0, second=0, microsecond=0)
    return local.replace(hour=0) if bucket == "day" else local


def _bucket_starts(period_from: datetime, period_to: datetime, bucket: str, zone: ZoneInfo) -> list[datetime]:
    """Every bucket of the period, empty ones included, so a chart's gaps show as zero."""
    step = timedelta(days=1) if bucket == "day" else timedelta(hours=1)
    starts: list[datetime] = []
    current = _bucket_start(period_from, bucket, zone)
    while current < period_to and len(starts) < _MAX_BUCKETS:
        starts.append(current)
        # Wall-clock arithmetic in the zone, normalised, so a day stays a calendar day across DST changes.
        current = (current.replace(tzinfo=None) + step).replace(tzinfo=zone)
        current = _bucket_start(current, bucket, zone)
    return starts


# A year of days or two months of hours; longer periods are cut (the API caps the period anyway).
_MAX_BUCKETS = 1500


def _series(
    rows: dict[str, list[Document]], period_from: datetime, period_to: datetime, bucket: str, zone: ZoneInfo
) -> list[Bucket]:
    created: dict[datetime, set[str]] = {}
    escalated: dict[datetime, set[str]] = {}
    waits: dict[datetime, list[float]] = {}
    for row in rows.get("conversation_created", []):
        created.setdefault(_bucket_start(row["at"], bucket, zone), set()).add(row["conversation_id"])
    for row in rows.get("escalated", []):
        escalated.setdefault(_bucket_start(row["at"], bucket, zone), set()).add(row["conversation_id"])
    for row in rows.get("assigned", []):
        if isinstance(row.get("value"), int | float):
            waits.setdefault(_bucket_start(row["at"], bucket, zone), []).append(float(row["value"]))
    series = []
    for start in _bucket_starts(period_from, period_to, bucket, zone):
        made = created.get(start, set())
        # Containment of the conversations that started in this bucket.
        contained = made - escalated.get(start, set())
        series.append(
            Bucket(
                start=start.isoformat(),
                conversations=len(made),
                escalated=len(escalated.get(start, set())),
                containment_rate=round(len(contained) / len(made), 4) if made else None,
                wait_avg_seconds=_avg(waits.get(start, [])),
            )
        )
    return series


def _per_operator(rows: dict[str, list[Document]], names: dict[str, str]) -> list[OperatorFigures]:
    by_operator: dict[str, dict[str, list[Document]]] = {}
    closed_by: dict[str, str] = {}
    for name in ("assigned", "first_response", "closed"):
        for row in rows.get(name, []):
            operator_id = row.get("operator_id")
            if isinstance(operator_id, str):
                by_operator.setdefault(operator_id, {}).setdefault(name, []).append(row)
                if name == "closed":
                    closed_by[row["conversation_id"]] = operator_id
    for row in rows.get("rated", []):
        operator_id = closed_by.get(row["conversation_id"])
        if operator_id is not None:
            by_operator.setdefault(operator_id, {}).setdefault("rated", []).append(row)
    result = []
    for operator_id, own in sorted(by_operator.items()):
        ratings = _values(own.get("rated", []))
        result.append(
            OperatorFigures(
                operator_id=operator_id,
                name=names.get(operator_id, operator_id),
                assigned=len({r["conversation_id"] for r in own.get("assigned", [])}),
                closed=len(own.get("closed", [])),
                wait_avg_seconds=_avg(_values(own.get("assigned", []))),
                first_response_avg_seconds=_avg(_values(own.get("first_response", []))),
                handle_avg_seconds=_avg(_values(own.get("closed", []))),
                rating_avg=_avg(ratings),
                ratings=len(ratings),
            )
        )
    return result


async def _comments(
    db: Database, period_from: datetime, period_to: datetime, closed_by: dict[str, str]
) -> list[RatingComment]:
    """The comments of the post-conversation survey, each with the rating given before it."""
    cursor = db.survey_answers.find(
        {
            "key": surveys.AFTER_CONVERSATION,
            "type": surveys.QuestionType.COMMENT.value,
            "at": {"$gte": period_from, "$lt": period_to},
            "comment": {"$type": "string"},
        }
    ).sort("at", -1)
    found = [doc async for doc in cursor.limit(_MAX_COMMENTS)]
    ratings = (
        {
            doc["run"]: doc.get("value")
            async for doc in db.survey_answers.find(
                {"_id": {"$in": [f"{doc['run']}:rating" for doc in found]}}, projection={"run": 1, "value": 1}
            )
        }
        if found
        else {}
    )
    return [
        RatingComment(
            conversation_id=doc["conversation_id"],
            score=ratings.get(doc["run"]),
            comment=doc["comment"],
            at=doc["at"].isoformat(),
            operator_id=closed_by.get(doc["conversation_id"]),
        )
        for doc in found
    ]


# The newest comments of a period; a supervisor reads them, a longer list is for the CSV of a shorter period.
_MAX_COMMENTS = 200


async def _operator_names(db: Database) -> dict[str, str]:
    """Display names of everyone who served customers: staff accounts (supervisors too) and operator profiles."""
    names = {doc["_id"]: doc.get("display_name") or doc["_id"] async for doc in db.staff.find({}, {"display_name": 1})}
    async for doc in db.operators.find({}, {"display_name": 1}):
        names.setdefault(doc["_id"], doc.get("display_name") or doc["_id"])
    return names


async def figures(
    db: Database, period_from: datetime, period_to: datetime, *, zone: ZoneInfo = UTC_ZONE, bucket: str | None = None
) -> Figures:
    """Compute the figures of a period from the stored reporting rows.

    Args:
        db: the database.
        period_from: start (inclusive).
        period_to: end (exclusive).
        zone: where hours and days of the series begin (the supervisor's time zone).
        bucket: "hour" or "day"; by default hours for up to two days.
    """
    rows: dict[str, list[Document]] = {}
    cursor = db.reporting_events.find({"at": {"$gte": period_from, "$lt": period_to}})
    async for row in cursor:
        rows.setdefault(row["name"], []).append(row)
    created = {r["conversation_id"] for r in rows.get("conversation_created", [])}
    escalated_rows = sorted(rows.get("escalated", []), key=lambda r: r["at"])
    escalated = {r["conversation_id"] for r in escalated_rows}
    total = len(created)
    by_reason: dict[str, set[str]] = {}
    for row in escalated_rows:
        by_reason.setdefault(str(row.get("reason")), set()).add(row["conversation_id"])
    # A conversation's first escalation tells whether the bot helped before the customer reached a person.
    first_escalation: dict[str, Document] = {}
    for row in escalated_rows:
        first_escalation.setdefault(row["conversation_id"], row)
    bot_turns = [int(r.get("bot_turns") or 0) for r in first_escalation.values()]
    after_bot = [turns for turns in bot_turns if turns > 0]
    resolutions: dict[str, int] = {}
    closed_by: dict[str, str] = {}
    for row in rows.get("closed", []):
        resolutions[str(row.get("resolution"))] = resolutions.get(str(row.get("resolution")), 0) + 1
        if isinstance(row.get("operator_id"), str):
            closed_by[row["conversation_id"]] = row["operator_id"]

    waits, first = _values(rows.get("assigned", [])), _values(rows.get("first_response", []))
    handle, ratings = _values(rows.get("closed", [])), _values(rows.get("rated", []))
    chosen = bucket if bucket in ("hour", "day") else bucket_size(period_from, period_to)
    return Figures(
        period_from=period_from.isoformat(),
        period_to=period_to.isoformat(),
        conversations=total,
        escalated=len(escalated),
        containment_rate=round(len(created - escalated) / total, 4) if total else None,
        escalated_at_once=len(bot_turns) - len(after_bot),
        escalated_after_bot=len(after_bot),
        bot_turns_before_escalation_avg=_avg([float(t) for t in after_bot]),
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
        operators=_per_operator(rows, await _operator_names(db)),
        series=_series(rows, period_from, period_to, chosen, zone),
        bucket=chosen,
        comments=await _comments(db, period_from, period_to, closed_by),
    )
