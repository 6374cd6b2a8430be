"""Staff sign-in under attack: growing lockouts per account and per address, shared by gateway processes, audited.

Each test builds the real gateway in-process on the stack's database server, in a database of its
own (the counters live there, so the tests do not lock each other out); "two gateway processes"
are two apps on the same database.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from core import signin_guard
from core.app import create_app
from core.keys import DB_KEY
from core.signin_guard import SignInPolicy
from core.stack import Stack
from handoff.setup import DEMO_STAFF_PASSWORD

from .handoff_support import gateway_settings

Client = TestClient[web.Request, web.Application]
SIGN_IN = "/api/console/sign-in"
POLICY = SignInPolicy()


@pytest.fixture
async def gateway(stack: Stack, aiohttp_client: Any) -> Client:
    client: Client = await aiohttp_client(create_app(gateway_settings(stack, "signin")))
    return client


async def sign_in(client: Client, login: str, password: str) -> tuple[int, dict[str, Any], str | None]:
    resp = await client.post(SIGN_IN, json={"login": login, "password": password})
    return resp.status, await resp.json(), resp.headers.get("Retry-After")


def test_the_lockout_doubles_after_the_free_failures() -> None:
    free = POLICY.free_failures_per_account
    assert [POLICY.lockout(n, free) for n in range(1, free + 5)] == [0.0] * free + [1.0, 2.0, 4.0, 8.0]
    assert POLICY.lockout(free + 40, free) == POLICY.max_lockout_seconds


async def test_guessing_a_password_locks_the_account_and_even_the_right_password_waits(gateway: Client) -> None:
    for _ in range(POLICY.free_failures_per_account + 1):
        status, body, _ = await sign_in(gateway, "olga", "guess")
        assert status == 401, body
    status, body, retry_after = await sign_in(gateway, "olga", DEMO_STAFF_PASSWORD)
    assert status == 429
    assert body["error"].startswith("Too many failed sign-ins; try again in")
    assert retry_after is not None and int(retry_after) >= 1

    # A colleague on the same address is not locked out by Olga's account.
    status, _, _ = await sign_in(gateway, "kate", DEMO_STAFF_PASSWORD)
    assert status == 200

    # The wait grows: after it passes, one more wrong guess locks for twice as long.
    await asyncio.sleep(1.1)
    assert (await sign_in(gateway, "olga", "guess"))[0] == 401
    status, _, retry_after = await sign_in(gateway, "olga", DEMO_STAFF_PASSWORD)
    assert status == 429 and retry_after == "2"
    await asyncio.sleep(2.1)
    status, body, _ = await sign_in(gateway, "olga", DEMO_STAFF_PASSWORD)
    assert status == 200, "the right password after the wait signs in and clears the count"
    assert (await sign_in(gateway, "olga", "typo"))[0] == 401


async def test_many_accounts_from_one_address_lock_the_address(gateway: Client) -> None:
    for n in range(POLICY.free_failures_per_address + 1):
        status, _, _ = await sign_in(gateway, f"nobody-{n}", "guess")
        assert status == 401
    status, body, _ = await sign_in(gateway, "sveta", DEMO_STAFF_PASSWORD)
    assert status == 429, body


async def test_failed_and_refused_sign_ins_are_audited_without_the_password(gateway: Client) -> None:
    for _ in range(POLICY.free_failures_per_account + 2):
        await sign_in(gateway, "kate", "hunter2-secret")
    await sign_in(gateway, "4111 1111 1111 1111", "x")
    audit = [doc async for doc in gateway.app[DB_KEY].signin_audit.find({}, {"_id": 0}).sort("at", 1)]
    outcomes = [(doc["login"], doc["outcome"], doc["page"]) for doc in audit]
    free = POLICY.free_failures_per_account
    assert outcomes[: free + 1] == [("kate", "failed", "console_sign_in")] * (free + 1)
    assert outcomes[free + 1] == ("kate", "refused_locked", "console_sign_in")
    assert outcomes[-1] == ("•••• 1111", "failed", "console_sign_in")
    assert all(doc["address"] == "127.0.0.1" for doc in audit)
    assert "hunter2" not in repr(audit)


async def test_two_gateway_processes_share_the_counters(stack: Stack, aiohttp_client: Any) -> None:
    settings = gateway_settings(stack, "signin_shared")
    first: Client = await aiohttp_client(create_app(settings))
    second: Client = await aiohttp_client(create_app(settings))
    for n in range(POLICY.free_failures_per_account + 1):
        assert (await sign_in(first if n % 2 else second, "olga", "guess"))[0] == 401
    assert (await sign_in(first, "olga", DEMO_STAFF_PASSWORD))[0] == 429
    assert (await sign_in(second, "olga", DEMO_STAFF_PASSWORD))[0] == 429


async def test_customers_are_answered_while_sign_ins_are_hammered(gateway: Client) -> None:
    """Sixty parallel wrong sign-ins: the limiter refuses most of them and the public search keeps answering."""

    async def hammer(n: int) -> int:
        return (await sign_in(gateway, ("olga", "kate", "sveta")[n % 3], f"guess-{n}"))[0]

    async def customer_searches() -> list[int]:
        statuses = []
        for question in ["как заблокировать карту", "how do I block my card", "лимит по карте", "курс валют"]:
            resp = await gateway.get("/api/kb/search", params={"q": question})
            statuses.append(resp.status)
        return statuses

    results = await asyncio.gather(customer_searches(), *(hammer(n) for n in range(60)))
    searches, sign_ins = results[0], results[1:]
    assert searches == [200, 200, 200, 200], "customers were answered throughout"
    assert sign_ins.count(429) >= 30, f"the limiter refused most guesses before checking them: {sign_ins}"
    assert set(sign_ins) <= {401, 429}


async def test_a_double_click_on_sign_in_is_asked_to_wait_a_moment_not_the_lockout(gateway: Client) -> None:
    first, second = await asyncio.gather(
        sign_in(gateway, "kate", DEMO_STAFF_PASSWORD), sign_in(gateway, "kate", DEMO_STAFF_PASSWORD)
    )
    statuses = sorted([first[0], second[0]])
    assert statuses in ([200, 200], [200, 429])
    if statuses == [200, 429]:
        refused = first if first[0] == 429 else second
        assert refused[2] == "1", "one password check per account at a time; the other waits a second"
    assert (await sign_in(gateway, "kate", DEMO_STAFF_PASSWORD))[0] == 200


async def test_first_attempts_from_one_address_at_the_same_moment_are_all_admitted_and_counted(gateway: Client) -> None:
    """Several accounts tried at once from a new address: none fails on a race, and each one counts.

    Every attempt is a document of its own, so the count is exact on FerretDB too (it used to apply
    the address counter's `$inc` as read-modify-write and count 4 of 8); tests/test_concurrent_writes.py
    repeats this for 20 rounds.
    """
    db = gateway.app[DB_KEY]
    address = "198.51.100.77"
    now = datetime.now(UTC)
    logins = [f"race-{n}" for n in range(8)]
    await asyncio.gather(*(signin_guard.begin(db, login, address, now=now, policy=SignInPolicy()) for login in logins))
    counted = await signin_guard.failures(db, "race-0", address, now=now, policy=SignInPolicy())
    assert counted == {"account": 0, "address": 0}, "admitted and still being checked: no failure yet"
    for login in logins:
        await signin_guard.finish(db, login, address, succeeded=False, now=now, policy=SignInPolicy())
    counted = await signin_guard.failures(db, "race-0", address, now=now, policy=SignInPolicy())
    assert counted == {"account": 1, "address": len(logins)}
