"""Replies to the bank's contacts, understood by the assistant: wordings no pattern lists, in both languages.

The platform is real (FerretDB, Rasa with the trained model, the action server); the gateway is the
app factory with outbound on, its attempts in a PostgreSQL database of this story. A fraud alert
reached Ivan's conversation (as the outbound worker records it); Ivan answers in his own words and
the assistant's NLU (the bot's own affirm / deny / dispute_charge / block_card intents, read in the
alert's context) decides: "yes" closes it; a probable "no" asks the alert's question once more with
its buttons, and the "no" button blocks the card on the audited path and brings the fraud team with
the alert; still unclear, the fraud team takes over without a block. Asking for a person in reply
to a reminder brings the loans team with the reminder. Each wording is checked to be beyond the word
patterns, so the model, not a pattern, understood it. Buttons keep working, and a message that
answers nothing goes on to the bot.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from core.app import create_app
from core.db import Database
from core.identity import mint_customer_token
from core.keys import DB_KEY
from core.settings import LOCAL_REST_API_KEY, LOCAL_REST_INTEGRATION
from core.stack import Stack
from handoff import conversations
from outbound import store
from outbound.http import OUTBOUND_KEY
from outbound.messages import answer_payload
from outbound.models import Attempt, AttemptState, Channel, Kind
from outbound.replies import answer_of, yes_or_no

from .handoff_support import gateway_settings
from .outbound_support import OutboundStack

Gateway = TestClient[web.Request, web.Application]
IVAN_CARD = "5678"


@pytest.fixture
async def gateway(stack: Stack, aiohttp_client: Any, monkeypatch: pytest.MonkeyPatch) -> Gateway:
    monkeypatch.setenv("OUTBOUND_DATABASE_URL", OutboundStack(stack).new_database_url())
    client: Gateway = await aiohttp_client(create_app(gateway_settings(stack, "replies")))
    return client


def pool_of(gateway: Gateway) -> store.Pool:
    pool = gateway.app[OUTBOUND_KEY].pool
    assert pool is not None, "outbound is on (OUTBOUND_DATABASE_URL)"
    return pool


async def contacted(gateway: Gateway, kind: Kind, sender: str, data: dict[str, Any]) -> tuple[str, str]:
    """The bank's message reached Ivan's REST conversation, as the outbound worker records it."""
    db: Database = gateway.app[DB_KEY]
    pool = pool_of(gateway)
    now = datetime.now(UTC)
    # The REST channel keys a conversation by integration and sender (connectors/rest.py).
    conversation = await conversations.open_conversation(db, "rest", f"{LOCAL_REST_INTEGRATION}:{sender}", now)
    attempt = Attempt(
        id=store.new_id("att"),
        kind=kind,
        customer_id="demo-ivan",
        channel=Channel.TELEGRAM,
        state=AttemptState.SENDING,
        earliest_at=now,
        data=data,
    )
    await store.insert_attempts(pool, [attempt])
    await store.set_attempt(pool, attempt.id, to=AttemptState.SENT, from_states=[AttemptState.SENDING], sent_at=now)
    await store.set_conversation(pool, attempt.id, conversation.id)
    return attempt.id, conversation.id


async def ivan_writes(gateway: Gateway, stack: Stack, sender: str, text: str) -> list[dict[str, Any]]:
    token = mint_customer_token("demo-ivan", stack.customer_token_secret)
    resp = await gateway.post(
        "/api/channels/rest/messages",
        json={"sender": sender, "text": text, "customer_token": token},
        headers={"X-Api-Key": LOCAL_REST_API_KEY},
    )
    assert resp.status == 200, await resp.text()
    return list((await resp.json())["replies"])


FRAUD = {"card_last4": IVAN_CARD, "amount": "12990.00", "merchant": "ELECTRO SHOP", "notice": "fraud_alert"}
REMINDER = {"product": "Кредит наличными", "amount": "15400.00", "due_date": "2026-12-15"}
# A no in words no pattern lists (the model reads deny / dispute_charge), and a yes (affirm).
PROBABLY_NOT_ME = ["Точно нет", "I don't recognise this purchase"]
WAS_ME = ["Всё верно", "Correct"]
A_PERSON = ["позовите менеджера", "can I talk to someone"]
NO_BUTTON = answer_payload("no")


def test_the_wordings_of_these_stories_are_beyond_the_word_patterns() -> None:
    """Otherwise the stories below would prove the patterns, not the assistant's understanding."""
    assert [yes_or_no(t) for t in PROBABLY_NOT_ME + WAS_ME] == [None] * 4
    assert [answer_of(t) for t in A_PERSON] == [None] * 2


@pytest.mark.parametrize("text", PROBABLY_NOT_ME)
async def test_ivan_says_in_his_own_words_it_was_not_him_confirms_with_a_tap_and_the_card_is_blocked(
    gateway: Gateway, stack: Stack, text: str
) -> None:
    sender = f"ivan-{store.new_id('s')}"
    attempt_id, conversation_id = await contacted(gateway, Kind.FRAUD_ALERT, sender, FRAUD)
    pool = pool_of(gateway)

    [asked] = await ivan_writes(gateway, stack, sender, text)
    assert f"•••• {IVAN_CARD}" in asked["text"] and asked["text"].endswith(("совершали вы?", f"{IVAN_CARD}?"))
    assert [b["payload"] for b in asked["buttons"]] == [answer_payload("yes"), NO_BUTTON]
    attempt = await store.get_attempt(pool, attempt_id)
    assert attempt is not None and attempt.answer is None, "nothing blocked on a sentence alone"

    blocked, *_notices = await ivan_writes(gateway, stack, sender, NO_BUTTON)
    assert blocked["text"].startswith((f"Карта •••• {IVAN_CARD} заблокирована", f"Card •••• {IVAN_CARD} is blocked"))
    attempt = await store.get_attempt(pool, attempt_id)
    assert attempt is not None and attempt.answer == "no" and attempt.data["card_blocked"] is True
    conversation = await conversations.get_conversation(gateway.app[DB_KEY], conversation_id)
    assert conversation is not None and conversation.handoff_reason == "fraud_alert"
    assert conversation.team == "fraud"


@pytest.mark.parametrize("text", WAS_ME)
async def test_ivan_confirms_in_his_own_words_and_the_card_keeps_working(
    gateway: Gateway, stack: Stack, text: str
) -> None:
    sender = f"ivan-{store.new_id('s')}"
    attempt_id, _ = await contacted(gateway, Kind.FRAUD_ALERT, sender, FRAUD)

    [confirmed] = await ivan_writes(gateway, stack, sender, text)

    assert "подтверждена" in confirmed["text"] or "confirmed" in confirmed["text"]
    attempt = await store.get_attempt(pool_of(gateway), attempt_id)
    assert attempt is not None and attempt.answer == "yes" and not attempt.data.get("card_blocked")


async def test_an_answer_that_stays_unclear_brings_the_fraud_team_without_a_block(
    gateway: Gateway, stack: Stack
) -> None:
    sender = f"ivan-{store.new_id('s')}"
    attempt_id, conversation_id = await contacted(gateway, Kind.FRAUD_ALERT, sender, FRAUD)

    [asked] = await ivan_writes(gateway, stack, sender, "какая завтра погода в Казани")
    assert asked["text"].startswith("Чтобы не ошибиться")
    handed, *_notices = await ivan_writes(gateway, stack, sender, "какая завтра погода в Казани")
    assert handed["text"].startswith("Передаю разговор специалисту антифрод-службы")

    conversation = await conversations.get_conversation(gateway.app[DB_KEY], conversation_id)
    assert conversation is not None and conversation.team == "fraud" and conversation.handoff_reason == "fraud_alert"
    attempt = await store.get_attempt(pool_of(gateway), attempt_id)
    assert attempt is not None and attempt.answer is None and not attempt.data.get("card_blocked")


@pytest.mark.parametrize("text", A_PERSON)
async def test_ivan_asks_for_a_person_after_a_reminder_and_the_loans_team_sees_it(
    gateway: Gateway, stack: Stack, text: str
) -> None:
    sender = f"ivan-{store.new_id('s')}"
    attempt_id, conversation_id = await contacted(gateway, Kind.PAYMENT_REMINDER, sender, REMINDER)

    await ivan_writes(gateway, stack, sender, text)

    attempt = await store.get_attempt(pool_of(gateway), attempt_id)
    assert attempt is not None and attempt.answer == "operator"
    stored = await gateway.app[DB_KEY].conversations.find_one({"_id": conversation_id})
    assert stored is not None and stored["handoff"]["reason"] == "outbound_reply"
    assert stored["handoff"]["context"]["outbound"]["attempt_id"] == attempt_id, "the operator sees the reminder"


async def test_a_button_still_answers_and_a_question_about_something_else_goes_to_the_bot(
    gateway: Gateway, stack: Stack
) -> None:
    sender = f"ivan-{store.new_id('s')}"
    attempt_id, _ = await contacted(gateway, Kind.PAYMENT_REMINDER, sender, REMINDER)

    [paid] = await ivan_writes(gateway, stack, sender, answer_payload("paid"))
    assert paid["text"].startswith("Спасибо! Отметили, что вы оплатили")
    attempt = await store.get_attempt(pool_of(gateway), attempt_id)
    assert attempt is not None and attempt.answer == "paid"

    balance = await ivan_writes(gateway, stack, sender, "какой баланс на карте")
    assert any(IVAN_CARD in r.get("text", "") for r in balance), "the assistant answered the balance"
