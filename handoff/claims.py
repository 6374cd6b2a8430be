"""Atomic claims built only on unique-key inserts.

FerretDB 1.24 (our test and demo database) applies conditional updates,
`find_one_and_update` and even `$inc` as read-modify-write without isolation:
ten concurrent conditional updates of one document can all "succeed", and
concurrent `$set`s of different fields lose each other's writes. Inserting a
document whose `_id` (or another unique key) already exists fails atomically on
every MongoDB-compatible server, so every decision that must be made once
(who owns a conversation, which sequence number a message gets, which process
pushes a message) is a unique insert; documents are then updated by one writer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from core.db import Document

# Contention on one sequence is a handful of writers (a customer, an operator, notices); give up loudly after this.
_MAX_SEQUENCE_ATTEMPTS = 200


async def claim(collection: AsyncCollection[Document], claim_id: str, fields: dict[str, Any] | None = None) -> bool:
    """Insert a claim document; True for exactly one caller per `claim_id`."""
    try:
        await collection.insert_one({"_id": claim_id, **(fields or {})})
    except DuplicateKeyError:
        return False
    return True


async def insert_next(
    collection: AsyncCollection[Document],
    scope: dict[str, Any],
    build: Callable[[int], Document],
    *,
    field: str = "seq",
) -> Document:
    """Insert the document built for the next free sequence number within `scope`.

    The collection must have a unique index over the scope's fields and `field`.

    Returns:
        The inserted document.
    """
    last = await collection.find_one(scope, sort=[(field, -1)])
    seq = int(last[field]) + 1 if last else 1
    for _ in range(_MAX_SEQUENCE_ATTEMPTS):
        doc = build(seq)
        try:
            await collection.insert_one(doc)
        except DuplicateKeyError:
            seq += 1
            continue
        return doc
    raise RuntimeError(f"No free {field} in {collection.name} after {_MAX_SEQUENCE_ATTEMPTS} attempts; check its index")


async def insert_unique(
    collection: AsyncCollection[Document], start: int, build: Callable[[int], Document], *, field: str = "seq"
) -> Document:
    """Insert the document built for `start`, or the next free number above it, under a unique index on `field`.

    Unlike `insert_next` nobody reads the current maximum first, so writers that
    start from different numbers (timestamps) never queue behind each other.
    """
    seq = start
    for _ in range(_MAX_SEQUENCE_ATTEMPTS):
        doc = build(seq)
        try:
            await collection.insert_one(doc)
        except DuplicateKeyError:
            seq += 1
            continue
        return doc
    raise RuntimeError(f"No free {field} in {collection.name} after {_MAX_SEQUENCE_ATTEMPTS} attempts; check its index")
