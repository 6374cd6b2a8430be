"""The gateway's index sync never makes FerretDB's writers queue behind it (issue 19, services that come back).

FerretDB keeps a PostgreSQL transaction open while a cursor is open. A plain CREATE INDEX needs a lock
that such a transaction blocks, and every later write to the table queues behind the waiting CREATE
INDEX: one slow cursor, and a gateway starting (it syncs its GIN indexes at start) stalls every writer
of that collection. The sync now gives up on a busy table after 2 s and tries again at its next run.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pymongo
import pytest
from pymongo import AsyncMongoClient

from core import pg_indexes, pgcluster
from core.db import Document
from core.stack import Stack


@pytest.fixture(scope="module")
def own_ferretdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack(data_dir=Path(tmp_path_factory.mktemp("index-locks")))
    stack.start_ferretdb()
    try:
        yield stack
    finally:
        stack.stop()


async def test_a_busy_table_does_not_stall_its_writers_while_the_gateway_syncs_indexes(own_ferretdb: Stack) -> None:
    url = pgcluster.ferretdb_url(own_ferretdb.ports["postgres"])
    client: AsyncMongoClient[Document] = AsyncMongoClient(own_ferretdb.mongodb_uri, tz_aware=True)
    db = client["locks"]
    await db.things.insert_one({"kind": "first"})
    await db.things.create_index([("kind", 1)])  # the sync wants a GIN index on `kind` now
    async with await psycopg.AsyncConnection.connect(url) as conn:
        [table] = [t.table for t in await pg_indexes.collection_tables(conn, "locks") if t.collection == "things"]
    # A transaction left open on the table, as FerretDB keeps one for an open cursor.
    holder = await psycopg.AsyncConnection.connect(url)
    try:
        await holder.execute(f'LOCK TABLE locks."{table}" IN ROW EXCLUSIVE MODE')

        started = time.monotonic()
        created = await asyncio.wait_for(pg_indexes.ensure_gin_indexes(url, "locks"), timeout=20)
        assert created == 0 and time.monotonic() - started < 10, "the sync gave up on the busy table"
        with pymongo.timeout(5):
            await db.things.insert_one({"kind": "written meanwhile"})  # no writer queues behind the sync

        await holder.rollback()
        assert await pg_indexes.ensure_gin_indexes(url, "locks") >= 1, "the next sync creates it"
    finally:
        await holder.close()
        await client.drop_database("locks")
        await client.close()
