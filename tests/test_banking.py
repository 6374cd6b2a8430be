"""The demo bank on a real FerretDB: what the assistant reads, and blocking a card once, with an audit trail."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from bson import Decimal128
from pymongo.errors import PyMongoError

from core.banking import (
    BlockStatus,
    CardKind,
    CardStatus,
    MongoBankingBackend,
    create_banking_backend,
    find_audit_records,
    from_kopecks,
    to_kopecks,
)
from core.db import Database
from core.demo_data import seed_demo_bank
from core.settings import Settings

from .bank_support import NOW, backend, bank_db, ferretdb_uri, mongo_client

__all__ = ["backend", "bank_db", "ferretdb_uri", "mongo_client"]


async def test_ivan_has_two_debit_cards_one_blocked_and_a_credit_card_with_a_limit(
    backend: MongoBankingBackend,
) -> None:
    cards = await backend.list_cards("demo-ivan")

    assert [(c.display_name, c.kind, c.status) for c in cards] == [
        ("Мир •••• 5678", CardKind.DEBIT, CardStatus.ACTIVE),
        ("Visa •••• 1234", CardKind.DEBIT, CardStatus.BLOCKED),
        ("Mastercard •••• 9012", CardKind.CREDIT, CardStatus.ACTIVE),
    ]
    assert cards[0].balance == Decimal("48250.35")
    assert (cards[2].credit_limit, cards[2].available, cards[2].balance) == (
        Decimal("150000.00"),
        Decimal("112430.50"),
        None,
    )


async def test_accounts_are_masked_to_their_last_four_digits_and_hold_rubles(backend: MongoBankingBackend) -> None:
    accounts = await backend.list_accounts("demo-ivan")

    assert [(a.masked_number, a.kind.value, a.balance, a.currency) for a in accounts] == [
        ("•••• 4417", "current", Decimal("15300.00"), "RUB"),
        ("•••• 8830", "savings", Decimal("250000.00"), "RUB"),
    ]


async def test_no_full_card_number_is_stored_anywhere(bank_db: Database) -> None:
    for doc in await bank_db.bank_cards.find({}).to_list():
        digit_fields = {k: v for k, v in doc.items() if isinstance(v, str) and v.isdigit()}
        assert digit_fields == {"last4": doc["last4"]}
        assert len(doc["last4"]) == 4


async def test_recent_transactions_are_the_newest_first_with_signed_decimal_amounts(
    backend: MongoBankingBackend,
) -> None:
    transactions = await backend.recent_transactions("demo-ivan", limit=5)

    assert [(t.booked_at, t.merchant, t.amount) for t in transactions] == [
        (datetime(2026, 11, 25, 16, 42, tzinfo=UTC), "Пятёрочка", Decimal("-1245.60")),
        (datetime(2026, 11, 25, 6, 15, tzinfo=UTC), "Яндекс Такси", Decimal("-412.00")),
        (datetime(2026, 11, 24, 17, 5, tzinfo=UTC), "Ozon", Decimal("-3499.00")),
        (datetime(2026, 11, 24, 10, 30, tzinfo=UTC), "ВкусВилл", Decimal("-867.45")),
        (datetime(2026, 11, 23, 7, 0, tzinfo=UTC), "Перевод от Анны С.", Decimal("5000.00")),
    ]


async def test_transactions_of_one_card(backend: MongoBankingBackend) -> None:
    transactions = await backend.recent_transactions("demo-ivan", limit=5, card_last4="9012")

    assert [(t.merchant, t.card_last4) for t in transactions] == [
        ("Ozon", "9012"),
        ("Аэрофлот", "9012"),
        ("Wildberries", "9012"),
    ]


async def test_every_demo_customer_has_a_history_with_incomes_and_expenses(backend: MongoBankingBackend) -> None:
    for customer_id in ("demo-ivan", "demo-anna", "demo-john"):
        history = await backend.recent_transactions(customer_id, limit=100)
        assert 10 <= len(history) <= 20
        assert any(t.amount > 0 for t in history)
        assert any(t.amount < 0 for t in history)


async def test_unknown_customer_has_nothing(backend: MongoBankingBackend) -> None:
    assert await backend.get_customer("demo-nobody") is None
    assert await backend.list_cards("demo-nobody") == []
    assert await backend.list_accounts("demo-nobody") == []


async def test_blocking_is_done_once_and_every_attempt_is_audited(
    backend: MongoBankingBackend, bank_db: Database
) -> None:
    first = await backend.block_card("demo-ivan", "5678", actor="bot", channel="webchat", conversation_id="conv-1")
    again = await backend.block_card("demo-ivan", "5678", actor="bot", channel="webchat", conversation_id="conv-1")

    assert first.status is BlockStatus.BLOCKED
    assert first.card is not None and first.card.status is CardStatus.BLOCKED
    assert again.status is BlockStatus.ALREADY_BLOCKED
    card = await bank_db.bank_cards.find_one({"_id": "demo-ivan-card-1"})
    assert card is not None and (card["status"], card["blocked_by"], card["blocked_at"]) == ("blocked", "bot", NOW)
    records = await find_audit_records(bank_db.audit_log, "demo-ivan")
    assert [{k: v for k, v in r.items() if k != "_id"} for r in records] == [
        {
            "action": "card.block",
            "actor": "bot",
            "at": NOW,
            "channel": "webchat",
            "conversation_id": "conv-1",
            "customer_id": "demo-ivan",
            "card_last4": "5678",
            "result": result,
        }
        for result in ("blocked", "already_blocked")
    ]


async def test_concurrent_block_requests_leave_the_card_blocked(
    backend: MongoBankingBackend, bank_db: Database
) -> None:
    results = await asyncio.gather(
        *(
            backend.block_card("demo-anna", "4821", actor="bot", channel="rest", conversation_id=f"c{i}")
            for i in range(5)
        )
    )

    assert {r.status for r in results} <= {BlockStatus.BLOCKED, BlockStatus.ALREADY_BLOCKED}
    assert BlockStatus.BLOCKED in {r.status for r in results}
    card = await bank_db.bank_cards.find_one({"_id": "demo-anna-card-1"})
    assert card is not None and card["status"] == "blocked"
    assert len(await find_audit_records(bank_db.audit_log, "demo-anna")) == 5


async def test_a_customer_cannot_block_someone_elses_card(backend: MongoBankingBackend, bank_db: Database) -> None:
    result = await backend.block_card("demo-john", "5678", actor="bot", channel="rest", conversation_id="conv-2")

    assert result.status is BlockStatus.NOT_FOUND and result.card is None
    ivan_card = await bank_db.bank_cards.find_one({"_id": "demo-ivan-card-1"})
    assert ivan_card is not None and ivan_card["status"] == "active"
    [record] = await find_audit_records(bank_db.audit_log, "demo-john")
    assert (record["card_last4"], record["result"]) == ("5678", "not_found")


async def test_seeding_again_duplicates_nothing_and_restores_the_documented_state(
    backend: MongoBankingBackend, bank_db: Database
) -> None:
    await backend.block_card("demo-ivan", "5678", actor="bot", channel="rest", conversation_id="conv-3")

    await seed_demo_bank(bank_db)

    assert await bank_db.bank_customers.count_documents({}) == 3
    assert await bank_db.bank_transactions.count_documents({"customer_id": "demo-ivan"}) == 15
    card = await bank_db.bank_cards.find_one({"_id": "demo-ivan-card-1"})
    assert card is not None and card["status"] == "active" and "blocked_at" not in card
    assert len(await find_audit_records(bank_db.audit_log, "demo-ivan")) == 1


async def test_ferretdb_rejects_decimal128(bank_db: Database) -> None:
    # If this starts failing, FerretDB learned Decimal128 and money could be stored as such.
    with pytest.raises(PyMongoError):
        await bank_db.decimal_probe.insert_one({"amount": Decimal128("12345.67")})


async def test_money_is_stored_as_integer_kopecks_and_read_as_decimal(bank_db: Database) -> None:
    doc = await bank_db.bank_accounts.find_one({"_id": "demo-ivan-account-1"})
    assert doc is not None and doc["balance_kopecks"] == 1_530_000
    assert from_kopecks(1_530_000) == Decimal("15300.00")
    assert to_kopecks(Decimal("12345.67")) == 1_234_567


def test_fractions_of_a_kopeck_are_refused_not_rounded() -> None:
    with pytest.raises(ValueError, match="fractions of a kopeck"):
        to_kopecks(Decimal("0.005"))


def test_an_unknown_backend_name_fails_at_start(bank_db: Database) -> None:
    with pytest.raises(ValueError, match="BANKING_BACKEND 'core-banking'"):
        create_banking_backend(Settings(banking_backend="core-banking"), bank_db)
