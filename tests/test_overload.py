"""More customers than the bot serves at once wait for it instead of going to operators (issue 9).

A gateway that lets one bot call run at a time (BOT_CONCURRENCY=1) gets a dozen
conversations at once. Each message waits its turn in the gateway; the bot timeout
counts only from when its call is served, so nobody is handed off for
`bot_unavailable` although most wait longer than the timeout.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pymongo import AsyncMongoClient

from core.stack import Stack
from tests.rest_support import rest_message

CUSTOMERS = 12
TURNS = ["Здравствуйте", "какой баланс на карте?", "спасибо"]


@pytest.fixture
def one_call_at_a_time(stack: Stack, tmp_path: Path) -> Iterator[Stack]:
    other = Stack(data_dir=tmp_path, mongodb_db=f"overload_{int(time.time())}")
    other.ports = {"ferretdb": stack.ports["ferretdb"], "rasa": stack.ports["rasa"]}
    other.start_gateway({"BOT_CONCURRENCY": "1", "BOT_TIMEOUT_SECONDS": "4"})
    yield other
    other.stop()


async def test_a_dozen_customers_at_once_all_get_the_bot(one_call_at_a_time: Stack, mint_token: Any) -> None:
    token = mint_token("demo-ivan")
    waits: list[float] = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=180)) as http:

        async def customer(n: int) -> list[str]:
            states = []
            for text in TURNS:
                started = time.monotonic()
                turn = await rest_message(http, one_call_at_a_time.gateway_url, f"crowd-{n}", text, token)
                waits.append(time.monotonic() - started)
                states.append(turn["state"])
            return states

        results = await asyncio.gather(*(customer(n) for n in range(CUSTOMERS)))
    assert all(state == "bot" for states in results for state in states), results
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(one_call_at_a_time.mongodb_uri)
    try:
        db = client[one_call_at_a_time.mongodb_db]
        assert await db.conversations.count_documents({"handoff.reason": "bot_unavailable"}) == 0
    finally:
        await client.close()
    # The queue really formed: with one call at a time, a dozen first messages cannot all be served at once.
    assert max(waits) > min(waits) * 3
