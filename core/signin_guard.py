"""Limits on staff sign-in attempts per account and per address, with growing lockouts, and their audit log.

Every admitted attempt is a document of its own (`signin_attempts`), so every gateway process sees
the same history and the counts are exact under concurrency: an insert is atomic on every backend,
while `$inc` and conditional updates are read-then-write on FerretDB (16 simultaneous failures from
one address used to count as 4 to 12). After a number of free failures each further failure locks
the account (or the address) for twice as long as the previous one; while locked, attempts are
refused before any password is checked, so hammering costs the server nothing and a right password
guessed during a lockout does not help.

An account's attempts are numbered: attempt n is the document `account#n`, claimed by a unique
insert, so exactly one attempt per account is checked at a time in all processes together (parallel
guesses are refused, not queued). An address's attempts are counted after each inserts its own: the
k-th insert sees at least k, so a burst cannot slip more than the free failures past the count.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pymongo.errors import DuplicateKeyError

from core.db import Database, Document
from core.masking import mask_sensitive

logger = logging.getLogger(__name__)

# Logins longer than this are not accounts; the counter key keeps only this much.
_MAX_KEY_CHARS = 128
# An admitted attempt holds its account this long at most (a process dying mid-check frees it then).
_CHECKING_SECONDS = 10.0
_CHECKING, _FAILED, _SUCCEEDED, _REFUSED = "checking", "failed", "succeeded", "refused"


@dataclass(frozen=True)
class SignInPolicy:
    """How many failures are free and how the lockout grows."""

    # A person mistyping their password gets this many tries before any wait.
    free_failures_per_account: int = 5
    # One office may share an address: more free failures across its accounts.
    free_failures_per_address: int = 20
    first_lockout_seconds: float = 1.0
    max_lockout_seconds: float = 15 * 60
    # Failures older than this no longer count.
    window_seconds: float = 3600.0

    def lockout(self, failures: int, free: int) -> float:
        """Seconds to wait after `failures` failures: 0 while free, then 1, 2, 4... up to the maximum."""
        if failures <= free:
            return 0.0
        return float(min(self.first_lockout_seconds * 2.0 ** (failures - free - 1), self.max_lockout_seconds))


class Outcome(StrEnum):
    """What became of a sign-in attempt (audit log)."""

    FAILED = "failed"
    REFUSED_LOCKED = "refused_locked"


class SignInLocked(Exception):
    """Attempts for this account or from this address wait; the answer is 429 with Retry-After."""

    def __init__(self, retry_after_seconds: float) -> None:
        super().__init__(f"Too many failed sign-ins; try again in {retry_after_seconds:.0f} s.")
        self.retry_after_seconds = retry_after_seconds


@dataclass(frozen=True)
class Attempt:
    """An admitted attempt: its document, settled by `finish`."""

    attempt_id: str


def _keys(login: str, address: str) -> dict[str, str]:
    return {"account": f"account:{login[:_MAX_KEY_CHARS]}", "address": f"address:{address[:_MAX_KEY_CHARS]}"}


async def ensure_indexes(db: Database) -> None:
    """The audit log is read newest first; attempts are counted per account and per address."""
    await db.signin_audit.create_index([("at", -1)])
    await db.signin_attempts.create_index([("account", 1), ("n", -1)])
    await db.signin_attempts.create_index([("address", 1), ("at", -1)])


def _settled_at(doc: Document) -> datetime:
    """When a failure's lockout starts; an attempt left checking (its process died) failed when it expired."""
    settled: datetime = doc.get("settled_at") or doc["at"] + timedelta(seconds=_CHECKING_SECONDS)
    return settled


def _counts_as_failure(doc: Document, now: datetime) -> bool:
    state, at = str(doc["state"]), doc["at"]
    return state == _FAILED or (state == _CHECKING and now - at >= timedelta(seconds=_CHECKING_SECONDS))


def _fresh_check(doc: Document, now: datetime) -> bool:
    state, at = str(doc["state"]), doc["at"]
    return state == _CHECKING and bool(now - at < timedelta(seconds=_CHECKING_SECONDS))


def _wait(docs: list[Document], *, now: datetime, free: int, policy: SignInPolicy) -> float:
    """Seconds still to wait after these attempts (0 when the next may be checked)."""
    failures = [d for d in docs if _counts_as_failure(d, now)]
    if not failures:
        return 0.0
    last = max(_settled_at(d) for d in failures)
    return (last + timedelta(seconds=policy.lockout(len(failures), free)) - now).total_seconds()


async def _account_history(
    db: Database, account: str, now: datetime, policy: SignInPolicy
) -> tuple[int, list[Document]]:
    """The account's last attempt number and its attempts since its last success within the window."""
    since = now - timedelta(seconds=policy.window_seconds)
    last = await db.signin_attempts.find_one({"account": account}, sort=[("n", -1)])
    if last is None:
        return 0, []
    success = await db.signin_attempts.find_one({"account": account, "state": _SUCCEEDED}, sort=[("n", -1)])
    after = int(success["n"]) if success else 0
    spec: dict[str, Any] = {"account": account, "n": {"$gt": after}, "at": {"$gte": since}}
    return int(last["n"]), await db.signin_attempts.find(spec).to_list()


async def _address_attempts(db: Database, address: str, now: datetime, policy: SignInPolicy) -> list[Document]:
    since = now - timedelta(seconds=policy.window_seconds)
    spec = {"address": address, "at": {"$gte": since}, "state": {"$in": [_CHECKING, _FAILED]}}
    return await db.signin_attempts.find(spec, {"state": 1, "at": 1, "settled_at": 1}).to_list()


async def begin(db: Database, login: str, address: str, *, now: datetime, policy: SignInPolicy) -> Attempt:
    """Admit one attempt, counted as a failure until `finish` says otherwise.

    Raises:
        SignInLocked: the account or the address waits (or the account's previous attempt is being checked).
    """
    keys = _keys(login, address)
    free_address = policy.free_failures_per_address
    before = await _address_attempts(db, keys["address"], now, policy)
    if len(before) >= free_address and (wait := _wait(before, now=now, free=free_address, policy=policy)) > 0:
        raise SignInLocked(wait)
    last_n, history = await _account_history(db, keys["account"], now, policy)
    if history and _fresh_check(max(history, key=lambda d: d["n"]), now):
        raise SignInLocked(1.0)  # the account's previous attempt is being checked: a moment, not the window
    wait = _wait(history, now=now, free=policy.free_failures_per_account, policy=policy)
    if wait > 0:
        raise SignInLocked(wait)
    attempt_id = f"{keys['account']}#{last_n + 1}"
    try:
        await db.signin_attempts.insert_one(
            {
                "_id": attempt_id,
                "account": keys["account"],
                "n": last_n + 1,
                "address": keys["address"],
                "at": now,
                "state": _CHECKING,
            }
        )
    except DuplicateKeyError:
        raise SignInLocked(1.0) from None  # a simultaneous attempt for the account took this turn
    # Counted after our own insert: the k-th of simultaneous attempts sees at least k, so at most the
    # free failures pass at once; beyond them one at a time, each after the previous lockout.
    counted = await _address_attempts(db, keys["address"], now, policy)
    if len(counted) > free_address:
        others = [d for d in counted if d["_id"] != attempt_id]
        busy = any(_fresh_check(d, now) for d in others)
        wait = 1.0 if busy else _wait(others, now=now, free=free_address, policy=policy)
        if wait > 0:
            await db.signin_attempts.update_one({"_id": attempt_id}, {"$set": {"state": _REFUSED}})
            raise SignInLocked(max(wait, 1.0))
    return Attempt(attempt_id)


async def finish(
    db: Database,
    login: str,
    address: str,
    *,
    succeeded: bool,
    now: datetime,
    policy: SignInPolicy,
    attempt: Attempt | None = None,
) -> float:
    """Settle an attempt `begin` admitted; returns the lockout a failure starts (0 while free)."""
    keys = _keys(login, address)
    if attempt is None:  # the caller did not keep it: the account's latest attempt is the one being checked
        last = await db.signin_attempts.find_one({"account": keys["account"]}, sort=[("n", -1)])
        if last is None:
            return 0.0
        attempt = Attempt(last["_id"])
    state = _SUCCEEDED if succeeded else _FAILED
    # One writer per attempt document: the process that admitted it.
    await db.signin_attempts.update_one({"_id": attempt.attempt_id}, {"$set": {"state": state, "settled_at": now}})
    if succeeded:
        return 0.0
    _, history = await _account_history(db, keys["account"], now, policy)
    by_address = await _address_attempts(db, keys["address"], now, policy)
    return max(
        _wait(history, now=now, free=policy.free_failures_per_account, policy=policy),
        _wait(by_address, now=now, free=policy.free_failures_per_address, policy=policy),
        0.0,
    )


async def failures(db: Database, login: str, address: str, *, now: datetime, policy: SignInPolicy) -> dict[str, int]:
    """The failures that count now for the account and for the address (exact: one document per attempt)."""
    keys = _keys(login, address)
    _, history = await _account_history(db, keys["account"], now, policy)
    by_address = await _address_attempts(db, keys["address"], now, policy)
    return {
        "account": sum(_counts_as_failure(d, now) for d in history),
        "address": sum(_counts_as_failure(d, now) for d in by_address),
    }


async def audit(db: Database, *, login: str, address: str, page: str, outcome: Outcome, now: datetime) -> None:
    """Keep a failed or refused attempt for the security team, and log it."""
    shown = mask_sensitive(login[:_MAX_KEY_CHARS]).text  # a card number typed into the login field stays masked
    await db.signin_audit.insert_one(
        {"at": now, "login": shown, "address": address, "page": page, "outcome": outcome.value}
    )
    logger.warning("Sign-in %s for %r from %s on %s", outcome.value, shown, address, page)
