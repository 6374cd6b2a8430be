"""Fixtures for the banking backend and action tests: a private FerretDB and a freshly seeded demo bank per test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from core.banking import MongoBankingBackend
from core.db import Database
from core.demo_data import seed_demo_bank
from core.stack import Stack

# The moment the tests' bank believes it is, so audit records have an exact time.
NOW = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def ferretdb_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A FerretDB server of our own (SQLite in a temp dir, free port), stopped at the end of the session."""
    stack = Stack(data_dir=Path(tmp_path_factory.mktemp("bank-ferretdb")))
    stack.start_ferretdb()
    try:
        yield stack.mongodb_uri
    finally:
        stack.stop()


@pytest.fixture(scope="session")
async def mongo_client(ferretdb_uri: str) -> AsyncIterator[AsyncMongoClient[dict[str, Any]]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(ferretdb_uri, tz_aware=True)
    yield client
    await client.close()


@pytest.fixture
async def bank_db(mongo_client: AsyncMongoClient[dict[str, Any]]) -> AsyncIterator[Database]:
    """A fresh database with the demo bank seeded, dropped after the test."""
    name = f"bank_{uuid.uuid4().hex[:10]}"
    database = mongo_client[name]
    await seed_demo_bank(database)
    yield database
    await mongo_client.drop_database(name)


@pytest.fixture
def backend(bank_db: Database) -> MongoBankingBackend:
    """The demo backend on that database, with the clock stopped at NOW."""
    return MongoBankingBackend(bank_db, clock=lambda: NOW)
