"""Recent transactions: the last five, newest first, dated and signed for the customer's language."""

from __future__ import annotations

from rasa_sdk.executor import CollectingDispatcher

from actions.dependencies import FixedBackend
from actions.texts import text
from actions.transactions import ActionRecentTransactions
from core.banking import MongoBankingBackend

from .trackers import DOMAIN, metadata, rub, texts, tracker, verified


async def ask(backend: MongoBankingBackend, customer_id: str, language: str = "ru", **slots: str) -> list[str]:
    dispatcher = CollectingDispatcher()
    conversation = tracker(
        "операции",
        "recent_transactions",
        meta=metadata(customer_id, language),
        slots=verified(customer_id, language) | slots,
    )
    await ActionRecentTransactions(FixedBackend(backend)).run(dispatcher, conversation, DOMAIN)
    return texts(dispatcher)


async def test_ivan_sees_his_last_five_operations_newest_first(backend: MongoBankingBackend) -> None:
    assert await ask(backend, "demo-ivan") == [
        "Последние операции:\n"
        f"• 25.11.2026 Пятёрочка: {rub('-1 245,60 ₽')}\n"
        f"• 25.11.2026 Яндекс Такси: {rub('-412,00 ₽')}\n"
        f"• 24.11.2026 Ozon: {rub('-3 499,00 ₽')}\n"
        f"• 24.11.2026 ВкусВилл: {rub('-867,45 ₽')}\n"
        f"• 23.11.2026 Перевод от Анны С.: {rub('+5 000,00 ₽')}"
    ]


async def test_john_sees_them_in_english(backend: MongoBankingBackend) -> None:
    assert await ask(backend, "demo-john", "en") == [
        "Recent transactions:\n"
        "• 25 Nov 2026 Шоколадница: -RUB\u00a0540.00\n"
        "• 24 Nov 2026 Азбука Вкуса: -RUB\u00a03,210.70\n"
        "• 23 Nov 2026 Яндекс Такси: -RUB\u00a0689.00\n"
        "• 22 Nov 2026 Salary Global Tech LLC: +RUB\u00a0150,000.00\n"
        "• 21 Nov 2026 Аэрофлот: -RUB\u00a024,500.00"
    ]


async def test_operations_of_one_card(backend: MongoBankingBackend) -> None:
    assert await ask(backend, "demo-ivan", card_last4="9012") == [
        "Последние операции по карте Mastercard •••• 9012:\n"
        f"• 24.11.2026 Ozon: {rub('-3 499,00 ₽')}\n"
        f"• 21.11.2026 Аэрофлот: {rub('-18 740,00 ₽')}\n"
        f"• 18.11.2026 Wildberries: {rub('-2 150,00 ₽')}"
    ]


async def test_a_card_that_is_not_theirs(backend: MongoBankingBackend) -> None:
    assert await ask(backend, "demo-john", "en", card_last4="5678") == [
        "I couldn't find a card of yours ending in 5678."
    ]


async def test_unverified_customer_gets_the_sign_in_text(backend: MongoBankingBackend) -> None:
    dispatcher = CollectingDispatcher()
    conversation = tracker("покажи операции demo-anna", "recent_transactions", meta=metadata(None))

    await ActionRecentTransactions(FixedBackend(backend)).run(dispatcher, conversation, DOMAIN)

    assert texts(dispatcher) == [text("ru", "sign_in_transactions")]
    assert [b["payload"] for b in dispatcher.messages[0]["buttons"]] == ["/sign_in"]
