"""Limits on checking card endings: per customer across every path, per operator across customers.

A card ending has 10,000 values, so unlimited checks find it in minutes. Every check (the
console's verify-digits, the phone line's keyed digits) therefore takes a numbered place in
an append-only ledger per subject ("customer:<id>", "operator:<login>") before it may look at
the bank's records:

- each place is a unique-key insert (`<subject>:<n>`, n counted up from the highest place
  seen), so two checks never share a place, and every place below an inserted one exists
  (it was seen as the highest, or its insert collided): the ledger is a total order even on
  FerretDB, whose `$inc` and upserts are read-then-write;
- a check decides from the places below its own only, counting a check whose result is not
  written yet as a failure: 50 simultaneous guesses get places 1..50, and only the first
  `failures` of them may look (the test runs exactly that);
- the result is then written on the check's own place (one writer per document).

A customer is locked after `failures` failures in a row, for a growing period; a success or
a supervisor's lift starts the count afresh. An operator's failures across all customers
stop their checks alike (successes do not reset them). Locks expire by themselves; a lift is
one more place in the ledger, so it orders with the checks around it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.errors import DuplicateKeyError

from core.banking import insert_audit_record
from core.db import Database, Document
from handoff import claims, events
from handoff.bus import EventBus
from handoff.events import Event

logger = logging.getLogger(__name__)

CUSTOMER_PREFIX = "customer:"
_MAX_PLACE_ATTEMPTS = 500
OPERATOR_PREFIX = "operator:"


class Result(StrEnum):
    """What one place in the ledger records."""

    PENDING = "pending"  # claimed, result not yet written (counts as a failure)
    FAILED = "failed"
    VERIFIED = "verified"
    REFUSED = "refused"  # claimed while locked: never looked at the bank's records, counts for nothing
    LIFTED = "lifted"  # a supervisor lifted the lock: the count starts afresh


_COUNTS_AS_FAILURE = frozenset({Result.PENDING.value, Result.FAILED.value})


@dataclass(frozen=True)
class Policy:
    """How many failures lock a subject, for how long, and how long failures are remembered."""

    failures: int
    # The lock after the 1st, 2nd, ... run of failures; the last one repeats.
    periods: tuple[timedelta, ...]
    # Failures older than this are forgotten; longer than the longest lock plus the time a run takes.
    memory: timedelta
    # A customer who proves who they are starts afresh; an operator's success does not excuse guesses elsewhere.
    success_resets: bool

    def period(self, run: int) -> timedelta:
        """The lock after the run-th run of failures."""
        return self.periods[min(run, len(self.periods)) - 1]


# Three wrong endings lock the customer for 15 minutes, then an hour, then a day (bank practice).
CUSTOMER_POLICY = Policy(
    failures=3,
    periods=(timedelta(minutes=15), timedelta(hours=1), timedelta(hours=24)),
    memory=timedelta(hours=48),
    success_resets=True,
)
# Six failed checks by one operator (over any customers) within a working day stop their checks for 8 hours.
OPERATOR_POLICY = Policy(
    failures=6,
    periods=(timedelta(hours=8),),
    memory=timedelta(hours=16),
    success_resets=False,
)


def policy_of(subject: str) -> Policy:
    """The policy of a subject by its kind."""
    return OPERATOR_POLICY if subject.startswith(OPERATOR_PREFIX) else CUSTOMER_POLICY


@dataclass(frozen=True)
class Standing:
    """Where a subject stands: locked until a time, or how many checks it has left before the lock."""

    subject: str
    locked_until: datetime | None
    attempts_left: int
    # The place whose failure started the current lock.
    locked_by: int | None = None

    @property
    def locked(self) -> bool:
        """Whether checks are refused now."""
        return self.locked_until is not None


def assess(subject: str, records: Sequence[Document], now: datetime) -> Standing:
    """Replay a subject's places in ledger order (already limited to its memory) and say where it stands.

    A place taken while the replay says the subject was locked was refused (or will be), whatever it
    stores yet; a place without a result counts as a failure. Results only ever move from pending to
    final, which can only unlock, so a check allowed once is never counted as refused later.
    """
    policy = policy_of(subject)
    count = 0
    until: datetime | None = None
    locked_by: int | None = None
    for record in records:
        result = record.get("result")
        if result == Result.LIFTED.value:
            count, until, locked_by = 0, None, None
            continue
        if until is not None and record["at"] < until:
            continue  # taken while locked: refused
        if result == Result.VERIFIED.value and policy.success_resets:
            count, until, locked_by = 0, None, None
        elif result in _COUNTS_AS_FAILURE:
            count += 1
            if count % policy.failures == 0:
                until, locked_by = record["at"] + policy.period(count // policy.failures), int(record["n"])
    if until is not None and now < until:
        return Standing(subject, until, 0, locked_by)
    return Standing(subject, None, policy.failures - count % policy.failures)


@dataclass(frozen=True)
class Place:
    """One check's place in a subject's ledger."""

    subject: str
    n: int
    doc_id: str


async def ensure_indexes(db: Database) -> None:
    """The ledger is read by subject in place order; alerts by whether they are still active."""
    await db.verify_attempts.create_index([("subject", ASCENDING), ("n", ASCENDING)])
    await db.verification_alerts.create_index([("lifted_at", ASCENDING), ("until", ASCENDING)])


async def _records(db: Database, subject: str, now: datetime, below: int | None = None) -> list[Document]:
    spec: dict[str, Any] = {"subject": subject, "at": {"$gte": now - policy_of(subject).memory}}
    if below is not None:
        spec["n"] = {"$lt": below}
    return await db.verify_attempts.find(spec).sort("n", ASCENDING).to_list()


async def standing(db: Database, subject: str, now: datetime) -> Standing:
    """The subject's standing now (every place written so far)."""
    return assess(subject, await _records(db, subject, now), now)


async def _take_place(
    db: Database, subject: str, now: datetime, fields: Document, *, unless_locked: bool = True
) -> Place | Standing:
    """A unique numbered place above the highest one seen, or the lock that makes taking one pointless.

    On a collision the places below the next number are replayed first: once they lock the subject,
    a burst of simultaneous checks stops walking up the ledger (50 at once cost a few inserts each).
    """
    highest = await db.verify_attempts.find({"subject": subject}, {"n": 1}).sort("n", DESCENDING).limit(1).to_list()
    n = int(highest[0]["n"]) + 1 if highest else 1
    for _ in range(_MAX_PLACE_ATTEMPTS):
        try:
            doc = {"_id": f"{subject}:{n}", "subject": subject, "n": n, "at": now, **fields}
            await db.verify_attempts.insert_one(doc)
        except DuplicateKeyError:
            n += 1
            if unless_locked:
                below = assess(subject, await _records(db, subject, now, below=n), now)
                if below.locked:
                    return below
            continue
        return Place(subject, n, f"{subject}:{n}")
    raise RuntimeError(f"No free place in the verification ledger of {subject} after {_MAX_PLACE_ATTEMPTS} attempts")


async def _write_result(db: Database, place: Place, result: Result) -> None:
    # Only the place's own check writes its result: no other writer races this update.
    await db.verify_attempts.update_one({"_id": place.doc_id}, {"$set": {"result": result.value}})


@dataclass(frozen=True)
class Refused:
    """The check did not look at the bank's records: this subject is locked."""

    standing: Standing


@dataclass(frozen=True)
class Checked:
    """The check looked: whether it matched, what is left, and the subjects this failure locked."""

    verified: bool
    standings: tuple[Standing, ...]
    newly_locked: tuple[Standing, ...]

    @property
    def attempts_left(self) -> int:
        """Checks left before the first subject locks (what the operator sees)."""
        return min((s.attempts_left for s in self.standings), default=0)

    @property
    def locked(self) -> Standing | None:
        """The first subject this check left locked, if any."""
        return next((s for s in self.standings if s.locked), None)


async def guarded_check(
    db: Database,
    subjects: Sequence[str],
    check: Callable[[], Awaitable[bool]],
    *,
    now: datetime,
    fields: Document,
) -> Refused | Checked:
    """Run `check` (does the ending match?) only if none of the subjects is locked, counting it for each.

    `fields` (actor, channel, conversation) go on each place, for the supervisor's view and reports.
    """
    for subject in subjects:
        current = await standing(db, subject, now)
        if current.locked:
            return Refused(current)
    places: list[Place] = []
    for subject in subjects:
        taken = await _take_place(db, subject, now, {"result": Result.PENDING.value, **fields})
        before = (
            taken if isinstance(taken, Standing) else assess(subject, await _records(db, subject, now, taken.n), now)
        )
        if isinstance(taken, Place):
            places.append(taken)
        if before.locked:
            for place in places:
                await _write_result(db, place, Result.REFUSED)
            return Refused(before)
    verified = await check()
    result = Result.VERIFIED if verified else Result.FAILED
    standings: list[Standing] = []
    newly_locked: list[Standing] = []
    for place in places:
        await _write_result(db, place, result)
        # This failure locked the subject when the places up to and including it lock it.
        upto = assess(place.subject, await _records(db, place.subject, now, below=place.n + 1), now)
        if upto.locked_by == place.n:
            newly_locked.append(upto)
        standings.append(await standing(db, place.subject, now))
    return Checked(verified, tuple(standings), tuple(newly_locked))


async def lift(db: Database, subject: str, *, by: str, now: datetime) -> Standing:
    """A supervisor lifts the subject's lock: a place of its own, so checks after it count afresh."""
    await _take_place(db, subject, now, {"result": Result.LIFTED.value, "actor": by}, unless_locked=False)
    await db.verification_alerts.update_many(
        {"subject": subject, "lifted_at": None}, {"$set": {"lifted_at": now, "lifted_by": by}}
    )
    return await standing(db, subject, now)


async def raise_alert(db: Database, bus: EventBus | None, locked: Standing, *, now: datetime, fields: Document) -> bool:
    """A new lock: listed on the supervisors' page, announced on the bus and audited, once per lock.

    `fields` carry the actor, channel and conversation of the check that locked it.
    """
    assert locked.locked_until is not None  # noqa: S101 -- only locked standings are alerts
    until = locked.locked_until.isoformat()
    kind = "operator" if locked.subject.startswith(OPERATOR_PREFIX) else "customer"
    alert = {"subject": locked.subject, "kind": kind, "until": locked.locked_until, "at": now, "lifted_at": None}
    if not await claims.claim(db.verification_alerts, f"{locked.subject}:{until}", {**alert, **fields}):
        return False
    customer_id = locked.subject.removeprefix(CUSTOMER_PREFIX) if kind == "customer" else None
    await insert_audit_record(
        db.audit_log,
        {"action": "identity.locked", "subject": locked.subject, "until": until, "customer_id": customer_id, "at": now}
        | {key: fields[key] for key in ("actor", "channel", "conversation_id") if key in fields},
    )
    logger.warning("Card-digit checks of %s locked until %s", locked.subject, until)
    if bus is not None:
        await bus.emit(
            Event(
                events.VERIFICATION_LOCKED,
                fields.get("conversation_id"),
                str(fields.get("actor", "system")),
                now,
                {"subject": locked.subject, "kind": kind, "until": until},
            )
        )
    return True


async def active_alerts(db: Database, now: datetime, limit: int = 200) -> list[dict[str, Any]]:
    """Locks not lifted and not yet expired, newest first, for the supervisor."""
    docs = (
        await db.verification_alerts.find({"lifted_at": None, "until": {"$gt": now}})
        .sort("at", DESCENDING)
        .limit(limit)
        .to_list()
    )
    return [
        {
            "subject": doc["subject"],
            "kind": doc.get("kind"),
            "until": doc["until"].isoformat(),
            "at": doc["at"].isoformat(),
            "conversation_id": doc.get("conversation_id"),
            "channel": doc.get("channel"),
            "actor": doc.get("actor"),
        }
        for doc in docs
    ]
