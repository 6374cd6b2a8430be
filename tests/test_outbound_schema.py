"""Several outbound workers and gateways starting at once on an empty outbound database all come up.

Each process applies procrastinate's schema when it is missing. The check ran under an advisory lock but the
schema was applied after the lock's transaction had ended, so two processes starting together could both
find it missing and both apply it (the second fails on tables that now exist). Now the check and the apply
are one transaction under the lock.
"""

from __future__ import annotations

import asyncio

import psycopg

from outbound import store
from outbound.queue import create_queue_app, ensure_queue_schema

from .outbound_support import OutboundStack, outbound_stack  # noqa: F401 -- the fixture

STARTING_AT_ONCE = 6


async def test_six_processes_starting_at_once_apply_the_queue_schema_once_and_all_start(
    outbound_stack: OutboundStack,  # noqa: F811
) -> None:
    url = outbound_stack.new_database_url()
    apps = [create_queue_app(url) for _ in range(STARTING_AT_ONCE)]
    for app in apps:
        await app.open_async()
    pools = [await store.open_pool(url) for _ in range(STARTING_AT_ONCE)]
    try:
        results = await asyncio.gather(
            *(ensure_queue_schema(app) for app in apps),
            *(store.ensure_schema(pool) for pool in pools),
            return_exceptions=True,
        )
        assert [r for r in results if isinstance(r, BaseException)] == []
        async with await psycopg.AsyncConnection.connect(url) as conn:
            cursor = await conn.execute("SELECT count(*) FROM pg_tables WHERE tablename = 'procrastinate_jobs'")
            assert await cursor.fetchone() == (1,)
        # A later start finds it there and changes nothing; a job can be queued on it.
        await ensure_queue_schema(apps[0])
        job = await apps[0].configure_task("outbound.schema_probe", queue="outbound").defer_async()
        assert job > 0
    finally:
        for app in apps:
            await app.close_async()
        for pool in pools:
            await pool.close()
