"""Supervisor reports over a period, from the event log.

Per team and channel, by weekday x hour, the rating distribution and trend, how long resolution took, the
share answered within the service-level target, and the same figures for the previous period of equal
length beside them.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from core.db import Database, Document
from core.teams import GENERAL_TEAM
from handoff import events

# Resolution time (assignment to closing) bands, in minutes: the last one is open-ended.
RESOLUTION_BANDS_MINUTES = (5, 15, 30, 60)
_NAMES = (
    events.CONVERSATION_CREATED,
    events.CONVERSATION_BOT_HANDOFF,
    events.CONVERSATION_CLOSED,
    events.RATING_CREATED,
    events.SLA_BREACHED,
)
_MAX_EVENTS = 200_000


@dataclass
class Totals:
    """The headline figures of one period."""

    conversations: int = 0
    escalated: int = 0
    closed: int = 0
    handle_avg_seconds: float | None = None
    rating_avg: float | None = None
    ratings: int = 0
    within_target_share: float | None = None


@dataclass
class Report:
    """What the supervisor's reports section shows."""

    period_from: str
    period_to: str
    previous_from: str
    previous_to: str
    current: Totals
    previous: Totals
    teams: list[dict[str, Any]] = field(default_factory=list)
    channels: list[dict[str, Any]] = field(default_factory=list)
    weekday_hour: list[list[int]] = field(default_factory=list)  # [weekday 0=Monday][hour] escalations
    ratings: dict[str, int] = field(default_factory=dict)  # "1".."5" -> count
    rating_trend: list[dict[str, Any]] = field(default_factory=list)  # per day: date, average, count
    resolution_bands: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Serialize for the JSON API."""
        return asdict(self)


async def _events(db: Database, start: datetime, end: datetime) -> list[Document]:
    return (
        await db.events.find({"name": {"$in": list(_NAMES)}, "at": {"$gte": start, "$lt": end}}, {"_id": 0})
        .limit(_MAX_EVENTS)
        .to_list()
    )


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _avg(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 1) if values else None


def _band(minutes: float) -> int:
    return next((i for i, edge in enumerate(RESOLUTION_BANDS_MINUTES) if minutes < edge), len(RESOLUTION_BANDS_MINUTES))


def _totals(docs: list[Document]) -> Totals:
    by_name: dict[str, list[Document]] = defaultdict(list)
    for doc in docs:
        by_name[doc["name"]].append(doc)
    handles = [
        float(d["data"]["handle_seconds"])
        for d in by_name[events.CONVERSATION_CLOSED]
        if isinstance((d.get("data") or {}).get("handle_seconds"), int | float)
    ]
    scores = [int(d["data"]["score"]) for d in by_name[events.RATING_CREATED] if (d.get("data") or {}).get("score")]
    escalated = len(by_name[events.CONVERSATION_BOT_HANDOFF])
    first_breaches = sum(
        1 for d in by_name[events.SLA_BREACHED] if (d.get("data") or {}).get("target") == "first_response"
    )
    return Totals(
        conversations=len(by_name[events.CONVERSATION_CREATED]),
        escalated=escalated,
        closed=len(by_name[events.CONVERSATION_CLOSED]),
        handle_avg_seconds=_avg(handles),
        rating_avg=round(sum(scores) / len(scores), 2) if scores else None,
        ratings=len(scores),
        within_target_share=_share(max(0, escalated - first_breaches), escalated),
    )


async def report(db: Database, start: datetime, end: datetime, zone: ZoneInfo) -> Report:
    """The report of [start, end) and of the period of equal length before it."""
    length = end - start
    docs = await _events(db, start, end)
    previous = await _events(db, start - length, start)
    report = Report(
        period_from=start.isoformat(),
        period_to=end.isoformat(),
        previous_from=(start - length).isoformat(),
        previous_to=start.isoformat(),
        current=_totals(docs),
        previous=_totals(previous),
    )
    # Which conversation belongs to which team and channel (from its handoff and creation events).
    team_of: dict[str, str] = {}
    channel_of: dict[str, str] = {}
    for doc in docs:
        data, cid = doc.get("data") or {}, doc.get("conversation_id") or ""
        if doc["name"] == events.CONVERSATION_CREATED:
            channel_of[cid] = str(data.get("channel") or "unknown")
        elif doc["name"] == events.CONVERSATION_BOT_HANDOFF:
            team_of[cid] = str(data.get("team") or GENERAL_TEAM)
            channel_of.setdefault(cid, str(data.get("channel") or "unknown"))
    teams: dict[str, Counter[str]] = defaultdict(Counter)
    channels: dict[str, Counter[str]] = defaultdict(Counter)
    heat = [[0] * 24 for _ in range(7)]
    ratings: Counter[str] = Counter()
    trend: dict[str, list[int]] = defaultdict(list)
    bands: Counter[int] = Counter()
    for doc in docs:
        data, cid, name = doc.get("data") or {}, doc.get("conversation_id") or "", doc["name"]
        team, channel = team_of.get(cid), channel_of.get(cid, "unknown")
        if name == events.CONVERSATION_CREATED:
            channels[channel]["conversations"] += 1
        elif name == events.CONVERSATION_BOT_HANDOFF:
            teams[team or GENERAL_TEAM]["escalated"] += 1
            channels[channel]["escalated"] += 1
            local = doc["at"].astimezone(zone)
            heat[local.weekday()][local.hour] += 1
        elif name == events.CONVERSATION_CLOSED:
            if team:
                teams[team]["closed"] += 1
            channels[channel]["closed"] += 1
            handle = data.get("handle_seconds")
            if isinstance(handle, int | float):
                minutes = handle / 60
                bands[_band(minutes)] += 1
        elif name == events.RATING_CREATED and data.get("score"):
            ratings[str(int(data["score"]))] += 1
            trend[doc["at"].astimezone(zone).date().isoformat()].append(int(data["score"]))
            if team:
                teams[team]["rating_sum"] += int(data["score"])
                teams[team]["ratings"] += 1
        elif name == events.SLA_BREACHED:
            teams[str(data.get("team") or GENERAL_TEAM)]["breached"] += 1
    report.teams = [
        {
            "team": name,
            "escalated": c["escalated"],
            "closed": c["closed"],
            "breached": c["breached"],
            "within_target_share": _share(max(0, c["escalated"] - c["breached"]), c["escalated"]),
            "rating_avg": round(c["rating_sum"] / c["ratings"], 2) if c["ratings"] else None,
        }
        for name, c in sorted(teams.items())
    ]
    report.channels = [
        {"channel": name, "conversations": c["conversations"], "escalated": c["escalated"], "closed": c["closed"]}
        for name, c in sorted(channels.items())
    ]
    report.weekday_hour = heat
    report.ratings = {str(score): ratings.get(str(score), 0) for score in range(1, 6)}
    report.rating_trend = [
        {"date": day, "average": round(sum(scores) / len(scores), 2), "count": len(scores)}
        for day, scores in sorted(trend.items())
    ]
    edges = (0, *RESOLUTION_BANDS_MINUTES)
    report.resolution_bands = [
        {
            "from_minutes": edges[i],
            "to_minutes": RESOLUTION_BANDS_MINUTES[i] if i < len(RESOLUTION_BANDS_MINUTES) else None,
            "count": bands.get(i, 0),
        }
        for i in range(len(edges))
    ]
    return report
