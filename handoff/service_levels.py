"""Service levels: first-response and next-response targets per team and priority (core/teams.yml).

A conversation's clock runs while a customer waits for an operator's word: from the handoff until the first
operator reply (first response), then from each unanswered customer message until the next reply (next
response). The clock stops outside the team's hours (or the operators' general hours) and while the
conversation is snoozed. A breach is announced once (`sla.breached`, claimed by a unique key so several
gateway processes announce it once): the operator's console and the supervisor page alert on it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from core.db import Database, Document, find_each
from core.teams import GENERAL_TEAM, TeamList, configured_teams
from handoff import claims, events, triage
from handoff.bus import EventBus
from handoff.conversations import WITH_OPERATOR, Conversation
from handoff.events import Event
from handoff.hours import HoursError, WorkingHours

logger = logging.getLogger(__name__)

FIRST_RESPONSE = "first_response"
NEXT_RESPONSE = "next_response"
# How often each gateway process looks for breaches.
WATCH_EVERY_SECONDS = 10.0
_WATCH_LIMIT = 500
_SEEN_LIMIT = 10_000


@dataclass(frozen=True)
class Clock:
    """Where a conversation stands against its target right now."""

    target: str  # FIRST_RESPONSE or NEXT_RESPONSE
    since: datetime  # the customer's wait started then
    target_seconds: int
    elapsed_seconds: float  # counted time only (in hours, not snoozed)
    paused: bool  # outside hours or snoozed right now

    @property
    def left_seconds(self) -> float:
        """Negative when the target is missed."""
        return self.target_seconds - self.elapsed_seconds

    @property
    def breached(self) -> bool:
        """Whether the customer has waited longer than the target."""
        return self.elapsed_seconds > self.target_seconds

    def to_dict(self) -> dict[str, Any]:
        """Serialize for the console and the supervisor page (the page counts down from `left_seconds`)."""
        return {
            "target": self.target,
            "since": self.since.isoformat(),
            "target_seconds": self.target_seconds,
            "elapsed_seconds": round(self.elapsed_seconds, 1),
            "left_seconds": round(self.left_seconds, 1),
            "paused": self.paused,
            "breached": self.breached,
        }


def counted_seconds(start: datetime, end: datetime, hours: WorkingHours | None) -> float:
    """Seconds between start and end that fall within the working hours (all of them without hours)."""
    if end <= start:
        return 0.0
    if hours is None:
        return (end - start).total_seconds()
    zone = hours.zone
    total = 0.0
    day = start.astimezone(zone).date()
    last = end.astimezone(zone).date()
    while day <= last:
        opens = datetime.combine(day, hours.opens, tzinfo=zone)
        closes = (
            datetime.combine(day, hours.closes, tzinfo=zone)
            if hours.closes is not None
            else datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
        )
        lo, hi = max(start, opens), min(end, closes)
        if hi > lo:
            total += (hi - lo).total_seconds()
        day += timedelta(days=1)
    return total


@dataclass
class ServiceLevels:
    """Targets and hours: the configured teams and the operators' general hours."""

    teams: TeamList
    general_hours: WorkingHours | None

    @classmethod
    def configured(cls, operator_hours: str, zone: str) -> ServiceLevels:
        """From the team list (core/teams.yml or TEAMS_FILE) and OPERATOR_HOURS."""
        general = WorkingHours.parse(operator_hours, zone)
        always = general.closes is None and general.opens == time(0)
        return cls(teams=configured_teams(), general_hours=None if always else general)

    def hours_of(self, team_name: str | None) -> WorkingHours | None:
        """The team's own hours, else the general ones (None: around the clock)."""
        team = self.teams.get(team_name or GENERAL_TEAM)
        if team is not None and team.hours:
            zone = self.general_hours.zone if self.general_hours else ZoneInfo("Europe/Moscow")
            try:
                return WorkingHours.parse(team.hours, str(zone))
            except HoursError:
                logger.warning("Team %s has malformed hours %r", team.name, team.hours)
        return self.general_hours

    def target_seconds(self, team_name: str | None, priority_level: str, target: str) -> int:
        """The target in seconds for a team, a priority and FIRST_RESPONSE / NEXT_RESPONSE."""
        team = self.teams.get(team_name or GENERAL_TEAM) or self.teams.get(GENERAL_TEAM)
        assert team is not None  # noqa: S101 -- the team list always has the general team (core/teams.py)
        level = team.service_level(priority_level)
        return level.first_response if target == FIRST_RESPONSE else level.next_response

    async def clock(self, db: Database, doc: Document, now: datetime) -> Clock | None:
        """The conversation's clock, or None when nobody waits (with the bot, closed, or answered)."""
        return (await self.clocks(db, [doc], now)).get(doc["_id"])

    async def clocks(self, db: Database, docs: list[Document], now: datetime) -> dict[str, Clock]:
        """The clocks of many conversations with one query for their messages (the watcher, the lists)."""
        waiting = {
            d["_id"]: d for d in docs if d.get("state") in WITH_OPERATOR and isinstance(d.get("queued_at"), datetime)
        }
        if not waiting:
            return {}
        # Operator and customer messages only (authors and times, not texts): what the clock needs.
        lines: dict[str, list[Document]] = {cid: [] for cid in waiting}
        for line in await find_each(
            db.messages,
            "conversation_id",
            list(waiting),
            {"author": {"$in": ["operator", "customer"]}},
            {"conversation_id": 1, "author": 1, "seq": 1, "at": 1, "_id": 0},
        ):
            lines[line["conversation_id"]].append(line)
        found: dict[str, Clock] = {}
        for cid, doc in waiting.items():
            clock = self._clock(doc, sorted(lines[cid], key=lambda m: m["seq"]), now)
            if clock is not None:
                found[cid] = clock
        return found

    def _clock(self, doc: Document, lines: list[Document], now: datetime) -> Clock | None:
        conversation = Conversation.from_document(doc)
        queued_at = conversation.queued_at
        assert queued_at is not None  # noqa: S101 -- clocks() keeps only queued conversations
        answers = [m for m in lines if m["author"] == "operator" and m["at"] >= queued_at]
        if not answers:
            target, since = FIRST_RESPONSE, queued_at
        else:
            after = answers[-1]["seq"]
            unanswered = [m for m in lines if m["author"] == "customer" and m["seq"] > after]
            if not unanswered:
                return None
            target, since = NEXT_RESPONSE, unanswered[0]["at"]
        hours = self.hours_of(conversation.team)
        snooze = conversation.snooze
        end = min(now, snooze.at) if snooze is not None else now
        elapsed = counted_seconds(since, end, hours)
        for pause in doc.get("paused") or []:
            if (
                isinstance(pause, dict)
                and isinstance(pause.get("from"), datetime)
                and isinstance(pause.get("to"), datetime)
            ):
                elapsed -= counted_seconds(max(pause["from"], since), min(pause["to"], end), hours)
        paused = snooze is not None or (hours is not None and not hours.is_open(now))
        return Clock(
            target=target,
            since=since,
            target_seconds=self.target_seconds(conversation.team, triage.level(conversation.priority), target),
            elapsed_seconds=max(0.0, elapsed),
            paused=paused,
        )


async def announce_breaches(
    db: Database, bus: EventBus, levels: ServiceLevels, now: datetime, seen: set[str] | None = None
) -> int:
    """Announce every open conversation that has just missed its target, once; returns how many.

    `seen` holds what this process already announced or found claimed, so a standing breach costs no write.
    """
    announced = 0
    seen = seen if seen is not None else set()
    docs = (await find_each(db.conversations, "state", list(WITH_OPERATOR), projection={"transitions": 0}))[
        :_WATCH_LIMIT
    ]
    clocks = await levels.clocks(db, docs, now)
    for doc in docs:
        clock = clocks.get(doc["_id"])
        if clock is None or not clock.breached:
            continue
        key = f"{doc['_id']}:{clock.target}:{clock.since.isoformat()}"
        if key in seen:
            continue
        if len(seen) > _SEEN_LIMIT:
            seen.clear()
        seen.add(key)
        if not await claims.claim(db.sla_breaches, key, {"at": now}):
            continue
        conversation = Conversation.from_document(doc)
        await bus.emit(
            Event(
                events.SLA_BREACHED,
                conversation.id,
                "system",
                now,
                {
                    "target": clock.target,
                    "target_seconds": clock.target_seconds,
                    "operator_id": conversation.assignee_id,
                    "team": conversation.team,
                    "priority": triage.level(conversation.priority),
                    "channel": conversation.channel,
                    "since": clock.since.isoformat(),
                },
            )
        )
        announced += 1
    return announced


async def watch_forever(
    db: Database,
    bus: EventBus,
    levels: ServiceLevels,
    clock: Callable[[], datetime],
    every: float = WATCH_EVERY_SECONDS,
) -> None:
    """Look for breaches every few seconds for the process's lifetime (a failure is logged, not fatal)."""
    seen: set[str] = set()
    while True:
        await asyncio.sleep(every)
        try:
            await announce_breaches(db, bus, levels, clock(), seen)
        except Exception:
            logger.exception("Service-level watch failed")
