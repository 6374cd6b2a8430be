"""Indexes PostgreSQL can use for the filters FerretDB 1.24 pushes down to it.

FerretDB's PostgreSQL backend turns `{field: value}` into
`(_jsonb -> 'field') @> 'value'`, and builds the MongoDB indexes we declare as
btree indexes on `(_jsonb -> 'field')`. A btree cannot serve `@>`, so every
query, `_id` lookups included, was a sequential scan (EXPLAIN through FerretDB
says `Seq Scan`; tests/test_query_plans.py). For every field of every index a
collection declares, and for `_id`, this adds a GIN index on the same
expression, which `@>` uses. FerretDB does not know these indexes; they live
beside its own and go with the table.

FerretDB sends its queries as prepared statements with the field name as a
parameter (`_jsonb -> $1 @> $2`). A generic plan, which PostgreSQL switches to
after a few runs when it looks no dearer, cannot match the indexed expression
and scans; FerretDB's database therefore plans every statement with its values
(`plan_cache_mode = force_custom_plan`, set when the cluster is created and here).

Only for FerretDB on PostgreSQL (setting FERRETDB_POSTGRES_URL); a real MongoDB
uses its own indexes and needs nothing here.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass

import psycopg
from psycopg import sql

logger = logging.getLogger(__name__)

# How often collections created since the start get their indexes.
_RESYNC_SECONDS = 120.0
# How long creating an index may wait for its table's lock.
_LOCK_TIMEOUT_MS = 2000


@dataclass(frozen=True)
class CollectionTable:
    """A FerretDB collection and the PostgreSQL table that holds it."""

    collection: str
    table: str
    fields: tuple[str, ...]


async def collection_tables(conn: psycopg.AsyncConnection[tuple[object, ...]], schema: str) -> list[CollectionTable]:
    """Every collection of a FerretDB database, from FerretDB's own metadata table."""
    query = sql.SQL("SELECT _jsonb->>'_id', _jsonb->>'table', _jsonb->'indexes' FROM {}.{}").format(
        sql.Identifier(schema), sql.Identifier("_ferretdb_database_metadata")
    )
    try:
        cursor = await conn.execute(query)
    except psycopg.errors.UndefinedTable:
        return []
    found = []
    for collection, table, indexes in await cursor.fetchall():
        fields = {"_id"}
        for index in indexes or []:  # type: ignore[attr-defined]
            # FerretDB pushes down top-level fields only; a dotted path is filtered in FerretDB itself.
            fields.update(name for name in index.get("key", {}) if "." not in name)
        found.append(CollectionTable(str(collection), str(table), tuple(sorted(fields))))
    return found


def custom_plans_statement(database: str) -> str:
    """The setting that keeps PostgreSQL planning FerretDB's statements with their values."""
    return f'ALTER DATABASE "{database}" SET plan_cache_mode = force_custom_plan'


def gin_index_name(table: str, field: str) -> str:
    """A stable name within PostgreSQL's 63 characters."""
    digest = hashlib.sha256(f"{table}:{field}".encode()).hexdigest()[:8]
    return f"{table[:40]}_gin_{digest}"


async def ensure_gin_indexes(postgres_url: str, schema: str) -> int:
    """Create the missing GIN indexes of a FerretDB database; returns how many were created."""
    created = 0
    async with await psycopg.AsyncConnection.connect(postgres_url, autocommit=True) as conn:
        # A CREATE INDEX waiting for a table lock (behind a transaction FerretDB keeps open for a cursor) makes
        # every later write to that table queue behind it: give up at once instead, the next sync tries again.
        await conn.execute(f"SET lock_timeout = '{_LOCK_TIMEOUT_MS}ms'")
        row = await (await conn.execute("SELECT current_database()")).fetchone()
        database = str(row[0]) if row else ""
        try:
            await conn.execute(custom_plans_statement(database))
        except psycopg.errors.InsufficientPrivilege:
            logger.warning("Cannot set plan_cache_mode on %s; set it as its owner (docs/operations.md)", database)
        for item in await collection_tables(conn, schema):
            for field in item.fields:
                name = gin_index_name(item.table, field)
                statement = sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {}.{} USING gin ((_jsonb -> {}))").format(
                    sql.Identifier(name), sql.Identifier(schema), sql.Identifier(item.table), sql.Literal(field)
                )
                before = await (
                    await conn.execute(
                        "SELECT 1 FROM pg_indexes WHERE schemaname = %s AND indexname = %s", (schema, name)
                    )
                ).fetchone()
                if before is None:
                    try:
                        await conn.execute(statement)
                    except (psycopg.errors.UniqueViolation, psycopg.errors.DuplicateTable):
                        continue  # another gateway process created it at the same moment
                    except psycopg.errors.LockNotAvailable:
                        logger.info("Table %s is busy; its GIN index %s waits for the next sync", item.table, name)
                        continue
                    created += 1
    if created:
        logger.info("created %d GIN indexes for FerretDB's filters in %s", created, schema)
    return created


async def keep_gin_indexes(postgres_url: str, schema: str, every_seconds: float = _RESYNC_SECONDS) -> None:
    """Re-run ensure_gin_indexes forever (collections appear on their first insert)."""
    while True:
        await asyncio.sleep(every_seconds)
        try:
            await ensure_gin_indexes(postgres_url, schema)
        except psycopg.Error:
            logger.exception("Could not sync the GIN indexes; retrying later")
