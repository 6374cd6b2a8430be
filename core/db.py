"""MongoDB access through the PyMongo async API (Motor's successor)."""

from __future__ import annotations

from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import CollectionInvalid

from core.settings import Settings

Document = dict[str, Any]
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
