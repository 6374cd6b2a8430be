"""Two Rasa processes behind one gateway keep every conversation's turns in order (issue 9).

The processes share Rasa's SQL tracker store and Rasa's Redis lock store, as
`RASA_PROCESSES=2 ./scripts/run` runs them. Many conversations talk at once,
interleaved; each conversation's turns must reach the bot, and its tracker must hold
them, in the order the customer sent them, whichever process served them. Some turns
go straight to the other process, as after a failover, and continue the same tracker.
"""

from __future__ import annotations

import asyncio
import json
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from core.stack import Stack
from handoff.bot_pool import slot_index
from tests.rest_support import rest_message

CONVERSATIONS = 12
TURNS = ["Здравствуйте", "какой баланс на карте?", "покажи последние операции", "спасибо"]


@pytest.fixture(scope="module")
def two_rasa(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Two Rasa processes on the session's database and action server, with Redis, and a gateway over both."""
    own = Stack(data_dir=tmp_path_factory.mktemp("scale"), mongodb_db=stack.mongodb_db)
    own.ports.update({key: stack.ports[key] for key in ("postgres", "ferretdb", "actions")})
    try:
        own.start_redis()
        own.start_rasa("rasa")
        own.start_rasa("rasa-2")
        for url in own.rasa_urls:
            warm_up(url, own.rasa_token)
        own.start_gateway()
        yield own
    finally:
        own.stop()


def warm_up(rasa_url: str, token: str) -> None:
    """One turn on a freshly started Rasa: its first turns are slow (lazy parts) and would hit the 4 s bot timeout
    when twelve conversations start at once on a loaded machine (seen at load 10-18)."""
    body = {"sender": f"warm-up-{uuid.uuid4().hex[:8]}", "message": "Здравствуйте", "metadata": {"channel": "rest"}}
    request = urllib.request.Request(  # noqa: S310 -- the stack's own loopback URL
        f"{rasa_url}/webhooks/gateway/webhook",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=120) as resp:  # noqa: S310
        resp.read()


async def tracker_texts(http: aiohttp.ClientSession, rasa_url: str, token: str, conversation_id: str) -> list[str]:
    url = f"{rasa_url}/conversations/{conversation_id}/tracker?token={token}"
    async with http.get(url) as resp:
        tracker: dict[str, Any] = await resp.json()
    return [event.get("text") for event in tracker["events"] if event.get("event") == "user"]


async def test_interleaved_conversations_keep_their_order_across_two_rasa_processes(
    two_rasa: Stack, mint_token: Any
) -> None:
    token = mint_token("demo-anna")
    conversation_ids: dict[str, str] = {}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as http:

        async def customer(n: int) -> None:
            for text in TURNS:
                turn = await rest_message(http, two_rasa.gateway_url, f"scale-{n}", f"{text} #{n}", token)
                assert turn["state"] == "bot", turn
                conversation_ids[f"scale-{n}"] = turn["conversation_id"]

        await asyncio.gather(*(customer(n) for n in range(CONVERSATIONS)))

        urls = two_rasa.rasa_urls
        served = {slot_index(cid, len(urls)) for cid in conversation_ids.values()}
        assert served == {0, 1}, "both Rasa processes served conversations"

        # A failover: the next turn of every conversation goes to the process that did not serve it.
        async def failover(n: int) -> None:
            cid = conversation_ids[f"scale-{n}"]
            other = urls[1 - slot_index(cid, len(urls))]
            body = {"sender": cid, "message": f"и ещё вопрос #{n}", "metadata": {"channel": "rest", "language": "ru"}}
            headers = {"Authorization": f"Bearer {two_rasa.rasa_token}"}
            async with http.post(f"{other}/webhooks/gateway/webhook", json=body, headers=headers) as resp:
                assert resp.status == 200

        await asyncio.gather(*(failover(n) for n in range(CONVERSATIONS)))

        for n in range(CONVERSATIONS):
            cid = conversation_ids[f"scale-{n}"]
            for url in urls:
                texts = await tracker_texts(http, url, two_rasa.rasa_token, cid)
                assert texts == [f"{text} #{n}" for text in TURNS] + [f"и ещё вопрос #{n}"], (url, texts)
