"""Demo customers, cards, accounts and transactions of the demo bank, seeded idempotently."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from pymongo import ReplaceOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError

from core.banking import (
    BANK_TIMEZONE,
    CURRENCY,
    AccountKind,
    CardKind,
    CardStatus,
    ensure_indexes,
    release_card_blocks,
    to_kopecks,
)
from core.db import Database, Document

logger = logging.getLogger(__name__)

_DUPLICATE_KEY = 11000

# Transactions are stored with absolute dates computed from this fixed day, so every run, test
# and screenshot shows the same history whatever day it is; the history simply ages.
DEMO_BASE_DATE = date(2026, 11, 25)

_CUSTOMERS: list[Document] = [
    # Phones are E.164 (core.banking.normalize_phone); Telegram contacts and caller ids find customers by them.
    # Outbound contacts read the time zone (windows are the customer's local hours) and the marketing consent.
    {"_id": "demo-ivan", "full_name": "Иван Петров", "language": "ru", "phone": "+79160000001",
     "timezone": "Europe/Moscow", "marketing_consent": True, "contact_channels": ["telegram", "call"]},
    {"_id": "demo-anna", "full_name": "Анна Смирнова", "language": "ru", "phone": "+79160000002",
     "timezone": "Asia/Yekaterinburg", "marketing_consent": False, "contact_channels": ["telegram", "sms"]},
    {"_id": "demo-john", "full_name": "John Smith", "language": "en", "phone": "+79160000003",
     "timezone": "Europe/London", "marketing_consent": True, "contact_channels": ["telegram", "call"]},
]  # fmt: skip

# Loan instalments and credit-card minimum payments: (id, customer, product, name, amount, days from the
# first seed to the due date, card). Created once with dates relative to that day, then left alone, so a
# payment marked paid stays paid and reminders find payments due in the coming days.
_PAYMENTS: list[tuple[str, str, str, str, str, int, str | None]] = [
    ("demo-ivan-loan-1", "demo-ivan", "loan", "Потребительский кредит", "12450.00", 3, None),
    ("demo-ivan-cc-9012", "demo-ivan", "credit_card", "Кредитная карта 100 дней", "3500.00", 5, "9012"),
    ("demo-anna-cc-7755", "demo-anna", "credit_card", "Кредитная карта Visa Gold", "2100.50", 3, "7755"),
    ("demo-john-loan-1", "demo-john", "loan", "Car loan", "28900.00", 7, None),
]


def _card(
    card_id: str,
    customer_id: str,
    last4: str,
    payment_system: str,
    product_name: str,
    kind: CardKind,
    status: CardStatus,
    *,
    balance: str | None = None,
    credit_limit: str | None = None,
    available: str | None = None,
) -> Document:
    doc: Document = {
        "_id": card_id,
        "customer_id": customer_id,
        "last4": last4,
        "payment_system": payment_system,
        "product_name": product_name,
        "kind": kind.value,
        "status": status.value,
        "currency": CURRENCY,
    }
    for field, value in (
        ("balance_kopecks", balance),
        ("credit_limit_kopecks", credit_limit),
        ("available_kopecks", available),
    ):
        if value is not None:
            doc[field] = to_kopecks(Decimal(value))
    return doc


def _account(
    account_id: str, customer_id: str, last4: str, kind: AccountKind, product_name: str, balance: str
) -> Document:
    return {
        "_id": account_id,
        "customer_id": customer_id,
        "last4": last4,
        "kind": kind.value,
        "product_name": product_name,
        "balance_kopecks": to_kopecks(Decimal(balance)),
        "currency": CURRENCY,
    }


_CARDS: list[Document] = [
    _card("demo-ivan-card-1", "demo-ivan", "5678", "Мир", "Мир Classic", CardKind.DEBIT, CardStatus.ACTIVE,
          balance="48250.35"),
    _card("demo-ivan-card-2", "demo-ivan", "1234", "Visa", "Visa Classic", CardKind.DEBIT, CardStatus.BLOCKED,
          balance="1200.00"),
    _card("demo-ivan-card-3", "demo-ivan", "9012", "Mastercard", "Кредитная карта 100 дней", CardKind.CREDIT,
          CardStatus.ACTIVE, credit_limit="150000.00", available="112430.50"),
    _card("demo-anna-card-1", "demo-anna", "4821", "Мир", "Мир Premium", CardKind.DEBIT, CardStatus.ACTIVE,
          balance="23780.90"),
    _card("demo-anna-card-2", "demo-anna", "7755", "Visa", "Кредитная карта Visa Gold", CardKind.CREDIT,
          CardStatus.ACTIVE, credit_limit="80000.00", available="61245.10"),
    _card("demo-john-card-1", "demo-john", "3344", "Visa", "Visa Classic", CardKind.DEBIT, CardStatus.ACTIVE,
          balance="5420.00"),
]  # fmt: skip

_ACCOUNTS: list[Document] = [
    _account("demo-ivan-account-1", "demo-ivan", "4417", AccountKind.CURRENT, "Текущий счёт", "15300.00"),
    _account("demo-ivan-account-2", "demo-ivan", "8830", AccountKind.SAVINGS, "Накопительный счёт", "250000.00"),
    _account("demo-john-account-1", "demo-john", "6021", AccountKind.CURRENT, "Текущий счёт", "102000.00"),
]


@dataclass(frozen=True)
class _Tx:
    days_before: int  # days before DEMO_BASE_DATE
    at: str  # Moscow time, "HH:MM"
    merchant: str
    amount: str  # signed rubles: negative is spending
    card_last4: str | None = None
    account_last4: str | None = None


_TRANSACTIONS: dict[str, list[_Tx]] = {
    "demo-ivan": [
        _Tx(0, "19:42", "Пятёрочка", "-1245.60", card_last4="5678"),
        _Tx(0, "09:15", "Яндекс Такси", "-412.00", card_last4="5678"),
        _Tx(1, "20:05", "Ozon", "-3499.00", card_last4="9012"),
        _Tx(1, "13:30", "ВкусВилл", "-867.45", card_last4="5678"),
        _Tx(2, "10:00", "Перевод от Анны С.", "5000.00", card_last4="5678"),
        _Tx(3, "18:20", "МТС", "-650.00", card_last4="5678"),
        _Tx(4, "08:47", "Аэрофлот", "-18740.00", card_last4="9012"),
        _Tx(5, "12:10", "Зарплата ООО «Ромашка»", "95000.00", account_last4="4417"),
        _Tx(6, "21:35", "Магнит", "-1530.20", card_last4="5678"),
        _Tx(7, "16:05", "Wildberries", "-2150.00", card_last4="9012"),
        _Tx(8, "11:22", "Кофе Хауз", "-390.00", card_last4="5678"),
        _Tx(9, "19:00", "Перекрёсток", "-2745.80", card_last4="5678"),
        _Tx(10, "10:30", "Проценты по накопительному счёту", "1712.33", account_last4="8830"),
        _Tx(12, "14:45", "Лента", "-4120.10", card_last4="1234"),
        _Tx(14, "09:05", "Кэшбэк за покупки", "356.40", card_last4="5678"),
    ],
    "demo-anna": [
        _Tx(0, "12:40", "ВкусВилл", "-1120.30", card_last4="4821"),
        _Tx(1, "18:55", "Яндекс Еда", "-1389.00", card_last4="4821"),
        _Tx(2, "10:20", "Аптека Ригла", "-745.50", card_last4="4821"),
        _Tx(3, "15:00", "Золотое Яблоко", "-6890.00", card_last4="7755"),
        _Tx(4, "08:30", "Метро Москвы", "-1000.00", card_last4="4821"),
        _Tx(5, "11:11", "Зарплата АО «Вектор»", "87500.00", card_last4="4821"),
        _Tx(6, "20:15", "Ozon", "-2299.00", card_last4="7755"),
        _Tx(7, "09:45", "Билайн", "-550.00", card_last4="4821"),
        _Tx(8, "17:30", "Перевод Ивану П.", "-5000.00", card_last4="4821"),
        _Tx(10, "13:05", "Спортмастер", "-8990.00", card_last4="7755"),
        _Tx(11, "19:25", "Пятёрочка", "-932.15", card_last4="4821"),
        _Tx(13, "10:50", "Кэшбэк за покупки", "214.60", card_last4="4821"),
    ],
    "demo-john": [
        _Tx(0, "08:55", "Шоколадница", "-540.00", card_last4="3344"),
        _Tx(1, "19:30", "Азбука Вкуса", "-3210.70", card_last4="3344"),
        _Tx(2, "23:10", "Яндекс Такси", "-689.00", card_last4="3344"),
        _Tx(3, "12:00", "Salary Global Tech LLC", "150000.00", account_last4="6021"),
        _Tx(4, "14:25", "Аэрофлот", "-24500.00", account_last4="6021"),
        _Tx(5, "18:40", "ВкусВилл", "-1475.25", card_last4="3344"),
        _Tx(6, "10:15", "МТС", "-800.00", card_last4="3344"),
        _Tx(7, "16:50", "Ozon", "-4599.00", card_last4="3344"),
        _Tx(9, "13:35", "Пятёрочка", "-678.90", card_last4="3344"),
        _Tx(11, "11:00", "Перевод с текущего счёта", "10000.00", card_last4="3344"),
    ],
}


def booked_at(days_before: int, at: str) -> datetime:
    """The absolute UTC time of a demo transaction booked `days_before` DEMO_BASE_DATE at Moscow time `at`."""
    hours, minutes = (int(part) for part in at.split(":"))
    local = datetime.combine(DEMO_BASE_DATE - timedelta(days=days_before), time(hours, minutes), BANK_TIMEZONE)
    return local.astimezone(UTC)


def _transaction_documents() -> list[Document]:
    docs: list[Document] = []
    for customer_id, transactions in _TRANSACTIONS.items():
        for number, tx in enumerate(transactions, start=1):
            doc: Document = {
                "_id": f"{customer_id}-tx-{number:02d}",
                "customer_id": customer_id,
                "booked_at": booked_at(tx.days_before, tx.at),
                "merchant": tx.merchant,
                "amount_kopecks": to_kopecks(Decimal(tx.amount)),
                "currency": CURRENCY,
            }
            if tx.card_last4 is not None:
                doc["card_last4"] = tx.card_last4
            if tx.account_last4 is not None:
                doc["account_last4"] = tx.account_last4
            docs.append(doc)
    return docs


async def _upsert_all(collection: AsyncCollection[Document], docs: list[Document]) -> None:
    """Replace each document by its stable id, creating it if missing."""
    operations = [ReplaceOne({"_id": doc["_id"]}, doc, upsert=True) for doc in docs]
    try:
        await collection.bulk_write(operations, ordered=True)
        return
    except BulkWriteError as err:
        if any(e.get("code") != _DUPLICATE_KEY for e in err.details.get("writeErrors", [])):
            raise
    except KeyError:
        # FerretDB's answer to an upsert that lost that race can lack `nModified`, which PyMongo's bulk
        # result reads (seen in the two-gateway start test).
        pass
    # Another gateway seeded the same documents at the same moment and FerretDB does not retry the
    # upsert that lost the race to create one: document by document, an existing one is replaced plainly.
    for doc in docs:
        try:
            await collection.replace_one({"_id": doc["_id"]}, doc, upsert=True)
        except DuplicateKeyError:
            await collection.replace_one({"_id": doc["_id"]}, doc)


def payment_documents(today: date) -> list[Document]:
    """The demo's scheduled payments, due the documented number of days after `today`."""
    docs: list[Document] = []
    for payment_id, customer_id, product, name, amount, days, card in _PAYMENTS:
        doc: Document = {
            "_id": payment_id,
            "customer_id": customer_id,
            "product": product,
            "product_name": name,
            "amount_kopecks": to_kopecks(Decimal(amount)),
            "due_date": (today + timedelta(days=days)).isoformat(),
            "paid_at": None,
            "currency": CURRENCY,
        }
        if card is not None:
            doc["card_last4"] = card
        docs.append(doc)
    return docs


async def seed_payments(payments: AsyncCollection[Document], today: date) -> None:
    """Insert the demo payments that are missing; existing ones (perhaps paid) are kept."""
    known = {doc["_id"] for doc in await payments.find({}, {"_id": 1}).to_list()}
    missing = [doc for doc in payment_documents(today) if doc["_id"] not in known]
    for doc in missing:
        with contextlib.suppress(DuplicateKeyError):  # another gateway process seeded it meanwhile
            await payments.insert_one(doc)


async def seed_demo_bank(db: Database) -> None:
    """Create or reset the demo customers, their products and their history.

    Upserts by stable ids, so running it at every start neither duplicates
    anything nor loses the audit log; it does put blocked-by-a-demo cards back
    into their documented state, so each demo starts from the README's story.
    """
    await ensure_indexes(db)
    await _upsert_all(db.bank_customers, _CUSTOMERS)
    await _upsert_all(db.bank_cards, _CARDS)
    await release_card_blocks(db, [card["_id"] for card in _CARDS if card.get("status") == CardStatus.ACTIVE.value])
    await _upsert_all(db.bank_accounts, _ACCOUNTS)
    await _upsert_all(db.bank_transactions, _transaction_documents())
    await seed_payments(db.bank_payments, datetime.now(BANK_TIMEZONE).date())
    logger.info("Demo bank seeded: %s customers, %s cards", len(_CUSTOMERS), len(_CARDS))
