"""Limits on staff sign-in attempts per account and per address, with growing lockouts, and their audit log.

Counters live in the database so every gateway process sees the same ones. After a number of
free failures each further failure locks the account (or the address) for twice as long as the
previous one; while locked, attempts are refused before any password is checked, so hammering
costs the server nothing and a right password guessed during a lockout does not help. An attempt
counts as a failure from the moment it is admitted, so parallel guesses cannot all pass the check
before the first one is counted.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from pymongo.errors import DuplicateKeyError

from core.db import Database
from core.masking import mask_sensitive

logger = logging.getLogger(__name__)

# Logins longer than this are not accounts; the counter key keeps only this much.
_MAX_KEY_CHARS = 128
# An admitted attempt holds its account this long at most (a process dying mid-check frees it then).
_CHECKING_SECONDS = 10.0


@dataclass(frozen=True)
class SignInPolicy:
    """How many failures are free and how the lockout grows."""

    # A person mistyping their password gets this many tries before any wait.
    free_failures_per_account: int = 5
    # One office may share an address: more free failures across its accounts.
    free_failures_per_address: int = 20
    first_lockout_seconds: float = 1.0
    max_lockout_seconds: float = 15 * 60
    # Counters are forgotten after this long without a failure.
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


def _keys(login: str, address: str) -> dict[str, str]:
    return {"account": f"account:{login[:_MAX_KEY_CHARS]}", "address": f"address:{address[:_MAX_KEY_CHARS]}"}


async def ensure_indexes(db: Database) -> None:
    """The audit log is read newest first."""
    await db.signin_audit.create_index([("at", -1)])


async def _forget_idle(db: Database, keys: list[str], *, now: datetime, policy: SignInPolicy) -> None:
    """Counters idle for a whole window start again from zero."""
    await db.signin_limits.delete_many(
        {
            "_id": {"$in": keys},
            "last_failure_at": {"$lt": now - timedelta(seconds=policy.window_seconds)},
            "locked_until": {"$lte": now},
        }
    )


async def _locked(db: Database, key: str, now: datetime) -> SignInLocked:
    doc = await db.signin_limits.find_one({"_id": key})
    if doc is None or doc.get("checking"):
        return SignInLocked(1.0)  # another attempt for the account is being checked: a moment, not the window
    return SignInLocked(max(1.0, (doc["locked_until"] - now).total_seconds()))


async def begin(db: Database, login: str, address: str, *, now: datetime, policy: SignInPolicy) -> None:
    """Admit one attempt, counted as a failure until `finish` says otherwise.

    The account is claimed atomically (its lock moves to "checking" until `finish`), so at most one
    password check per account runs at a time in all gateway processes together: parallel guesses
    are refused, not queued. The address is counted at once, so a burst cannot slip under its limit.

    Raises:
        SignInLocked: the account or the address waits (or the account's previous attempt is being checked).
    """
    keys = _keys(login, address)
    await _forget_idle(db, list(keys.values()), now=now, policy=policy)
    address_doc = await db.signin_limits.find_one({"_id": keys["address"]})
    if address_doc is not None and address_doc.get("locked_until", now) > now:
        raise SignInLocked((address_doc["locked_until"] - now).total_seconds())
    checking_until = now + timedelta(seconds=_CHECKING_SECONDS)
    claimed = await db.signin_limits.find_one_and_update(
        {"_id": keys["account"], "locked_until": {"$lte": now}},
        {"$inc": {"failures": 1}, "$set": {"locked_until": checking_until, "last_failure_at": now, "checking": True}},
    )
    if claimed is None:
        try:
            await db.signin_limits.insert_one(
                {
                    "_id": keys["account"],
                    "failures": 1,
                    "locked_until": checking_until,
                    "last_failure_at": now,
                    "checking": True,
                }
            )
        except DuplicateKeyError:
            raise await _locked(db, keys["account"], now) from None
    count = {"$inc": {"failures": 1}, "$set": {"last_failure_at": now}, "$setOnInsert": {"locked_until": now}}
    try:
        await db.signin_limits.update_one({"_id": keys["address"]}, count, upsert=True)
    except DuplicateKeyError:
        # Two first attempts from one address raced to create its counter, and FerretDB does not retry
        # the losing upsert as MongoDB does: count this attempt on the document the other one created.
        await db.signin_limits.update_one({"_id": keys["address"]}, count)


async def finish(
    db: Database, login: str, address: str, *, succeeded: bool, now: datetime, policy: SignInPolicy
) -> float:
    """Settle an attempt `begin` admitted; returns the lockout a failure starts (0 while free)."""
    keys = _keys(login, address)
    if succeeded:
        # The right password ends the account's count; the address keeps its failures but not this attempt.
        await db.signin_limits.delete_one({"_id": keys["account"]})
        await db.signin_limits.update_one({"_id": keys["address"]}, {"$inc": {"failures": -1}})
        return 0.0
    longest = 0.0
    free = {"account": policy.free_failures_per_account, "address": policy.free_failures_per_address}
    for kind, key in keys.items():
        doc = await db.signin_limits.find_one({"_id": key})
        seconds = policy.lockout(int(doc["failures"]), free[kind]) if doc else 0.0
        if kind == "account" or seconds:
            await db.signin_limits.update_one(
                {"_id": key}, {"$set": {"locked_until": now + timedelta(seconds=seconds), "checking": False}}
            )
        longest = max(longest, seconds)
    return longest


async def audit(db: Database, *, login: str, address: str, page: str, outcome: Outcome, now: datetime) -> None:
    """Keep a failed or refused attempt for the security team, and log it."""
    shown = mask_sensitive(login[:_MAX_KEY_CHARS]).text  # a card number typed into the login field stays masked
    await db.signin_audit.insert_one(
        {"at": now, "login": shown, "address": address, "page": page, "outcome": outcome.value}
    )
    logger.warning("Sign-in %s for %r from %s on %s", outcome.value, shown, address, page)
