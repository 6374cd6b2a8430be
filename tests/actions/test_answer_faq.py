"""action_answer_faq on the seed knowledge base in a real FerretDB: answer, clarify, admit a miss, escalate."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.knowledge import ActionAnswerFaq, FixedKnowledgeBase
from core.db import Database
from knowledge_base import store
from knowledge_base.config import default_model
from knowledge_base.embeddings import Encoder, load_encoder
from knowledge_base.seed import load_seed
from knowledge_base.service import CachingEncoder, KnowledgeBase

from .trackers import DOMAIN, metadata, texts, tracker

pytest_plugins = ("tests.kb_support",)


@pytest.fixture(scope="module")
def encoder() -> Encoder | None:
    # One embedding cache for the module: each test's fresh database re-indexes the same seed texts.
    inner = load_encoder(default_model())
    return CachingEncoder(inner) if inner is not None else None


@pytest.fixture
async def action(kb_db: Database, encoder: Encoder | None) -> AsyncIterator[ActionAnswerFaq]:
    await store.import_articles(kb_db, load_seed(), by="seed", now=datetime.now(UTC))
    yield ActionAnswerFaq(FixedKnowledgeBase(KnowledgeBase(kb_db, encoder), kb_db))


async def ask(action: ActionAnswerFaq, text: str, *, language: str = "ru", channel: str = "webchat", **kw: Any):  # type: ignore[no-untyped-def]
    dispatcher = CollectingDispatcher()
    slots = {"language": language}
    events = await action.run(
        dispatcher, tracker(text, "faq", meta=metadata(None, language, channel), slots=slots, **kw), DOMAIN
    )
    return events, dispatcher


async def test_a_clear_question_gets_the_articles_answer(action: ActionAnswerFaq) -> None:
    _, dispatcher = await ask(action, "Как активировать новую карту?")
    assert "Активировать карту" in texts(dispatcher)[0]


async def test_english_questions_get_english_answers(action: ActionAnswerFaq) -> None:
    _, dispatcher = await ask(action, "what is your hotline number", language="en")
    assert "8 800 000-00-00" in texts(dispatcher)[0]
    assert "звоните" not in texts(dispatcher)[0]


async def test_on_the_phone_the_short_voice_answer_is_read(action: ActionAnswerFaq) -> None:
    seed = {a.id: a for a in load_seed()}
    _, dispatcher = await ask(action, "Как активировать новую карту?", channel="voice")
    assert texts(dispatcher)[0] == seed["card_activation"].text("voice_answer", "ru")


async def test_an_escalating_article_answers_then_offers_an_operator(action: ActionAnswerFaq) -> None:
    _, dispatcher = await ask(action, "Банкомат забрал карту, что делать?")
    assert texts(dispatcher)[1:] == ["Если нужна помощь сотрудника, я соединю вас с оператором.", "Ответ помог?"]
    offer = dispatcher.messages[1]["buttons"][0]
    assert offer["payload"] == '/request_operator{"handoff_reason": "kb_escalate"}'
    votes = [b["title"] for b in dispatcher.messages[-1]["buttons"]]
    assert votes == ["Помогло", "Не помогло"]


async def test_a_close_call_offers_three_articles_and_a_person(action: ActionAnswerFaq) -> None:
    # Several card articles fit a vague "problem with the card" (declined, activation, ATM), so the bot asks.
    _, dispatcher = await ask(action, "проблема с картой")
    assert texts(dispatcher) == ["Уточните, пожалуйста, что вы имели в виду:"]
    payloads = [b["payload"] for b in dispatcher.messages[0]["buttons"]]
    assert len(payloads) == 4
    assert all(p.startswith('/faq{"kb_article": ') for p in payloads[:3])
    assert payloads[3] == '/request_operator{"handoff_reason": "kb_no_answer"}'


async def test_a_did_you_mean_button_is_answered_directly(action: ActionAnswerFaq) -> None:
    entities = [{"entity": "kb_article", "value": "cashback"}]
    _, dispatcher = await ask(action, '/faq{"kb_article": "cashback"}', entities=entities)
    assert "кешбэк" in texts(dispatcher)[0].lower()


async def test_a_question_nobody_wrote_an_answer_for_is_recorded_and_marked_as_a_miss(
    action: ActionAnswerFaq, kb_db: Database
) -> None:
    question = "Сколько стоит аренда сейфовой ячейки?"
    _, dispatcher = await ask(action, question, sender_id="conv-moon")
    assert "не знаю" in texts(dispatcher)[0]
    assert dispatcher.messages[0]["buttons"][0]["payload"] == "/request_operator" + json.dumps(
        {"handoff_reason": "kb_no_answer"}
    )
    assert {"fallback": "kb_no_answer"} in [m.get("custom") for m in dispatcher.messages]
    unanswered = await store.list_unanswered(kb_db)
    assert [(u.text, u.conversation_id) for u in unanswered] == [(question, "conv-moon")]
