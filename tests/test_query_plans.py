"""Every query a customer's turn makes reads through an index PostgreSQL really uses (issue 9).

A gateway of its own runs on FerretDB on a PostgreSQL that logs the plan of every
statement (auto_explain) with sequential scans priced out (`enable_seqscan=off`):
the planner then scans a table only when no index can serve the query, so a
`Seq Scan` in the log is a query that would read a whole growing collection. The
gateway talks to the session's Rasa; conversations cover a bot answer, a KB answer,
a handoff and messages while queued. The same holds for what runs every few seconds
(the snooze and service-level sweeps) and for the pages staff keep open (the inbox's
views and counts, the supervisor's live list): those read only the open conversations.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pymongo import AsyncMongoClient, MongoClient

from core import pg_indexes, pgcluster
from core.db import Database, Document
from core.stack import Stack
from handoff import inbox, service_levels, snooze, supervision
from handoff.bus import EventBus
from handoff.service_levels import ServiceLevels
from tests.rest_support import rest_message

# Collections that stay small whatever the traffic (staff, configuration, the KB's own few documents);
# everything else grows with customers, conversations or messages and must be read through an index.
BOUNDED = frozenset({"operators", "staff", "canned_responses", "kb_meta", "kb_articles", "_ferretdb_database_metadata"})

_SEQ_SCAN_RE = re.compile(r"Seq Scan on (?:\w+\.)?(\w+)")


@pytest.fixture(scope="module")
def explaining_gateway(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    own = Stack(
        data_dir=tmp_path_factory.mktemp("plans"),
        postgres_settings={
            "session_preload_libraries": "auto_explain",
            "auto_explain.log_min_duration": "0",
            "auto_explain.log_format": "text",
            "enable_seqscan": "off",
        },
    )
    own.ports["rasa"] = stack.ports["rasa"]
    try:
        own.start_ferretdb()
        own.start_gateway()
        yield own
    finally:
        own.stop()


async def conversation(http: aiohttp.ClientSession, gateway_url: str, sender: str, token: str) -> None:
    """A bot answer, a bank answer, a KB answer, a handoff and a message while queued."""
    for text in ["Здравствуйте", "какой баланс на карте?", "как снять наличные за границей?", "позовите оператора"]:
        await rest_message(http, gateway_url, sender, text, token)
    await rest_message(http, gateway_url, sender, "вы тут?", token)


async def staff_pages_and_sweeps(db: Database) -> None:
    """What the gateway runs every few seconds and what the console and supervisor page read."""
    now = datetime.now(UTC)
    levels = ServiceLevels.configured("00:00-24:00", "Europe/Moscow")
    await snooze.wake_due(db, EventBus(db), now)
    await service_levels.announce_breaches(db, EventBus(db), levels, now)
    for view in inbox.View:
        await inbox.rows(db, view, "olga", None, levels=levels)
    await inbox.summary(db, "olga", None)
    await supervision.open_conversations(db, now)


def read_from(path: Path, offset: int) -> str:
    """What the PostgreSQL log got since `offset`."""
    return path.read_bytes()[offset:].decode(errors="replace")


def table_collections(stack: Stack) -> dict[str, str]:
    """PostgreSQL table -> FerretDB collection, from FerretDB's metadata (as core/pg_indexes reads it)."""
    client: MongoClient[dict[str, Any]] = MongoClient(stack.mongodb_uri)
    try:
        # The table of each collection is what FerretDB's explain names as the relation.
        names = client[stack.mongodb_db].list_collection_names()
        found = {}
        for name in names:
            plan = client[stack.mongodb_db].command("explain", {"find": name, "filter": {"_id": 0}})
            found[plan["queryPlanner"]["Plan"]["Relation Name"]] = name
        return found
    finally:
        client.close()


async def test_turns_sweeps_and_staff_pages_read_no_growing_collection_by_a_sequential_scan(
    explaining_gateway: Stack, mint_token: Any
) -> None:
    own = explaining_gateway
    pg_url = pgcluster.ferretdb_url(own.ports["postgres"])
    async with aiohttp.ClientSession() as http:
        token = mint_token("demo-ivan")
        # A first conversation creates the collections that come into being on their first insert; the
        # gateway gives them their indexes on its periodic pass, which this test runs at once.
        await conversation(http, own.gateway_url, "plans-warmup", token)
        await pg_indexes.ensure_gin_indexes(pg_url, own.mongodb_db)
        log = own.data_dir / "logs" / "postgres.log"
        start = log.stat().st_size
        await conversation(http, own.gateway_url, "plans-ivan", token)
        await rest_message(http, own.gateway_url, "plans-guest", "hello, what is my balance?")
    client: AsyncMongoClient[Document] = AsyncMongoClient(own.mongodb_uri, tz_aware=True)
    try:
        await staff_pages_and_sweeps(client[own.mongodb_db])
    finally:
        await client.close()
    plans = await asyncio.to_thread(read_from, log, start)
    assert "Index Scan" in plans  # the log really holds the turns' plans
    tables = table_collections(own)
    scanned = {tables.get(table, table) for table in _SEQ_SCAN_RE.findall(plans)}
    assert scanned <= BOUNDED, f"sequential scans of growing collections: {sorted(scanned - BOUNDED)}"
