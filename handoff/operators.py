"""Operators: who is online, which languages and skills they have, and how many chats they can carry."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pymongo import ReturnDocument

from core.db import Database, Document, insert_if_missing
from core.teams import TeamsError, configured_teams
from handoff import claims, events
from handoff.bus import EventBus
from handoff.events import Event

# Chats one operator carries at once unless configured otherwise.
DEFAULT_CAPACITY = 3


class OperatorStatus(StrEnum):
    """What the operator set in the console; only online operators get automatic assignments."""

    ONLINE = "online"
    AWAY = "away"
    OFFLINE = "offline"


@dataclass(frozen=True)
class Operator:
    """An operator's routing profile and load."""

    id: str
    display_name: str
    languages: tuple[str, ...] = ("ru",)
    skills: tuple[str, ...] = ()
    capacity: int = DEFAULT_CAPACITY
    status: OperatorStatus = OperatorStatus.OFFLINE
    # Conversations assigned now (counted from the capacity units they hold).
    active: int = 0

    @classmethod
    def from_document(cls, doc: Document) -> Operator:
        """Build from a stored document."""
        return cls(
            id=doc["_id"],
            display_name=doc["display_name"],
            languages=tuple(doc.get("languages") or ("ru",)),
            skills=tuple(doc.get("skills") or ()),
            capacity=int(doc.get("capacity", DEFAULT_CAPACITY)),
            status=OperatorStatus(doc.get("status", OperatorStatus.OFFLINE.value)),
        )

    def to_dict(self) -> dict[str, Any]:
        """Serialize for the console and the supervisor view."""
        return {
            "id": self.id,
            "display_name": self.display_name,
            "languages": list(self.languages),
            "skills": list(self.skills),
            "capacity": self.capacity,
            "status": self.status.value,
            "active": self.active,
        }

    def can_serve(self, language: str | None, team: str | None) -> bool:
        """Whether routing allows this operator to take a conversation in that language and team."""
        return (language is None or language in self.languages) and (team is None or team in self.skills)


async def ensure_indexes(db: Database) -> None:
    """Create the indexes the least-loaded search uses."""
    await db.operators.create_index([("status", 1)])
    await db.operator_slots.create_index([("operator_id", 1), ("holder", 1)])


async def save_operator(
    db: Database,
    operator_id: str,
    *,
    display_name: str,
    languages: tuple[str, ...],
    skills: tuple[str, ...] = (),
    capacity: int = DEFAULT_CAPACITY,
) -> Operator:
    """Create or update an operator's profile, keeping their status and current load.

    Raises:
        TeamsError: a skill names no configured team (core/teams.yml): nobody would route to it.
    """
    check_skills(skills)
    profile = {"display_name": display_name, "languages": list(languages), "skills": list(skills), "capacity": capacity}
    # Created by a unique insert (two gateways seeding at once both succeed), then the profile is set.
    await insert_if_missing(db.operators, {"_id": operator_id, **profile, "status": OperatorStatus.OFFLINE.value})
    doc = await db.operators.find_one_and_update(
        {"_id": operator_id}, {"$set": profile}, return_document=ReturnDocument.AFTER
    )
    assert doc is not None  # noqa: S101 -- created just above; operators are never deleted
    return Operator.from_document(doc)


def check_skills(skills: tuple[str, ...]) -> None:
    """Each skill is a configured team's name."""
    teams = configured_teams()
    unknown = [skill for skill in skills if skill not in teams]
    if unknown:
        raise TeamsError(f"Unknown skills {', '.join(unknown)}; skills are team names: {', '.join(teams.names)}.")


async def operators_with_unknown_skills(db: Database) -> dict[str, list[str]]:
    """Stored operators whose skills name teams the list no longer has (checked at startup)."""
    teams = configured_teams()
    found: dict[str, list[str]] = {}
    async for doc in db.operators.find({}, {"skills": 1}):
        unknown = [skill for skill in doc.get("skills") or () if skill not in teams]
        if unknown:
            found[str(doc["_id"])] = unknown
    return found


async def get_operator(db: Database, operator_id: str) -> Operator | None:
    """Load one operator."""
    doc = await db.operators.find_one({"_id": operator_id})
    return await _with_load(db, doc) if doc else None


async def list_operators(db: Database) -> list[Operator]:
    """Every operator with their current load, by name."""
    return [await _with_load(db, doc) async for doc in db.operators.find({}).sort("display_name", 1)]


async def set_status(
    db: Database, bus: EventBus, operator_id: str, status: OperatorStatus, *, now: datetime
) -> Operator | None:
    """Change an operator's status and emit `operator.status_changed`."""
    doc = await db.operators.find_one_and_update(
        {"_id": operator_id},
        {"$set": {"status": status.value, "status_at": now}},
        return_document=ReturnDocument.AFTER,
    )
    if doc is None:
        return None
    operator = await _with_load(db, doc)
    await bus.emit(
        Event(
            events.OPERATOR_STATUS_CHANGED,
            None,
            f"operator:{operator_id}",
            now,
            {"operator_id": operator_id, "status": status.value},
        )
    )
    return operator


@dataclass(frozen=True)
class Slot:
    """One unit of an operator's capacity and the conversation it is held for."""

    id: str  # "<operator id>:<slot number>": the unique key that caps the operator's load
    operator_id: str
    holder: str  # the conversation id
    at: datetime | None


async def reserve_slot(db: Database, operator: Operator, *, now: datetime, holder: str) -> str | None:
    """Take one unit of the operator's capacity for a conversation; None when they are full.

    Each unit is a document with a unique id (operator id + slot number), so two
    concurrent reservations can never take the same unit (see handoff/claims.py).

    Returns:
        The unit's id: the caller gives back exactly this unit if the assignment it guards does not happen.
    """
    for slot in range(operator.capacity):
        slot_id = f"{operator.id}:{slot}"
        if await claims.claim(db.operator_slots, slot_id, {"operator_id": operator.id, "holder": holder, "at": now}):
            await db.operators.update_one({"_id": operator.id}, {"$set": {"last_assigned_at": now}})
            return slot_id
    return None


async def free_slot(db: Database, slot_id: str) -> None:
    """Give back one reserved unit by its id (the assignment it was reserved for did not happen)."""
    await db.operator_slots.delete_one({"_id": slot_id})


async def release_slot(db: Database, operator_id: str, holder: str) -> None:
    """Give back the unit of capacity a conversation held (closed, transferred or returned)."""
    await db.operator_slots.delete_one({"operator_id": operator_id, "holder": holder})


async def list_slots(db: Database, operator_id: str | None = None) -> list[Slot]:
    """Reserved units, of one operator or of everyone (the reconciler's view), oldest first."""
    query: dict[str, Any] = {} if operator_id is None else {"operator_id": operator_id}
    cursor = db.operator_slots.find(query).sort("at", 1)
    return [
        Slot(id=doc["_id"], operator_id=doc["operator_id"], holder=doc["holder"], at=doc.get("at"))
        async for doc in cursor
    ]


async def free_orphan(db: Database, slot: Slot) -> bool:
    """Free a unit the reconciler found held for nothing; only if it is still that very reservation.

    Returns:
        Whether a unit was freed.
    """
    result = await db.operator_slots.delete_one({"_id": slot.id, "holder": slot.holder, "at": slot.at})
    return result.deleted_count > 0


async def load(db: Database, operator_id: str) -> int:
    """How many conversations the operator carries now."""
    return await db.operator_slots.count_documents({"operator_id": operator_id})


async def _with_load(db: Database, doc: Document) -> Operator:
    operator = Operator.from_document(doc)
    return dataclasses.replace(operator, active=await load(db, operator.id))


async def least_loaded(db: Database, *, language: str | None, team: str | None) -> list[Operator]:
    """Online operators with free capacity who may serve this conversation, least loaded first.

    Ties go to whoever got a conversation longest ago, so work spreads evenly.
    """
    query: dict[str, Any] = {"status": OperatorStatus.ONLINE.value}
    if language is not None:
        query["languages"] = language
    if team is not None:
        query["skills"] = team
    docs = [doc async for doc in db.operators.find(query)]
    last_assigned = {doc["_id"]: doc.get("last_assigned_at") for doc in docs}
    found = [await _with_load(db, doc) for doc in docs]
    free = [op for op in found if op.active < op.capacity]
    epoch = datetime.min.replace(tzinfo=UTC)
    return sorted(free, key=lambda op: (op.active, last_assigned.get(op.id) or epoch))


async def count_available(db: Database, *, language: str | None, team: str | None) -> int:
    """How many online operators could serve this conversation (full or not)."""
    query: dict[str, Any] = {"status": OperatorStatus.ONLINE.value}
    if language is not None:
        query["languages"] = language
    if team is not None:
        query["skills"] = team
    return await db.operators.count_documents(query)
