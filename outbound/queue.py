"""The job queue: procrastinate on PostgreSQL, durable across restarts, served by any number of workers.

One job per attempt ("deliver this id, not before this time"); the job carries only the id, so a
job run twice (a retried stalled job, a re-deferred lost one) meets the attempt's claim and does
nothing. A periodic job reaps attempts whose worker died (outbound/delivery.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import procrastinate
from procrastinate import PsycopgConnector
from procrastinate.types import JSONValue

QUEUE = "outbound"
DELIVER_TASK = "outbound.deliver"
REAP_TASK = "outbound.reap"


def create_queue_app(url: str) -> procrastinate.App:
    """The procrastinate app on the outbound database (tasks are registered by outbound/worker.py)."""
    return procrastinate.App(connector=PsycopgConnector(conninfo=url, min_size=1, max_size=4))


async def ensure_queue_schema(app: procrastinate.App) -> None:
    """Apply procrastinate's schema once: checked and applied inside one transaction under an advisory lock.

    The lock is a transaction's, so the schema is written on the same connection before it commits; applied
    after the commit (procrastinate's apply_schema_async, its own connection), two processes starting at once
    could both find it missing and both apply it.
    """
    async with app.connector.pool.connection() as conn, conn.transaction():  # type: ignore[attr-defined]
        await conn.execute("SELECT pg_advisory_xact_lock(7218002)")
        cursor = await conn.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL")
        row = await cursor.fetchone()
        present = bool(row[0] if isinstance(row, tuple) else next(iter(row.values())))
        if not present:
            await conn.execute(app.schema_manager.get_schema())


async def defer_deliveries(app: procrastinate.App, attempts: Sequence[tuple[str, datetime]]) -> None:
    """One delivery job per attempt, scheduled at its earliest time, deferred in batches."""
    for start in range(0, len(attempts), 1000):
        batch = attempts[start : start + 1000]
        by_time: dict[datetime, list[str]] = {}
        for attempt_id, at in batch:
            by_time.setdefault(at, []).append(attempt_id)
        for at, ids in by_time.items():
            deferrer = app.configure_task(DELIVER_TASK, queue=QUEUE, schedule_at=at)
            jobs: list[dict[str, JSONValue]] = [{"attempt_id": i} for i in ids]
            await deferrer.batch_defer_async(*jobs)


async def defer_delivery(app: procrastinate.App, attempt_id: str, at: datetime) -> None:
    """One more delivery job (a wait for the window, a retry after a temporary failure)."""
    await app.configure_task(DELIVER_TASK, queue=QUEUE, schedule_at=at).defer_async(attempt_id=attempt_id)
