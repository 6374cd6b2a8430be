"""When Rasa or the action server is down or hangs, the customer is told and handed to an operator."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pymongo import AsyncMongoClient

from core.settings import LOCAL_REST_API_KEY
from core.stack import Stack, free_port

PATH = "/api/channels/rest/messages"
REST_HEADERS = {"Authorization": f"Bearer {LOCAL_REST_API_KEY}"}
# The gateway's one handoff notice: why, then what happens (queue position, or the message/callback offer
# when nobody is online: these gateways have no operator online).
BOT_UNAVAILABLE_RU = (
    "Извините, у нас техническая проблема. Ваше сообщение сохранено, повторять его не нужно. "
    "Сейчас все операторы заняты или не в сети. Вы можете оставить сообщение или заказать обратный звонок — "
    "мы свяжемся с вами."
)
# The customer must hear something within 5 s whatever the bot does (issue 2).
_CUSTOMER_PATIENCE = aiohttp.ClientTimeout(total=5)


def gateway_beside(stack: Stack, tmp_path: Path, rasa_port: int, extra_env: dict[str, str] | None = None) -> Stack:
    """A second gateway on the same FerretDB whose Rasa lives at `rasa_port`."""
    other = Stack(data_dir=tmp_path, mongodb_db=stack.mongodb_db)
    other.ports = {"ferretdb": stack.ports["ferretdb"], "rasa": rasa_port}
    other.start_gateway(extra_env)
    return other


@pytest.fixture
def gateway_without_rasa(stack: Stack, tmp_path: Path) -> Iterator[str]:
    """A Rasa that never comes up: messages wait for it one second (the queue limit), then go to operators."""
    other = gateway_beside(stack, tmp_path, free_port(), {"BOT_QUEUE_TIMEOUT_SECONDS": "1"})
    yield other.gateway_url
    other.stop()


class LateRasa:
    """Rasa's address, answering only from `open()` on: like a Rasa still loading its model."""

    def __init__(self, rasa_port: int) -> None:
        self.port = free_port()
        self._rasa_port = rasa_port
        self._server: asyncio.Server | None = None

    async def open(self) -> None:
        self._server = await asyncio.start_server(self._forward, "127.0.0.1", self.port)

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self._rasa_port)

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
            sink.close()

        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer), return_exceptions=True)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()


@pytest.fixture
async def gateway_before_rasa(stack: Stack, tmp_path: Path) -> AsyncIterator[tuple[str, LateRasa]]:
    late = LateRasa(stack.ports["rasa"])
    other = await asyncio.to_thread(gateway_beside, stack, tmp_path, late.port)
    yield other.gateway_url, late
    await late.close()
    await asyncio.to_thread(other.stop)


@pytest.fixture
async def hanging_rasa() -> AsyncIterator[int]:
    """A TCP peer that accepts the request and never answers, like a stuck Rasa."""

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(-1)
        writer.close()

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()


@pytest.fixture
async def gateway_with_hanging_rasa(stack: Stack, tmp_path: Path, hanging_rasa: int) -> AsyncIterator[str]:
    other = await asyncio.to_thread(gateway_beside, stack, tmp_path, hanging_rasa)
    yield other.gateway_url
    await asyncio.to_thread(other.stop)


@pytest.fixture
def action_server_down(stack: Stack) -> Iterator[None]:
    stack.stop("actions")
    yield
    stack.start_actions()


async def say(http: aiohttp.ClientSession, url: str, sender: str, text: str, token: str | None = None) -> Any:
    body = {"sender": sender, "text": text, "customer_token": token}
    async with http.post(url + PATH, json=body, headers=REST_HEADERS, timeout=_CUSTOMER_PATIENCE) as resp:
        assert resp.status == 200
        return await resp.json()


async def conversation_doc(stack: Stack, conversation_id: str) -> tuple[dict[str, Any], list[str]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.mongodb_uri)
    try:
        db = client[stack.mongodb_db]
        conversation = await db.conversations.find_one({"_id": conversation_id})
        assert conversation is not None
        texts = [doc["text"] async for doc in db.messages.find({"conversation_id": conversation_id}).sort("seq", 1)]
        return conversation, texts
    finally:
        await client.close()


async def test_rasa_down_hands_the_customer_to_an_operator(
    http: aiohttp.ClientSession, stack: Stack, gateway_without_rasa: str
) -> None:
    turn = await say(http, gateway_without_rasa, "fault-down", "Здравствуйте, хочу узнать баланс")
    assert [r["text"] for r in turn["replies"]] == [BOT_UNAVAILABLE_RU]
    assert turn["state"] == "queued"
    conversation, texts = await conversation_doc(stack, turn["conversation_id"])
    assert conversation["handoff"]["reason"] == "bot_unavailable"
    assert texts == ["Здравствуйте, хочу узнать баланс", BOT_UNAVAILABLE_RU]


async def test_a_message_sent_while_rasa_is_starting_waits_for_the_bot(
    http: aiohttp.ClientSession, stack: Stack, gateway_before_rasa: tuple[str, LateRasa]
) -> None:
    url, late = gateway_before_rasa
    body = {"sender": "fault-early", "text": "Здравствуйте"}
    sent = asyncio.ensure_future(http.post(url + PATH, json=body, headers=REST_HEADERS))
    await asyncio.sleep(3)  # Rasa refuses connections meanwhile
    assert not sent.done()
    await late.open()
    async with await sent as resp:
        turn = await resp.json()
    assert turn["state"] == "bot"
    conversation, texts = await conversation_doc(stack, turn["conversation_id"])
    assert "handoff" not in conversation
    assert texts[0] == "Здравствуйте" and len(texts) >= 2


async def test_hanging_rasa_still_answers_within_five_seconds(
    http: aiohttp.ClientSession, stack: Stack, gateway_with_hanging_rasa: str
) -> None:
    turn = await say(http, gateway_with_hanging_rasa, "fault-slow", "Hello, what is my balance?")
    assert [r["text"] for r in turn["replies"]] == [
        "Sorry, we have a technical problem. Your message is saved, no need to repeat it. "
        "No operator is available right now. You can leave a message or request a callback "
        "and we will get back to you."
    ]
    conversation, texts = await conversation_doc(stack, turn["conversation_id"])
    assert conversation["state"] == "queued"
    assert texts[0] == "Hello, what is my balance?"


async def test_messages_after_the_handoff_wait_for_the_operator(
    http: aiohttp.ClientSession, stack: Stack, gateway_without_rasa: str
) -> None:
    await say(http, gateway_without_rasa, "fault-after", "привет")
    turn = await say(http, gateway_without_rasa, "fault-after", "вы тут?")
    assert [r["text"] for r in turn["replies"]] == [
        "Ваше сообщение передано оператору. Пожалуйста, оставайтесь в чате."
    ]
    _, texts = await conversation_doc(stack, turn["conversation_id"])
    assert texts[0] == "привет" and texts[2] == "вы тут?"


async def test_action_server_down_hands_off_and_keeps_the_message(
    http: aiohttp.ClientSession, stack: Stack, gateway_url: str, mint_token: Any, action_server_down: None
) -> None:
    turn = await say(http, gateway_url, "fault-actions", "какой баланс на карте?", mint_token("demo-ivan"))
    assert BOT_UNAVAILABLE_RU in [r["text"] for r in turn["replies"]]
    conversation, texts = await conversation_doc(stack, turn["conversation_id"])
    assert conversation["handoff"]["reason"] == "bot_unavailable"
    assert texts[0] == "какой баланс на карте?"
    assert json.dumps(texts, ensure_ascii=False).count("какой баланс на карте?") == 1
