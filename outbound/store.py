"""Campaigns, contact attempts and survey answers in PostgreSQL (the job queue's own database).

PostgreSQL rather than the FerretDB collections: each attempt is claimed once by an atomic
conditional UPDATE, and a customer's caps are checked under a transaction-scoped advisory lock
on the customer, so two workers sending two campaigns to one customer cannot both take the last
slot of a cap (FerretDB applies conditional updates as read-then-write; see the guide's trap).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from outbound.models import (
    CONTACTED_STATES,
    Attempt,
    AttemptState,
    Campaign,
    CampaignState,
    Channel,
    Kind,
    PastContact,
    Reason,
)

Row = dict[str, Any]
Pool = AsyncConnectionPool[AsyncConnection[Row]]

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbound_campaigns (
    id text PRIMARY KEY,
    name text NOT NULL,
    kind text NOT NULL,
    state text NOT NULL,
    audience jsonb NOT NULL,
    templates jsonb NOT NULL,
    channels jsonb NOT NULL,
    start_at timestamptz NOT NULL,
    end_at timestamptz NOT NULL,
    survey jsonb,
    created_by text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS outbound_attempts (
    id text PRIMARY KEY,
    campaign_id text REFERENCES outbound_campaigns (id),
    notice_id text,
    integration text,
    kind text NOT NULL,
    customer_id text NOT NULL,
    channel text NOT NULL,
    state text NOT NULL,
    reason text,
    earliest_at timestamptz NOT NULL,
    not_after timestamptz,
    tries integer NOT NULL DEFAULT 0,
    claimed_by text,
    contacted_at timestamptz,
    sent_at timestamptz,
    outcome_at timestamptz,
    provider_id text,
    error text,
    answer text,
    conversation_id text,
    data jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS outbound_attempts_customer ON outbound_attempts (customer_id, contacted_at);
CREATE INDEX IF NOT EXISTS outbound_attempts_campaign ON outbound_attempts (campaign_id, state);
CREATE INDEX IF NOT EXISTS outbound_attempts_state ON outbound_attempts (state, contacted_at);
CREATE INDEX IF NOT EXISTS outbound_attempts_conversation ON outbound_attempts (conversation_id);
CREATE UNIQUE INDEX IF NOT EXISTS outbound_attempts_notice
    ON outbound_attempts (integration, notice_id) WHERE notice_id IS NOT NULL;
"""

# Contacts older than this do not matter to any cap (a month is the longest period).
HISTORY_DAYS = 40
_CONTACTED = [s.value for s in CONTACTED_STATES]


def new_id(prefix: str) -> str:
    """A fresh id with a readable prefix ("cmp", "att")."""
    return f"{prefix}_{uuid.uuid4().hex}"


def _lock_key(customer_id: str) -> int:
    """A signed 64-bit advisory lock key for one customer."""
    return int.from_bytes(hashlib.blake2b(customer_id.encode(), digest_size=8).digest(), "big", signed=True)


async def open_pool(url: str, *, max_size: int = 10) -> Pool:
    """A connection pool whose rows are dicts."""
    pool: Pool = AsyncConnectionPool(url, min_size=1, max_size=max_size, open=False, kwargs={"row_factory": dict_row})
    await pool.open(wait=True, timeout=30)
    return pool


async def ensure_schema(pool: Pool) -> None:
    """Create the tables once; an advisory lock keeps several starting processes from racing."""
    async with pool.connection() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(7218001)")
        await conn.execute(SCHEMA)


def campaign_from_row(row: Row, counts: dict[str, int] | None = None) -> Campaign:
    """Map a row of outbound_campaigns."""
    return Campaign(
        id=row["id"],
        name=row["name"],
        kind=Kind(row["kind"]),
        state=CampaignState(row["state"]),
        audience=row["audience"],
        templates=row["templates"],
        channels=[Channel(c) for c in row["channels"]],
        start=row["start_at"],
        end=row["end_at"],
        survey=row["survey"],
        created_by=row["created_by"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        counts=counts or {},
    )


def attempt_from_row(row: Row) -> Attempt:
    """Map a row of outbound_attempts."""
    return Attempt(
        id=row["id"],
        kind=Kind(row["kind"]),
        customer_id=row["customer_id"],
        channel=Channel(row["channel"]),
        state=AttemptState(row["state"]),
        earliest_at=row["earliest_at"],
        campaign_id=row["campaign_id"],
        notice_id=row["notice_id"],
        integration=row["integration"],
        not_after=row["not_after"],
        reason=Reason(row["reason"]) if row["reason"] else None,
        tries=row["tries"],
        contacted_at=row["contacted_at"],
        sent_at=row["sent_at"],
        outcome_at=row["outcome_at"],
        provider_id=row["provider_id"],
        error=row["error"],
        answer=row["answer"],
        conversation_id=row["conversation_id"],
        data=row["data"] or {},
    )


# --- Campaigns -------------------------------------------------------------------------------------


# A campaign's fields a supervisor may edit while it is a draft, in the order of `_editable_values`.
_EDITABLE = ("name", "kind", "audience", "templates", "channels", "start_at", "end_at", "survey", "updated_at")
_CAMPAIGN_COLUMNS = ("id", "state", "created_by", "created_at", *_EDITABLE)
_INSERT_CAMPAIGN = sql.SQL("INSERT INTO outbound_campaigns ({}) VALUES ({})").format(
    sql.SQL(", ").join(map(sql.Identifier, _CAMPAIGN_COLUMNS)),
    sql.SQL(", ").join(sql.Placeholder() * len(_CAMPAIGN_COLUMNS)),
)
_UPDATE_CAMPAIGN = sql.SQL("UPDATE outbound_campaigns SET {} WHERE id = %s AND state = %s").format(
    sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(c)) for c in _EDITABLE)
)


def _editable_values(campaign: Campaign) -> tuple[Any, ...]:
    return (
        campaign.name,
        campaign.kind.value,
        Jsonb(campaign.audience),
        Jsonb(campaign.templates),
        Jsonb([c.value for c in campaign.channels]),
        campaign.start,
        campaign.end,
        Jsonb(campaign.survey) if campaign.survey is not None else None,
        campaign.updated_at,
    )


async def insert_campaign(pool: Pool, campaign: Campaign) -> None:
    """Store a new campaign."""
    async with pool.connection() as conn:
        await conn.execute(
            _INSERT_CAMPAIGN,
            (campaign.id, campaign.state.value, campaign.created_by, campaign.created_at, *_editable_values(campaign)),
        )


async def update_campaign(pool: Pool, campaign: Campaign, *, only_in: CampaignState) -> bool:
    """Replace a campaign's editable fields while it is still in `only_in`; False when it is not."""
    async with pool.connection() as conn:
        cursor = await conn.execute(_UPDATE_CAMPAIGN, (*_editable_values(campaign), campaign.id, only_in.value))
        return cursor.rowcount == 1


async def attempt_counts(pool: Pool, campaign_ids: Sequence[str]) -> dict[str, dict[str, int]]:
    """Attempts per state of each campaign."""
    found: dict[str, dict[str, int]] = {cid: {} for cid in campaign_ids}
    if not campaign_ids:
        return found
    async with pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT campaign_id, state, count(*) AS n FROM outbound_attempts WHERE campaign_id = ANY(%s)"
            " GROUP BY campaign_id, state",
            (list(campaign_ids),),
        )
        for row in await cursor.fetchall():
            found[row["campaign_id"]][row["state"]] = int(row["n"])
    return found


async def get_campaign(pool: Pool, campaign_id: str) -> Campaign | None:
    """One campaign with its attempt counts."""
    async with pool.connection() as conn:
        cursor = await conn.execute("SELECT * FROM outbound_campaigns WHERE id = %s", (campaign_id,))
        row = await cursor.fetchone()
    if row is None:
        return None
    return campaign_from_row(row, (await attempt_counts(pool, [campaign_id]))[campaign_id])


async def campaign_templates(pool: Pool, campaign_id: str) -> dict[str, str]:
    """A campaign's templates only (the worker's read per campaign)."""
    async with pool.connection() as conn:
        cursor = await conn.execute("SELECT templates FROM outbound_campaigns WHERE id = %s", (campaign_id,))
        row = await cursor.fetchone()
    return dict(row["templates"]) if row else {}


async def list_campaigns(pool: Pool, state: CampaignState | None = None, limit: int = 200) -> list[Campaign]:
    """Newest first."""
    async with pool.connection() as conn:
        if state is None:
            cursor = await conn.execute("SELECT * FROM outbound_campaigns ORDER BY created_at DESC LIMIT %s", (limit,))
        else:
            cursor = await conn.execute(
                "SELECT * FROM outbound_campaigns WHERE state = %s ORDER BY created_at DESC LIMIT %s",
                (state.value, limit),
            )
        rows = await cursor.fetchall()
    counts = await attempt_counts(pool, [r["id"] for r in rows])
    return [campaign_from_row(r, counts[r["id"]]) for r in rows]


async def set_campaign_state(
    pool: Pool, campaign_id: str, to: CampaignState, from_states: Iterable[CampaignState], now: datetime
) -> bool:
    """Move the campaign if it is in one of `from_states` (one atomic UPDATE)."""
    async with pool.connection() as conn:
        cursor = await conn.execute(
            "UPDATE outbound_campaigns SET state=%s, updated_at=%s WHERE id=%s AND state = ANY(%s)",
            (to.value, now, campaign_id, [s.value for s in from_states]),
        )
        return cursor.rowcount == 1


async def campaign_state(conn: AsyncConnection[Row], campaign_id: str) -> CampaignState | None:
    """A campaign's state, read inside a caller's transaction."""
    cursor = await conn.execute("SELECT state FROM outbound_campaigns WHERE id = %s", (campaign_id,))
    row = await cursor.fetchone()
    return None if row is None else CampaignState(row["state"])


# --- Attempts --------------------------------------------------------------------------------------

_ATTEMPT_COLUMNS = (
    "id, campaign_id, notice_id, integration, kind, customer_id, channel, state, reason, earliest_at, not_after,"
    " data, conversation_id"
)


def _attempt_values(a: Attempt) -> tuple[Any, ...]:
    return (
        a.id,
        a.campaign_id,
        a.notice_id,
        a.integration,
        a.kind.value,
        a.customer_id,
        a.channel.value,
        a.state.value,
        a.reason.value if a.reason else None,
        a.earliest_at,
        a.not_after,
        Jsonb(a.data),
        a.conversation_id,
    )


async def insert_attempts(pool: Pool, attempts: Sequence[Attempt]) -> None:
    """Store many attempts in one COPY (a campaign of 10,000 customers plans in one round trip)."""
    async with pool.connection() as conn, conn.transaction():
        cursor = conn.cursor()
        async with cursor.copy(f"COPY outbound_attempts ({_ATTEMPT_COLUMNS}) FROM STDIN") as copy:
            for attempt in attempts:
                await copy.write_row(_attempt_values(attempt))


async def insert_notice_attempt(pool: Pool, attempt: Attempt) -> tuple[Attempt, bool]:
    """Store a single notice's attempt once per (integration, notice id); True when it is new."""
    async with pool.connection() as conn:
        cursor = await conn.execute(
            f"INSERT INTO outbound_attempts ({_ATTEMPT_COLUMNS}) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)"  # noqa: S608
            " ON CONFLICT (integration, notice_id) WHERE notice_id IS NOT NULL DO NOTHING RETURNING *",
            _attempt_values(attempt),
        )
        row = await cursor.fetchone()
        if row is not None:
            return attempt_from_row(row), True
        cursor = await conn.execute(
            "SELECT * FROM outbound_attempts WHERE integration = %s AND notice_id = %s",
            (attempt.integration, attempt.notice_id),
        )
        existing = await cursor.fetchone()
    assert existing is not None  # noqa: S101 -- the conflict means the row exists
    return attempt_from_row(existing), False


async def get_attempt(pool: Pool, attempt_id: str) -> Attempt | None:
    """One attempt by id."""
    async with pool.connection() as conn:
        cursor = await conn.execute("SELECT * FROM outbound_attempts WHERE id = %s", (attempt_id,))
        row = await cursor.fetchone()
    return None if row is None else attempt_from_row(row)


async def find_notice(pool: Pool, integration: str, notice_id: str) -> Attempt | None:
    """A single notice's attempt, as its integration named it."""
    async with pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT * FROM outbound_attempts WHERE integration = %s AND notice_id = %s", (integration, notice_id)
        )
        row = await cursor.fetchone()
    return None if row is None else attempt_from_row(row)


async def list_attempts(
    pool: Pool,
    *,
    campaign_id: str | None = None,
    customer_id: str | None = None,
    states: Sequence[AttemptState] = (),
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Attempt], int]:
    """A page of attempts (newest first) and how many match."""
    where: list[str] = ["TRUE"]
    params: list[Any] = []
    if campaign_id is not None:
        where.append("campaign_id = %s")
        params.append(campaign_id)
    if customer_id is not None:
        where.append("customer_id = %s")
        params.append(customer_id)
    if states:
        where.append("state = ANY(%s)")
        params.append([s.value for s in states])
    condition = " AND ".join(where)
    async with pool.connection() as conn:
        cursor = await conn.execute(
            f"SELECT * FROM outbound_attempts WHERE {condition} ORDER BY created_at DESC, id LIMIT %s OFFSET %s",  # noqa: S608
            (*params, limit, offset),
        )
        rows = await cursor.fetchall()
        total_cursor = await conn.execute(f"SELECT count(*) AS n FROM outbound_attempts WHERE {condition}", params)  # noqa: S608
        total = await total_cursor.fetchone()
    return [attempt_from_row(r) for r in rows], int(total["n"]) if total else 0


async def contact_history(conn: AsyncConnection[Row], customer_id: str, now: datetime) -> list[PastContact]:
    """The customer's contacts of the last weeks (made or possibly made), inside a caller's transaction."""
    cursor = await conn.execute(
        "SELECT contacted_at, channel, kind FROM outbound_attempts WHERE customer_id = %s"
        " AND contacted_at > %s - make_interval(days => %s) AND state = ANY(%s)",
        (customer_id, now, HISTORY_DAYS, _CONTACTED),
    )
    return [PastContact(r["contacted_at"], Channel(r["channel"]), Kind(r["kind"])) for r in await cursor.fetchall()]


async def histories(pool: Pool, customer_ids: Sequence[str], now: datetime) -> dict[str, list[PastContact]]:
    """Recent contacts of many customers at once (planning)."""
    found: dict[str, list[PastContact]] = {}
    async with pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT customer_id, contacted_at, channel, kind FROM outbound_attempts WHERE customer_id = ANY(%s)"
            " AND contacted_at > %s - make_interval(days => %s) AND state = ANY(%s)",
            (list(customer_ids), now, HISTORY_DAYS, _CONTACTED),
        )
        for r in await cursor.fetchall():
            found.setdefault(r["customer_id"], []).append(
                PastContact(r["contacted_at"], Channel(r["channel"]), Kind(r["kind"]))
            )
    return found


@asynccontextmanager
async def customer_lock(pool: Pool, customer_id: str) -> AsyncIterator[AsyncConnection[Row]]:
    """A transaction holding the customer's advisory lock: rules checked and the claim made under it."""
    async with pool.connection() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_lock_key(customer_id),))
        yield conn


async def claim(conn: AsyncConnection[Row], attempt_id: str, worker: str, now: datetime) -> bool:
    """Queued -> sending, once: the one UPDATE that lets exactly one worker send an attempt."""
    cursor = await conn.execute(
        "UPDATE outbound_attempts SET state=%s, claimed_by=%s, contacted_at=%s, tries=tries+1 WHERE id=%s AND state=%s",
        (AttemptState.SENDING.value, worker, now, attempt_id, AttemptState.QUEUED.value),
    )
    return cursor.rowcount == 1


async def set_attempt(
    conn_or_pool: AsyncConnection[Row] | Pool,
    attempt_id: str,
    *,
    to: AttemptState,
    from_states: Iterable[AttemptState],
    **fields: Any,
) -> bool:
    """Move an attempt between states, setting columns; False when it was not in `from_states`."""
    names = sorted(fields)
    assignments = "".join(f", {name}=%s" for name in names)
    values = [Jsonb(fields[n]) if n == "data" else fields[n] for n in names]
    query = f"UPDATE outbound_attempts SET state=%s{assignments} WHERE id=%s AND state = ANY(%s)"  # noqa: S608
    params = (to.value, *values, attempt_id, [s.value for s in from_states])
    if isinstance(conn_or_pool, AsyncConnection):
        cursor = await conn_or_pool.execute(query, params)
        return cursor.rowcount == 1
    async with conn_or_pool.connection() as conn:
        cursor = await conn.execute(query, params)
        return cursor.rowcount == 1


async def stale_sending(pool: Pool, older_than: datetime) -> list[str]:
    """Attempts claimed before `older_than` and never recorded: their worker died between send and record."""
    async with pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT id FROM outbound_attempts WHERE state = %s AND contacted_at < %s",
            (AttemptState.SENDING.value, older_than),
        )
        return [r["id"] for r in await cursor.fetchall()]


async def due_queued(pool: Pool, before: datetime, limit: int = 1000) -> list[str]:
    """Queued attempts whose time passed long ago (their job was lost): to be deferred again."""
    async with pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT id FROM outbound_attempts WHERE state = %s AND earliest_at < %s ORDER BY earliest_at LIMIT %s",
            (AttemptState.QUEUED.value, before, limit),
        )
        return [r["id"] for r in await cursor.fetchall()]


async def latest_for_conversation(pool: Pool, conversation_id: str) -> Attempt | None:
    """The newest attempt that reached this conversation (the reply answers it)."""
    async with pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT * FROM outbound_attempts WHERE conversation_id = %s AND sent_at IS NOT NULL"
            " ORDER BY sent_at DESC LIMIT 1",
            (conversation_id,),
        )
        row = await cursor.fetchone()
    return None if row is None else attempt_from_row(row)


async def record_answer(pool: Pool, attempt_id: str, answer: str, now: datetime) -> None:
    """The customer's answer to an attempt (the first one counts for the results; later ones overwrite)."""
    async with pool.connection() as conn:
        await conn.execute(
            "UPDATE outbound_attempts SET answer=%s, outcome_at=%s,"
            " state = CASE WHEN state IN ('sent','delivered') THEN 'replied' ELSE state END WHERE id=%s",
            (answer, now, attempt_id),
        )


async def cancel_open_attempts(pool: Pool, campaign_id: str, now: datetime) -> int:
    """Attempts not yet sent become cancelled."""
    async with pool.connection() as conn:
        cursor = await conn.execute(
            "UPDATE outbound_attempts SET state=%s, outcome_at=%s WHERE campaign_id=%s AND state = ANY(%s)",
            (
                AttemptState.CANCELLED.value,
                now,
                campaign_id,
                [AttemptState.PLANNED.value, AttemptState.QUEUED.value],
            ),
        )
        return cursor.rowcount


async def queued_of_campaign(pool: Pool, campaign_id: str) -> list[tuple[str, datetime]]:
    """Ids and earliest times of a campaign's queued attempts (resume defers their jobs again)."""
    async with pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT id, earliest_at FROM outbound_attempts WHERE campaign_id=%s AND state=%s",
            (campaign_id, AttemptState.QUEUED.value),
        )
        return [(r["id"], r["earliest_at"]) for r in await cursor.fetchall()]


async def merge_data(pool: Pool, attempt_id: str, extra: dict[str, Any]) -> None:
    """Add facts to an attempt (card blocked, handed off); one atomic jsonb merge."""
    async with pool.connection() as conn:
        await conn.execute("UPDATE outbound_attempts SET data = data || %s WHERE id = %s", (Jsonb(extra), attempt_id))


async def set_conversation(pool: Pool, attempt_id: str, conversation_id: str) -> None:
    """The conversation the sent message became a turn of (the reply finds its attempt by it)."""
    async with pool.connection() as conn:
        await conn.execute(
            "UPDATE outbound_attempts SET conversation_id = %s WHERE id = %s", (conversation_id, attempt_id)
        )


async def advance_campaigns(pool: Pool, now: datetime) -> tuple[int, int]:
    """Scheduled campaigns whose start has come run; running ones with nothing left to send finish.

    Returns:
        (campaigns started, campaigns finished).
    """
    open_states = [AttemptState.PLANNED.value, AttemptState.QUEUED.value, AttemptState.SENDING.value]
    async with pool.connection() as conn:
        started = await conn.execute(
            "UPDATE outbound_campaigns SET state=%s, updated_at=%s WHERE state=%s AND start_at <= %s",
            (CampaignState.RUNNING.value, now, CampaignState.SCHEDULED.value, now),
        )
        finished = await conn.execute(
            "UPDATE outbound_campaigns c SET state=%s, updated_at=%s WHERE c.state=%s AND NOT EXISTS"
            " (SELECT 1 FROM outbound_attempts a WHERE a.campaign_id = c.id AND a.state = ANY(%s))",
            (CampaignState.FINISHED.value, now, CampaignState.RUNNING.value, open_states),
        )
        return started.rowcount, finished.rowcount
