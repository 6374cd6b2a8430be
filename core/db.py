"""MongoDB access through the PyMongo async API (Motor's successor)."""

from __future__ import annotations

from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import CollectionInvalid, DuplicateKeyError, OperationFailure

from core.settings import Settings

Document = dict[str, Any]
_ALREADY_EXISTS = frozenset({11000, 48})
Database = AsyncDatabase[Document]


def connect(settings: Settings) -> AsyncMongoClient[Document]:
    """Create the client; the caller owns it and must `await client.close()`."""
    return AsyncMongoClient(
        settings.mongodb_uri,
        tz_aware=True,
        serverSelectionTimeoutMS=5000,
        appname="contact-center",
    )


def database(client: AsyncMongoClient[Document], settings: Settings) -> Database:
    """The platform's database on that client."""
    return client[settings.mongodb_db]


async def ensure_collections(db: Database, names: list[str]) -> None:
    """Create collections that are first written by an insert, so they exist (with their indexes) from the start."""
    existing = set(await db.list_collection_names())
    for name in names:
        if name not in existing:
            try:
                await db.create_collection(name)
            except CollectionInvalid:
                pass  # another gateway process created it at the same moment
            except OperationFailure as err:
                # The same race seen by the server: both processes found it missing and asked to create it;
                # FerretDB answers the second with a duplicate key (11000), MongoDB with NamespaceExists (48).
                if err.code not in _ALREADY_EXISTS:
                    raise


async def insert_if_missing(collection: AsyncCollection[Document], doc: Document) -> bool:
    """Insert a document with its own `_id` unless one exists; True when this call created it.

    A unique-key claim: two processes seeding a fresh database at once (two gateways) both succeed,
    one creating and one finding it, where "count, then upsert" raced into a duplicate key.
    """
    try:
        await collection.insert_one(doc)
    except DuplicateKeyError:
        return False
    return True


async def upsert_by_id(collection: AsyncCollection[Document], doc_id: Any, update: Document) -> None:
    """Apply `update` to the document `doc_id`, creating it when missing; the last writer's fields win.

    For settings and profiles, never for counters. FerretDB does not retry an upsert that lost the
    race to create the document as MongoDB does (DuplicateKeyError): the loser updates the winner's.
    """
    try:
        await collection.update_one({"_id": doc_id}, update, upsert=True)
    except DuplicateKeyError:
        await collection.update_one({"_id": doc_id}, update)


async def replace_by_id(collection: AsyncCollection[Document], doc: Document) -> None:
    """Store `doc` under its `_id`, replacing what is there; the last writer wins (see `upsert_by_id`)."""
    try:
        await collection.replace_one({"_id": doc["_id"]}, doc, upsert=True)
    except DuplicateKeyError:
        await collection.replace_one({"_id": doc["_id"]}, doc)


async def find_each(
    collection: AsyncCollection[Document],
    field: str,
    values: list[Any],
    spec: Document | None = None,
    projection: Document | None = None,
) -> list[Document]:
    """Documents whose `field` is one of a few `values`, one equality query per value.

    FerretDB 1.x pushes `{field: value}` down to PostgreSQL, where a GIN index serves it
    (core/pg_indexes.py), but filters `$in`, `$or` and ranges on dotted paths itself, after reading
    the whole collection. Sweeps that run every few seconds and pages staff keep open therefore ask
    per value; the rest of `spec` is filtered among the few rows each value selects.
    """
    found: list[Document] = []
    for value in dict.fromkeys(values):
        found.extend(await collection.find({**(spec or {}), field: value}, projection).to_list())
    return found


def ordered(docs: list[Document], order: list[tuple[str, int]]) -> list[Document]:
    """Documents merged from find_each's queries, sorted as MongoDB sorts by `order` (missing values first)."""
    for field, direction in reversed(order):
        docs = sorted(docs, key=lambda d: (d.get(field) is not None, d.get(field) or 0), reverse=direction < 0)
    return docs
