"""Helpers for the knowledge-base tests: a FerretDB of their own and a fresh database per test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from pymongo import AsyncMongoClient

from core.db import Database, Document
from core.settings import Settings
from core.stack import Stack


@pytest.fixture(scope="session")
def kb_ferretdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """FerretDB only (no Rasa): the KB tests need nothing else."""
    stack = Stack(data_dir=Path(tmp_path_factory.mktemp("kb-ferretdb")))
    stack.start_ferretdb()
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def kb_settings(kb_ferretdb: Stack) -> Settings:
    """Settings pointing at a database no other test uses."""
    return Settings(mongodb_uri=kb_ferretdb.mongodb_uri, mongodb_db=f"kb_{uuid.uuid4().hex[:10]}")


@pytest.fixture
async def kb_db(kb_settings: Settings) -> AsyncIterator[Database]:
    """A fresh database on the KB tests' FerretDB."""
    client: AsyncMongoClient[Document] = AsyncMongoClient(kb_settings.mongodb_uri, tz_aware=True)
    yield client[kb_settings.mongodb_db]
    await client.drop_database(kb_settings.mongodb_db)
    await client.close()
