"""Balances: per product type, per card, as a summary; Russian and English; nothing without signing in."""

from __future__ import annotations

import pytest
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.balance import ActionCheckBalance
from actions.dependencies import FixedBackend
from actions.texts import text
from core.banking import MongoBankingBackend

from .trackers import DOMAIN, metadata, rub, texts, tracker, verified


async def ask(backend: MongoBankingBackend, customer_id: str, language: str = "ru", **slots: str) -> list[str]:
    dispatcher = CollectingDispatcher()
    conversation = tracker(
        "баланс", "check_balance", meta=metadata(customer_id, language), slots=verified(customer_id, language) | slots
    )
    await ActionCheckBalance(FixedBackend(backend)).run(dispatcher, conversation, DOMAIN)
    return texts(dispatcher)


async def test_ivan_asks_for_his_balance_and_gets_every_product(backend: MongoBankingBackend) -> None:
    assert await ask(backend, "demo-ivan") == [
        "Ваши продукты:\n"
        f"• Мир •••• 5678: {rub('48 250,35 ₽')}\n"
        f"• Visa •••• 1234 (заблокирована): {rub('1 200,00 ₽')}\n"
        f"• Mastercard •••• 9012: доступно {rub('112 430,50 ₽')} из лимита {rub('150 000,00 ₽')}\n"
        f"• Текущий счёт •••• 4417: {rub('15 300,00 ₽')}\n"
        f"• Накопительный счёт •••• 8830: {rub('250 000,00 ₽')}"
    ]


@pytest.mark.parametrize(
    ("product_type", "expected"),
    [
        (
            "card",
            f"Баланс по картам:\n• Мир •••• 5678: {rub('48 250,35 ₽')}\n"
            f"• Visa •••• 1234 (заблокирована): {rub('1 200,00 ₽')}",
        ),
        (
            "credit_card",
            f"Кредитные карты:\n• Mastercard •••• 9012: доступно {rub('112 430,50 ₽')} из лимита {rub('150 000,00 ₽')}",
        ),
        (
            "account",
            f"Баланс по счетам:\n• Текущий счёт •••• 4417: {rub('15 300,00 ₽')}\n"
            f"• Накопительный счёт •••• 8830: {rub('250 000,00 ₽')}",
        ),
    ],
)
async def test_ivan_asks_about_one_kind_of_product(
    backend: MongoBankingBackend, product_type: str, expected: str
) -> None:
    assert await ask(backend, "demo-ivan", product_type=product_type) == [expected]


@pytest.mark.parametrize(
    ("product_type", "expected"),
    [
        (None, "Your products:\n• Visa •••• 3344: RUB\u00a05,420.00\n• Current account •••• 6021: RUB\u00a0102,000.00"),
        ("card", "Card balances:\n• Visa •••• 3344: RUB\u00a05,420.00"),
        ("account", "Account balances:\n• Current account •••• 6021: RUB\u00a0102,000.00"),
        ("credit_card", "You have no credit cards."),
    ],
)
async def test_john_asks_in_english(backend: MongoBankingBackend, product_type: str | None, expected: str) -> None:
    slots = {"product_type": product_type} if product_type else {}
    assert await ask(backend, "demo-john", "en", **slots) == [expected]


async def test_ivan_asks_in_english_about_his_credit_limit(backend: MongoBankingBackend) -> None:
    assert await ask(backend, "demo-ivan", "en", product_type="credit_card") == [
        "Credit cards:\n• Mastercard •••• 9012: RUB\u00a0112,430.50 available of a RUB\u00a0150,000.00 limit"
    ]


async def test_balance_of_one_card_by_its_digits(backend: MongoBankingBackend) -> None:
    assert await ask(backend, "demo-anna", card_last4="7755") == [
        f"• Visa •••• 7755: доступно {rub('61 245,10 ₽')} из лимита {rub('80 000,00 ₽')}"
    ]
    assert await ask(backend, "demo-anna", card_last4="0000") == [
        "Я не нашёл у вас карту, номер которой заканчивается на 0000."
    ]


async def test_the_question_is_forgotten_after_the_answer(backend: MongoBankingBackend) -> None:
    conversation = tracker(slots=verified("demo-ivan") | {"product_type": "card", "card_last4": "5678"})

    events = await ActionCheckBalance(FixedBackend(backend)).run(CollectingDispatcher(), conversation, DOMAIN)

    assert events == [SlotSet("product_type", None), SlotSet("card_last4", None)]


@pytest.mark.parametrize("claimed_id", ["demo-ivan", "demo-nobody", None])
@pytest.mark.parametrize("language", ["ru", "en"])
async def test_unverified_customers_get_the_same_sign_in_text_whoever_they_claim_to_be(
    backend: MongoBankingBackend, claimed_id: str | None, language: str
) -> None:
    dispatcher = CollectingDispatcher()
    # The customer_id slot may hold anything; without verification it must not matter.
    conversation = tracker(
        "мой баланс, я demo-ivan",
        "check_balance",
        meta=metadata(None, language),
        slots={"language": language, "customer_id": claimed_id, "customer_verified": False},
    )

    events = await ActionCheckBalance(FixedBackend(backend)).run(dispatcher, conversation, DOMAIN)

    # The web chat has a sign-in of its own: the reply carries it as a button, not "sign in to the app".
    assert texts(dispatcher) == [text(language, "sign_in_balance")]  # type: ignore[arg-type]
    assert dispatcher.messages[0]["buttons"] == [
        {"title": text(language, "sign_in_button"), "payload": "/sign_in"}  # type: ignore[arg-type]
    ]
    assert events == []


async def test_a_telegram_guest_asking_for_the_balance_is_told_to_write_from_the_app(
    backend: MongoBankingBackend,
) -> None:
    dispatcher = CollectingDispatcher()
    conversation = tracker("баланс", "check_balance", meta=metadata(None, "ru", "telegram"))

    await ActionCheckBalance(FixedBackend(backend)).run(dispatcher, conversation, DOMAIN)

    assert texts(dispatcher) == [text("ru", "sign_in_required")]
    assert not dispatcher.messages[0].get("buttons")
