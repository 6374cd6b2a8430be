"""Customers talk to the real assistant through the REST channel, in Russian and in English.

Every story runs against the whole platform (FerretDB, the action server, the trained
Rasa model and the gateway), so a reply here is what a customer would read.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable

import aiohttp
import pytest

from core.db import Database
from tests.rest_support import Customer, buttons, said

Mint = Callable[..., str]


@pytest.fixture
async def new_customer(bank: Database) -> AsyncIterator[str]:
    """A customer who has just opened a card (its own, so no other story blocks it first)."""
    customer_id = f"story-{uuid.uuid4().hex[:8]}"
    await bank.bank_customers.insert_one({"_id": customer_id, "full_name": "Мария Иванова", "language": "ru"})
    await bank.bank_cards.insert_one(
        {
            "_id": f"{customer_id}-card",
            "customer_id": customer_id,
            "last4": "7391",
            "payment_system": "Мир",
            "product_name": "Мир Classic",
            "kind": "debit",
            "status": "active",
            "currency": "RUB",
            "balance_kopecks": 1_500_000,
        }
    )
    yield customer_id
    await bank.bank_cards.delete_many({"customer_id": customer_id})
    await bank.bank_customers.delete_one({"_id": customer_id})


@pytest.fixture
def customer(http: aiohttp.ClientSession, gateway_url: str) -> Callable[..., Customer]:
    def make(token: str | None = None) -> Customer:
        return Customer(http, gateway_url, token)

    return make


# --- Small talk -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Здравствуйте", "Здравствуйте"),
        ("привет", "Здравствуйте"),
        ("Hello there", "Hello"),
        ("спасибо большое", "Пожалуйста"),
        ("ты бот?", "бот"),
        ("are you a real person?", "bot"),
    ],
)
async def test_small_talk_is_answered_in_the_customers_language(
    customer: Callable[..., Customer], text: str, expected: str
) -> None:
    replies = await customer().says(text)
    assert expected.lower() in said(replies).lower()


async def test_the_conversation_switches_language_with_the_customer(customer: Callable[..., Customer]) -> None:
    someone = customer()
    assert "Здравствуйте" in said(await someone.says("добрый день"))
    assert "Hello" in said(await someone.says("hi, good morning"))


# --- Balance and transactions -------------------------------------------------------------------


async def test_ivan_signed_in_hears_every_balance_formatted_in_russian(
    customer: Callable[..., Customer], mint_token: Mint
) -> None:
    text = said(await customer(mint_token("demo-ivan")).says("какой у меня баланс?"))
    assert "48 250,35 ₽" in text  # Мир •••• 5678
    assert "112 430,50 ₽" in text and "150 000,00 ₽" in text  # the credit card: available of limit
    assert "5678" in text and "9012" in text


async def test_john_signed_in_asks_in_english(customer: Callable[..., Customer], mint_token: Mint) -> None:
    text = said(await customer(mint_token("demo-john")).says("how much money do I have on my card?"))
    assert "RUB 5,420.00" in text
    assert "3344" in text


async def test_ivan_sees_his_last_five_transactions(customer: Callable[..., Customer], mint_token: Mint) -> None:
    text = said(await customer(mint_token("demo-ivan")).says("покажи последние операции"))
    lines = [line for line in text.splitlines() if line.startswith("•")]
    assert len(lines) == 5
    assert "Пятёрочка" in text and "-1 245,60 ₽" in text
    assert "25.11.2026" in text


async def test_john_sees_transactions_in_english(customer: Callable[..., Customer], mint_token: Mint) -> None:
    text = said(await customer(mint_token("demo-john")).says("show me my recent transactions"))
    assert "Recent transactions" in text
    assert "RUB -540.00" in text or "-RUB 540.00" in text


async def test_an_unsigned_customer_is_asked_to_sign_in_and_learns_nothing(customer: Callable[..., Customer]) -> None:
    replies = await customer().says("сколько денег на карте")
    text = said(replies)
    # The chat's own sign-in is offered (issue 20), not "sign in to the app and write from there".
    assert "войдёте" in text and "/sign_in" in [b["payload"] for b in buttons(replies)]
    assert "₽" not in text


async def test_a_token_for_nobody_gets_the_same_answer_as_no_token(
    customer: Callable[..., Customer], mint_token: Mint
) -> None:
    guest = said(await customer().says("what is my balance"))
    stranger = said(await customer(mint_token("no-such-customer")).says("what is my balance"))
    assert "sign in" in guest
    assert "RUB" not in stranger


# --- Blocking a card --------------------------------------------------------------------------


async def test_a_customer_blocks_a_lost_card_after_confirming(
    customer: Callable[..., Customer], mint_token: Mint, new_customer: str, bank: Database
) -> None:
    maria = customer(mint_token(new_customer))
    ask = await maria.says("я потеряла карту")
    assert "Какую карту заблокировать" in said(ask)
    assert any("7391" in b["title"] for b in buttons(ask))

    confirm = await maria.says("7391")
    assert "Заблокировать карту" in said(confirm) and "7391" in said(confirm)

    done = await maria.says("да")
    assert "заблокирована" in said(done)
    card = await bank.bank_cards.find_one({"customer_id": new_customer})
    assert card is not None and card["status"] == "blocked"
    audit = await bank.audit_log.find_one({"customer_id": new_customer})
    assert audit is not None
    assert audit["channel"] == "rest" and audit["conversation_id"] == maria.conversation_id


async def test_a_customer_changes_their_mind_and_the_card_keeps_working(
    customer: Callable[..., Customer], mint_token: Mint, new_customer: str, bank: Database
) -> None:
    maria = customer(mint_token(new_customer))
    await maria.says("заблокируйте карту")
    await maria.says("7391")
    text = said(await maria.says("нет"))
    assert "ничего не блокировал" in text
    card = await bank.bank_cards.find_one({"customer_id": new_customer})
    assert card is not None and card["status"] == "active"


async def test_the_bot_never_takes_a_full_card_number(
    customer: Callable[..., Customer], mint_token: Mint, new_customer: str, bank: Database
) -> None:
    maria = customer(mint_token(new_customer))
    await maria.says("block my card please")
    text = said(await maria.says("2202 2063 1234 7391"))
    assert "2202 2063 1234" not in text
    stored = [doc["text"] async for doc in bank.messages.find({"conversation_id": maria.conversation_id})]
    assert stored and not any("2202 2063" in t or "220220631234" in t for t in stored)


async def test_an_unsigned_customer_who_lost_a_card_is_offered_an_operator(customer: Callable[..., Customer]) -> None:
    text = said(await customer().says("I lost my card"))
    assert "sign in" in text.lower() or "operator" in text.lower()


# --- People, off-topic, FAQ ------------------------------------------------------------------


@pytest.mark.parametrize("text", ["позовите оператора", "позовите человека", "live agent please"])
async def test_asking_for_a_person_hands_the_conversation_off(
    customer: Callable[..., Customer], bank: Database, text: str
) -> None:
    someone = customer()
    replies = await someone.says(text)
    assert "оператор" in said(replies).lower() or "operator" in said(replies).lower()
    conversation = await bank.conversations.find_one({"_id": someone.conversation_id})
    assert conversation is not None
    assert conversation["state"] == "queued"
    assert conversation["handoff"]["reason"] == "customer_request"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("как приготовить борщ", "не помогу"),
        ("кто выиграл вчера в футбол", "не помогу"),
        ("what's the weather like in London", "can't help"),
        ("йцукен фыва", "не помогу"),
    ],
)
async def test_off_topic_and_nonsense_get_an_honest_out_of_scope_reply(
    customer: Callable[..., Customer], text: str, expected: str
) -> None:
    replies = await customer().says(text)
    assert expected in said(replies)
    assert "₽" not in said(replies) and "RUB" not in said(replies)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("как активировать новую карту?", "актив"),
        ("какой номер горячей линии?", "8 800"),
        ("How do I activate my new card?", "activ"),
    ],
)
async def test_a_question_about_the_bank_is_answered_from_the_knowledge_base(
    customer: Callable[..., Customer], text: str, expected: str
) -> None:
    replies = await customer().says(text)
    assert expected in said(replies).lower()


async def test_two_questions_the_knowledge_base_cannot_answer_bring_an_operator(
    customer: Callable[..., Customer], bank: Database
) -> None:
    someone = customer()
    first = await someone.says("Сколько стоит аренда сейфовой ячейки?")
    assert "не знаю" in said(first)
    assert any(b["payload"] == '/request_operator{"handoff_reason": "kb_no_answer"}' for b in buttons(first))
    second = await someone.says("Можно ли обменять у вас старые монеты на купюры?")
    assert "оператор" in said(second).lower(), second
    conversation = await bank.conversations.find_one({"_id": someone.conversation_id})
    assert conversation is not None and conversation["state"] == "queued"
    assert conversation["handoff"]["reason"] == "kb_no_answer"
    unanswered = [doc["text"] async for doc in bank.kb_unanswered.find({"conversation_id": someone.conversation_id})]
    assert "Сколько стоит аренда сейфовой ячейки?" in unanswered


async def test_an_escalating_article_answers_and_the_operator_button_says_why(
    customer: Callable[..., Customer], bank: Database
) -> None:
    someone = customer()
    answer = await someone.says("Банкомат не вернул мою карту, что теперь делать?")
    assert "заблокируйте карту" in said(answer)
    offer = [b for b in buttons(answer) if b["payload"].startswith("/request_operator")]
    assert offer, answer
    await someone.says(offer[0]["payload"])
    conversation = await bank.conversations.find_one({"_id": someone.conversation_id})
    assert conversation is not None and conversation["state"] == "queued"
    assert conversation["handoff"]["reason"] == "kb_escalate"
