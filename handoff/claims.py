"""Atomic claims built only on unique-key inserts.

FerretDB 1.24 (our test and demo database) applies conditional updates,
`find_one_and_update` and even `$inc` as read-modify-write without isolation:
ten concurrent conditional updates of one document can all "succeed", and
concurrent `$set`s of different fields lose each other's writes. Inserting a
document whose `_id` (or another unique key) already exists fails atomically on
every MongoDB-compatible server, so every decision that must be made once
(who owns a conversation, which sequence number a message gets, which process
pushes a message) is a unique insert; documents are then updated by one writer.

A claim must not outlive a failed write: `claim_lease` claims with a state
(pending, then done), the holder releases it when its write fails, and a claim
left pending past its lease (the release failed too) is taken over.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pymongo
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError, PyMongoError

from core.db import Document

logger = logging.getLogger(__name__)

# Contention on one sequence is a handful of writers (a customer, an operator, notices); give up loudly after this.
MAX_SEQUENCE_ATTEMPTS = 200
# A claim abandoned this often in a row points at a write that can never succeed; stop taking it over.
_MAX_TAKEOVERS = 20
_PENDING = "pending"
# Giving a claim back waits this long for the database, then goes on in the background every second.
_RELEASE_SECONDS = 2.0
_RELEASE_RETRY_SECONDS = 1.0
_RELEASE_MARGIN_SECONDS = 5.0
_RELEASING: set[asyncio.Task[None]] = set()
_DONE = "done"


async def claim(collection: AsyncCollection[Document], claim_id: str, fields: dict[str, Any] | None = None) -> bool:
    """Insert a claim document; True for exactly one caller per `claim_id`."""
    try:
        await collection.insert_one({"_id": claim_id, **(fields or {})})
    except DuplicateKeyError:
        return False
    return True


class AlreadyInserted(Exception):
    """The document's own `_id` is taken: an earlier attempt inserted it (a retry after a timed-out insert)."""

    def __init__(self, existing: Document) -> None:
        super().__init__(f"{existing.get('_id')!r} is stored already")
        self.existing = existing


async def insert_unique(
    collection: AsyncCollection[Document],
    start: int,
    build: Callable[[int], Document],
    *,
    field: str = "seq",
    restart: Callable[[int], Awaitable[int]] | None = None,
) -> Document:
    """Insert the document built for `start`, or the next free number above it, under a unique index on `field`.

    Nobody reads the current maximum first: callers start from a hint (the event's
    timestamp, a conversation's transcript head, the number a process wrote last), so
    writers never queue behind a read. `restart`, given the first number found taken,
    answers where to go on from (a fresher hint than counting up one by one), once.
    A document built with an `_id` of its own is inserted at most once whatever its number:
    when that `_id` exists, `AlreadyInserted` carries the stored document.
    """
    seq = start
    for _ in range(MAX_SEQUENCE_ATTEMPTS):
        doc = build(seq)
        own_id = field != "_id" and "_id" in doc  # insert_one adds an ObjectId to a document without one
        try:
            await collection.insert_one(doc)
        except DuplicateKeyError:
            if own_id:
                existing = await collection.find_one({"_id": doc["_id"]})
                if existing is not None:
                    raise AlreadyInserted(existing) from None
            if restart is not None:
                seq, restart = await restart(seq), None
            else:
                seq += 1
            continue
        return doc
    raise RuntimeError(f"No free {field} in {collection.name} after {MAX_SEQUENCE_ATTEMPTS} attempts; check its index")


# --- Claims that are given back: a claim whose guarded write fails must not decide forever ----------------------


@dataclass(frozen=True)
class Lease:
    """A claim held while the write it guards runs; completed after the write or released when it fails."""

    collection: AsyncCollection[Document]
    # The document inserted: the key itself, or `key~n` for the n-th takeover of an abandoned claim.
    claim_id: str
    # True when an abandoned claim was taken over: the caller re-checks what the first holder may have written.
    took_over: bool
    lease_seconds: float = 0.0
    claimed_at: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class Held:
    """Someone else has the claim: its write is done, or it may still be running (within the lease)."""

    done: bool


async def claim_lease(
    collection: AsyncCollection[Document],
    key: str,
    fields: dict[str, Any],
    *,
    now: datetime,
    lease_seconds: float,
) -> Lease | Held:
    """Claim `key` once, as `claim` does, but let an abandoned claim be taken over.

    A claim is abandoned when its holder neither completed nor released it within
    `lease_seconds` (the process died, or the database failed between the write and
    the release). The holder must bound its write well inside the lease
    (`pymongo.timeout`). Each takeover is itself a unique insert (`key~1`, `key~2`,
    ...), so exactly one caller takes over an abandoned claim; there are no deletes
    that a non-isolated server could apply to the wrong document.

    Returns:
        The lease, or `Held` while another caller holds the claim or has completed it.
    """
    for level in range(_MAX_TAKEOVERS):
        claim_id = key if level == 0 else f"{key}~{level}"
        try:
            await collection.insert_one({"_id": claim_id, "key": key, "state": _PENDING, "at": now, **fields})
        except DuplicateKeyError:
            held = await collection.find_one({"_id": claim_id})
            if held is None:
                # Released between our insert and our read: the key is free again; try this level once more.
                if await claim(collection, claim_id, {"key": key, "state": _PENDING, "at": now, **fields}):
                    return Lease(collection, claim_id, took_over=level > 0, lease_seconds=lease_seconds)
                return Held(done=False)
            if held.get("state") != _PENDING:
                return Held(done=True)
            if not _expired(held.get("at"), now, lease_seconds):
                return Held(done=False)
            continue
        return Lease(collection, claim_id, took_over=level > 0, lease_seconds=lease_seconds)
    logger.error("Claim %s was abandoned %d times; giving up", key, _MAX_TAKEOVERS)
    return Held(done=False)


async def complete(lease: Lease) -> None:
    """Record that the guarded write succeeded: the claim is final and never taken over."""
    try:
        await lease.collection.update_one({"_id": lease.claim_id}, {"$set": {"state": _DONE}})
    except PyMongoError:
        # The write itself succeeded; a pending claim only blocks later callers until its lease runs out,
        # and they re-check the guarded document before acting.
        logger.warning("Could not mark claim %s done", lease.claim_id, exc_info=True)


async def release(lease: Lease) -> None:
    """Give the claim back after the guarded write failed, so the decision can be made again.

    Bounded: when the database does not answer (it is paused or gone), the caller gets its error at
    once, and the release is retried in the background until the database is back, within the
    lease. Otherwise a failed transfer answered "not yours" until its claim expired (30 s); and a
    claim insert the paused database applies only when it resumes is removed by a later retry.
    """
    try:
        with pymongo.timeout(_RELEASE_SECONDS):
            released = await lease.collection.delete_one({"_id": lease.claim_id, "state": _PENDING})
        if released.deleted_count == 1:
            return
    except PyMongoError:
        logger.warning("Could not release claim %s yet; retrying while the lease lasts", lease.claim_id)
    if lease.lease_seconds > 0:
        # A context of its own: the caller's `pymongo.timeout` (a staff action's deadline) must not end it.
        task = asyncio.create_task(_release_later(lease), context=contextvars.Context())
        _RELEASING.add(task)
        task.add_done_callback(_RELEASING.discard)


async def _release_later(lease: Lease) -> None:
    # Stops well before the lease ends, when a takeover (`key~1`) may begin: never deletes a claim in use.
    deadline = lease.claimed_at + lease.lease_seconds - _RELEASE_MARGIN_SECONDS
    while time.monotonic() < deadline:
        await asyncio.sleep(_RELEASE_RETRY_SECONDS)
        try:
            with pymongo.timeout(_RELEASE_SECONDS):
                released = await lease.collection.delete_one({"_id": lease.claim_id, "state": _PENDING})
                if released.deleted_count == 1:
                    logger.info("Released claim %s after the database came back", lease.claim_id)
                    return
                held = await lease.collection.find_one({"_id": lease.claim_id}, {"state": 1})
                if held is not None and held.get("state") != _PENDING:
                    return
        except PyMongoError:
            continue
    logger.warning("Claim %s stays until its lease runs out", lease.claim_id)


def _expired(at: object, now: datetime, lease_seconds: float) -> bool:
    if not isinstance(at, datetime):
        return True
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return (now - at).total_seconds() >= lease_seconds
