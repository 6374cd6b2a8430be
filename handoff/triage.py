"""Triage: priority levels, labels and snooze of conversations.

Priority levels are urgent, high and normal (core.teams.PRIORITIES); the queue serves a lower rank first.
A conversation's level comes from its handoff reason (a lost or stolen card and fraud are urgent;
complaints and the bot's failures high; the rest normal), configurable with PRIORITY_BY_REASON
("complaint=urgent,kb_no_answer=normal"), and staff may change it per conversation. Labels are a list
supervisors keep; operators put them on conversations. Snooze hides a conversation from the working views
until a time or the customer's reply, and pauses its service-level clock.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from core.db import Database, Document
from core.teams import PRIORITIES

URGENT, HIGH, NORMAL = PRIORITIES
DEFAULT_REASON_PRIORITIES: dict[str, str] = {
    "block_card_unverified": URGENT,  # a lost or stolen card
    "disputed_charge": URGENT,  # a charge the customer did not make: possible fraud
    "fraud_alert": URGENT,  # the customer answered a fraud alert (outbound)
    "complaint": HIGH,
    "bot_unavailable": HIGH,
    "nlu_fallback": HIGH,
    "kb_no_answer": HIGH,
}
MAX_LABELS_PER_CONVERSATION = 10
MAX_LABEL_CHARS = 32
_LABEL_RE = re.compile(r"^[\w][\w\- ]{0,31}$", re.UNICODE)
# A write on FerretDB can be overwritten by a concurrent write to the same document: read back, retry.
_WRITE_ATTEMPTS = 5


class TriageError(ValueError):
    """A priority, label or snooze request that cannot be accepted; `code` names it for the console."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def rank(level: str) -> int:
    """The stored queue rank of a level (0 is served first)."""
    return PRIORITIES.index(level) if level in PRIORITIES else PRIORITIES.index(NORMAL)


def level(rank_: int | None) -> str:
    """The level of a stored rank (an unknown one reads as normal)."""
    return PRIORITIES[rank_] if isinstance(rank_, int) and 0 <= rank_ < len(PRIORITIES) else NORMAL


def parse_mapping(spec: str) -> dict[str, str]:
    """Parse PRIORITY_BY_REASON ("reason=level,reason=level") over the defaults.

    Raises:
        TriageError: naming the entry that is wrong.
    """
    mapping = dict(DEFAULT_REASON_PRIORITIES)
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        reason, _, value = item.partition("=")
        if not reason.strip() or value.strip() not in PRIORITIES:
            raise TriageError("bad_mapping", f"PRIORITY_BY_REASON: {item!r} must be reason=urgent|high|normal")
        mapping[reason.strip()] = value.strip()
    return mapping


@lru_cache(maxsize=1)
def reason_priorities() -> dict[str, str]:
    """The process's reason -> level mapping (PRIORITY_BY_REASON over the defaults), read once."""
    return parse_mapping(os.environ.get("PRIORITY_BY_REASON", ""))


def level_of_reason(reason: str) -> str:
    """The priority level a handoff reason starts with."""
    return reason_priorities().get(reason, NORMAL)


def parse_level(value: object) -> str:
    """A level from a request body.

    Raises:
        TriageError: when it is not one of the levels.
    """
    if not isinstance(value, str) or value not in PRIORITIES:
        raise TriageError("bad_priority", f"'priority' must be one of: {', '.join(PRIORITIES)}.")
    return value


def parse_label_name(value: object) -> str:
    """A label's name: letters, digits, spaces, '-' or '_', up to 32 characters.

    Raises:
        TriageError: when it is not.
    """
    if not isinstance(value, str) or not _LABEL_RE.match(value.strip()):
        raise TriageError("bad_label", "A label is 1-32 letters, digits, spaces, '-' or '_'.")
    return value.strip()


async def ensure_indexes(db: Database) -> None:
    """Indexes of the triage filters and the snooze waker."""
    await db.conversations.create_index([("labels", 1)])
    await db.conversations.create_index([("snooze.until", 1)])
    await db.saved_views.create_index([("owner", 1)])


async def list_labels(db: Database) -> list[dict[str, Any]]:
    """The labels supervisors keep, by name."""
    return [
        {"name": d["_id"], "created_by": d.get("created_by"), "created_at": d["created_at"].isoformat()}
        async for d in db.labels.find({}).sort("_id", 1)
    ]


async def known_labels(db: Database, names: list[str]) -> set[str]:
    """Which of the names are labels supervisors created."""
    return {d["_id"] async for d in db.labels.find({"_id": {"$in": names}}, {"_id": 1})}


async def set_fields(db: Database, conversation_id: str, fields: Document, *, unset: tuple[str, ...] = ()) -> bool:
    """Set fields on a conversation and make sure they stuck (a concurrent write may overwrite them on FerretDB).

    Returns:
        False when the conversation does not exist.
    """
    update: dict[str, Any] = {"$set": fields} if fields else {}
    if unset:
        update["$unset"] = dict.fromkeys(unset, "")
    for _ in range(_WRITE_ATTEMPTS):
        result = await db.conversations.update_one({"_id": conversation_id}, update)
        if result.matched_count == 0:
            return False
        doc = await db.conversations.find_one({"_id": conversation_id}, {k: 1 for k in (*fields, *unset)}) or {}
        if all(_get(doc, k) == v for k, v in fields.items()) and all(_get(doc, k) is None for k in unset):
            return True
    return True


def _get(doc: Document, dotted: str) -> Any:
    value: Any = doc
    for part in dotted.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


@dataclass(frozen=True)
class Snooze:
    """A snooze as stored: until a time, or (until None) until the customer replies; both end it on a reply."""

    at: datetime
    by: str
    until: datetime | None

    @classmethod
    def from_document(cls, raw: object) -> Snooze | None:
        """The stored snooze, or None."""
        if not isinstance(raw, dict) or not isinstance(raw.get("at"), datetime):
            return None
        until = raw.get("until")
        return cls(at=raw["at"], by=str(raw.get("by", "")), until=until if isinstance(until, datetime) else None)

    def to_dict(self) -> dict[str, Any]:
        """Serialize for the console."""
        return {"at": self.at.isoformat(), "by": self.by, "until": self.until.isoformat() if self.until else None}
