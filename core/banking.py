"""The bank backend the assistant reads and acts on: an async interface and its MongoDB demo implementation."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError, PyMongoError

from core.db import Database, Document, insert_if_missing
from core.masking import mask_pan
from core.settings import Settings

logger = logging.getLogger(__name__)

CURRENCY = "RUB"
# The bank's dates are Moscow dates; Moscow has kept UTC+3 all year since 2014, so a fixed
# offset is exact and needs no time zone database.
BANK_TIMEZONE = timezone(timedelta(hours=3), "MSK")
# Money is stored as integer kopecks: FerretDB 1.24 drops the connection on a Decimal128 value,
# and strings would not sort or sum. Decimal is used everywhere above the repository functions.
_KOPECKS_PER_RUBLE = 100
# Russian mobile and landline numbers: 10 digits after the country code 7 (a leading 8 is the domestic prefix).
_RU_NATIONAL_DIGITS = 10
# Reading many documents by id: one pass over the collection once they are at least a tenth of it,
# else this many point lookups at once.
_ONE_PASS_SHARE = 10
_LOOKUPS_AT_ONCE = 16


class ProductType(StrEnum):
    """What a customer may ask about (the `product_type` entity of the assistant)."""

    CARD = "card"
    ACCOUNT = "account"
    CREDIT_CARD = "credit_card"


class CardKind(StrEnum):
    """Debit cards spend own money; credit cards spend a credit limit."""

    DEBIT = "debit"
    CREDIT = "credit"


class CardStatus(StrEnum):
    """A card either works or is blocked; the demo has no unblocking."""

    ACTIVE = "active"
    BLOCKED = "blocked"


class AccountKind(StrEnum):
    """Accounts that are not card accounts."""

    CURRENT = "current"
    SAVINGS = "savings"


class BlockStatus(StrEnum):
    """Outcome of a block request; also written to the audit log."""

    BLOCKED = "blocked"
    ALREADY_BLOCKED = "already_blocked"
    NOT_FOUND = "not_found"


class BankingError(RuntimeError):
    """The backend cannot answer (database down); callers apologise to the customer and log."""


@dataclass(frozen=True)
class Customer:
    """A bank customer as the assistant needs them."""

    customer_id: str
    full_name: str
    # The language the customer chose in the bank's apps: "ru" or "en".
    language: str
    # The registered phone number, E.164; callbacks go to it without asking the customer to type it.
    phone: str | None = None


@dataclass(frozen=True)
class Account:
    """A current or savings account; the number is kept only as its last four digits."""

    account_id: str
    customer_id: str
    last4: str
    kind: AccountKind
    product_name: str
    balance: Decimal
    currency: str = CURRENCY

    @property
    def masked_number(self) -> str:
        """The account number as the customer may see it: '•••• 4417'."""
        return mask_pan(self.last4)


@dataclass(frozen=True)
class Card:
    """A payment card; the full card number is never stored, only its last four digits."""

    card_id: str
    customer_id: str
    last4: str
    payment_system: str
    product_name: str
    kind: CardKind
    status: CardStatus
    # Debit cards: money on the card account. Credit cards: None (see credit_limit/available).
    balance: Decimal | None = None
    credit_limit: Decimal | None = None
    available: Decimal | None = None
    currency: str = CURRENCY

    @property
    def masked_number(self) -> str:
        """'•••• 1234'."""
        return mask_pan(self.last4)

    @property
    def display_name(self) -> str:
        """'Visa •••• 1234': what buttons and messages show."""
        return f"{self.payment_system} {self.masked_number}"

    @property
    def is_active(self) -> bool:
        """Whether the card can still be used (and blocked)."""
        return self.status is CardStatus.ACTIVE


@dataclass(frozen=True)
class Transaction:
    """A booked card or account operation; negative amounts are spending."""

    transaction_id: str
    customer_id: str
    booked_at: datetime
    merchant: str
    amount: Decimal
    currency: str = CURRENCY
    card_last4: str | None = None
    account_last4: str | None = None


class PaymentProduct(StrEnum):
    """What a scheduled payment repays."""

    LOAN = "loan"
    CREDIT_CARD = "credit_card"


@dataclass(frozen=True)
class ScheduledPayment:
    """A loan instalment or a credit card's minimum payment, due on a Moscow date; paid once `paid_at` is set."""

    payment_id: str
    customer_id: str
    product: PaymentProduct
    product_name: str
    amount: Decimal
    due_date: date
    card_last4: str | None = None
    paid_at: datetime | None = None
    currency: str = CURRENCY


@dataclass(frozen=True)
class ContactProfile:
    """What outbound contacts need to know about a customer: where, when and whether they may be reached."""

    customer_id: str
    full_name: str
    language: str
    timezone: str = "Europe/Moscow"
    phone: str | None = None
    marketing_consent: bool = False
    # The customer asked for no more reminders, surveys or offers (reply "стоп", a button, an operator's mark).
    opted_out: bool = False
    # On the bank's do-not-contact list (e.g. a 230-FZ refusal of interaction).
    do_not_contact: bool = False
    # Preferred channels in order ("telegram", "sms", "call"); empty: the campaign's order.
    channels: tuple[str, ...] = ()


@dataclass(frozen=True)
class BlockResult:
    """What a block request did; `card` is the card after the request, None when not found."""

    status: BlockStatus
    card: Card | None = None


class BankingBackend(Protocol):
    """What the assistant and the operator console may ask of the bank's core systems."""

    async def get_customer(self, customer_id: str) -> Customer | None:
        """The customer, or None when the id is unknown."""
        ...

    async def find_customer_by_phone(self, phone: str) -> Customer | None:
        """The customer whose registered phone number this is (Telegram contact, caller id), or None."""
        ...

    async def list_accounts(self, customer_id: str) -> list[Account]:
        """The customer's accounts, in a stable order."""
        ...

    async def list_cards(self, customer_id: str) -> list[Card]:
        """The customer's cards, blocked ones included, in a stable order."""
        ...

    async def recent_transactions(
        self, customer_id: str, limit: int = 5, card_last4: str | None = None
    ) -> list[Transaction]:
        """The newest transactions first, optionally of one card."""
        ...

    async def block_card(
        self, customer_id: str, card_last4: str, *, actor: str, channel: str, conversation_id: str
    ) -> BlockResult:
        """Block one of the customer's cards; calling it again changes nothing and says so."""
        ...

    async def contact_profiles(self, customer_ids: list[str]) -> dict[str, ContactProfile]:
        """Profiles of the customers that exist, by id (unknown ids are missing from the answer)."""
        ...

    async def payments_due(self, on: date) -> list[ScheduledPayment]:
        """Unpaid payments due on this date."""
        ...

    async def list_payments(self, customer_id: str) -> list[ScheduledPayment]:
        """The customer's scheduled payments, paid ones included, by due date."""
        ...

    async def set_opt_out(self, customer_id: str, *, opted_out: bool, actor: str, source: str) -> None:
        """Record the customer's choice about reminders, surveys and offers (audited)."""
        ...

    async def mark_paid(self, payment_id: str) -> bool:
        """The payment arrived: no more reminders for it. True for the call that changed it."""
        ...

    async def set_do_not_contact(self, customer_id: str, *, listed: bool, actor: str) -> None:
        """Put the customer on (or take them off) the do-not-contact list (audited)."""
        ...


def to_kopecks(amount: Decimal) -> int:
    """Decimal rubles to integer kopecks; refuses fractions of a kopeck rather than rounding money."""
    kopecks = amount * _KOPECKS_PER_RUBLE
    if kopecks != kopecks.to_integral_value():
        raise ValueError(f"{amount} has fractions of a kopeck; amounts must have at most two decimal places")
    return int(kopecks)


def from_kopecks(kopecks: int) -> Decimal:
    """Integer kopecks to Decimal rubles with exactly two decimal places."""
    return Decimal(kopecks).scaleb(-2)


def normalize_phone(phone: str) -> str | None:
    """A phone number as the bank stores it, E.164 ("+79160000001"), or None when it is not one.

    Telegram sends contacts without "+" ("79160000001"), caller ids arrive as "+7916..." or,
    from domestic trunks, "8916..."; all of them must find the same customer.
    """
    digits = re.sub(r"\D", "", phone)
    if len(digits) == _RU_NATIONAL_DIGITS + 1 and digits[0] == "8":
        digits = "7" + digits[1:]
    if not 10 <= len(digits) <= 15:  # E.164 allows at most 15 digits
        return None
    return "+" + digits


def _optional_amount(doc: Document, field: str) -> Decimal | None:
    value = doc.get(field)
    return None if value is None else from_kopecks(int(value))


def customer_from_document(doc: Document) -> Customer:
    """Map a bank_customers document."""
    return Customer(
        customer_id=doc["_id"], full_name=doc["full_name"], language=doc.get("language", "ru"), phone=doc.get("phone")
    )


def account_from_document(doc: Document) -> Account:
    """Map a bank_accounts document."""
    return Account(
        account_id=doc["_id"],
        customer_id=doc["customer_id"],
        last4=doc["last4"],
        kind=AccountKind(doc["kind"]),
        product_name=doc["product_name"],
        balance=from_kopecks(int(doc["balance_kopecks"])),
        currency=doc.get("currency", CURRENCY),
    )


def card_from_document(doc: Document) -> Card:
    """Map a bank_cards document."""
    return Card(
        card_id=doc["_id"],
        customer_id=doc["customer_id"],
        last4=doc["last4"],
        payment_system=doc["payment_system"],
        product_name=doc["product_name"],
        kind=CardKind(doc["kind"]),
        status=CardStatus(doc["status"]),
        balance=_optional_amount(doc, "balance_kopecks"),
        credit_limit=_optional_amount(doc, "credit_limit_kopecks"),
        available=_optional_amount(doc, "available_kopecks"),
        currency=doc.get("currency", CURRENCY),
    )


def transaction_from_document(doc: Document) -> Transaction:
    """Map a bank_transactions document."""
    return Transaction(
        transaction_id=doc["_id"],
        customer_id=doc["customer_id"],
        booked_at=doc["booked_at"],
        merchant=doc["merchant"],
        amount=from_kopecks(int(doc["amount_kopecks"])),
        currency=doc.get("currency", CURRENCY),
        card_last4=doc.get("card_last4"),
        account_last4=doc.get("account_last4"),
    )


# --- Repository functions: the only code that builds queries. Each takes its collection. ---------


async def find_customer(customers: AsyncCollection[Document], customer_id: str) -> Document | None:
    """The customer document by id."""
    return await customers.find_one({"_id": customer_id})


async def find_customer_by_phone_number(customers: AsyncCollection[Document], phone: str) -> Document | None:
    """The customer document with this E.164 phone number."""
    return await customers.find_one({"phone": phone})


async def find_accounts(accounts: AsyncCollection[Document], customer_id: str) -> list[Document]:
    """A customer's account documents, in the order they were opened (stable ids sort that way)."""
    return await accounts.find({"customer_id": customer_id}).sort("_id", ASCENDING).to_list()


async def find_cards(cards: AsyncCollection[Document], customer_id: str) -> list[Document]:
    """A customer's card documents, in a stable order."""
    return await cards.find({"customer_id": customer_id}).sort("_id", ASCENDING).to_list()


async def find_card_by_last4(cards: AsyncCollection[Document], customer_id: str, last4: str) -> Document | None:
    """One of the customer's cards by its last four digits; an active one wins if two share them."""
    found = await cards.find({"customer_id": customer_id, "last4": last4}).sort("_id", ASCENDING).to_list()
    active = [doc for doc in found if doc["status"] == CardStatus.ACTIVE.value]
    candidates = active or found
    return candidates[0] if candidates else None


async def find_recent_transactions(
    transactions: AsyncCollection[Document], customer_id: str, limit: int, card_last4: str | None
) -> list[Document]:
    """Newest first; the id breaks ties between operations booked at the same second."""
    query: dict[str, Any] = {"customer_id": customer_id}
    if card_last4 is not None:
        query["card_last4"] = card_last4
    cursor = transactions.find(query).sort([("booked_at", DESCENDING), ("_id", DESCENDING)]).limit(limit)
    return await cursor.to_list()


async def mark_card_blocked(cards: AsyncCollection[Document], card_id: str, *, actor: str, now: datetime) -> bool:
    """Block the card if it is active; True only for the call that changed it.

    The block is claimed by a unique insert (`bank_card_blocks`, one document per card): a
    conditional update alone is read-modify-write on FerretDB 1.24, and two simultaneous
    requests both reported "blocked" (two audit entries for one block). The demo seed, which
    puts the cards back into their documented state, gives the claims back (`release_card_blocks`).
    """
    card = await cards.find_one({"_id": card_id}, {"status": 1})
    if card is None or card.get("status") != CardStatus.ACTIVE.value:
        return False
    if not await insert_if_missing(cards.database["bank_card_blocks"], {"_id": card_id, "at": now, "by": actor}):
        return False
    await cards.update_one(
        {"_id": card_id}, {"$set": {"status": CardStatus.BLOCKED.value, "blocked_at": now, "blocked_by": actor}}
    )
    return True


async def release_card_blocks(db: Database, card_ids: list[str]) -> None:
    """Forget the block claims of cards made active again (the demo seed), so they can be blocked anew."""
    await db.bank_card_blocks.delete_many({"_id": {"$in": card_ids}})


async def find_many_by(collection: AsyncCollection[Document], field: str, values: list[str]) -> list[Document]:
    """Documents whose `field` is one of `values`, read the way FerretDB serves fastest.

    FerretDB filters `$in` itself, comparing each document with every value; equality is pushed down
    to PostgreSQL (GIN indexes, core/pg_indexes.py). A large share of the collection is therefore
    read in one pass and filtered here; a few values are looked up one by one, concurrently.
    """
    if not values:
        return []
    wanted = set(values)
    if len(wanted) > 1 and len(wanted) * _ONE_PASS_SHARE >= await collection.estimated_document_count():
        return [doc async for doc in collection.find({}) if doc.get(field) in wanted]
    gate = asyncio.Semaphore(_LOOKUPS_AT_ONCE)

    async def lookup(value: str) -> list[Document]:
        async with gate:
            return await collection.find({field: value}).to_list()

    found: list[Document] = []
    for docs in await asyncio.gather(*(lookup(v) for v in wanted)):
        found.extend(docs)
    return found


async def insert_audit_record(audit_log: AsyncCollection[Document], record: Document) -> None:
    """Append one record to the audit log (never updated, never deleted by the application)."""
    await audit_log.insert_one(record)


async def find_audit_records(audit_log: AsyncCollection[Document], customer_id: str) -> list[Document]:
    """A customer's audit records, oldest first (for the console and for tests)."""
    return await audit_log.find({"customer_id": customer_id}).sort([("at", ASCENDING), ("_id", ASCENDING)]).to_list()


def payment_from_document(doc: Document) -> ScheduledPayment:
    """Map a bank_payments document (due_date stored as an ISO date string, which sorts)."""
    return ScheduledPayment(
        payment_id=doc["_id"],
        customer_id=doc["customer_id"],
        product=PaymentProduct(doc["product"]),
        product_name=doc["product_name"],
        amount=from_kopecks(int(doc["amount_kopecks"])),
        due_date=date.fromisoformat(doc["due_date"]),
        card_last4=doc.get("card_last4"),
        paid_at=doc.get("paid_at"),
        currency=doc.get("currency", CURRENCY),
    )


def profile_from_documents(customer: Document, preferences: Document | None) -> ContactProfile:
    """A customer document and their contact preferences (kept apart: the demo seed rewrites customers)."""
    prefs = preferences or {}
    return ContactProfile(
        customer_id=customer["_id"],
        full_name=customer["full_name"],
        language=customer.get("language", "ru"),
        timezone=customer.get("timezone", "Europe/Moscow"),
        phone=customer.get("phone"),
        marketing_consent=bool(customer.get("marketing_consent", False)),
        opted_out=bool(prefs.get("opted_out", False)),
        do_not_contact=bool(prefs.get("do_not_contact", False)),
        channels=tuple(customer.get("contact_channels", ())),
    )


async def ensure_indexes(db: Database) -> None:
    """Indexes for the queries above."""
    await db.bank_customers.create_index([("phone", ASCENDING)])
    await db.bank_accounts.create_index([("customer_id", ASCENDING)])
    await db.bank_cards.create_index([("customer_id", ASCENDING), ("last4", ASCENDING)])
    await db.bank_transactions.create_index([("customer_id", ASCENDING), ("booked_at", DESCENDING)])
    await db.audit_log.create_index([("customer_id", ASCENDING), ("at", ASCENDING)])
    await db.bank_payments.create_index([("due_date", ASCENDING), ("paid_at", ASCENDING)])
    await db.bank_payments.create_index([("customer_id", ASCENDING), ("due_date", ASCENDING)])


def _utc_now() -> datetime:
    return datetime.now(UTC)


@contextlib.contextmanager
def _backend_errors(operation: str) -> Iterator[None]:
    """Translate driver errors into BankingError so callers need not know the storage."""
    try:
        yield
    except PyMongoError as err:
        raise BankingError(f"The demo bank could not {operation}: {err}; check that MongoDB/FerretDB is up") from err


class MongoBankingBackend:
    """The demo bank on MongoDB/FerretDB, seeded by core.demo_data.seed_demo_bank.

    Collections: bank_customers, bank_accounts, bank_cards, bank_transactions, audit_log.
    """

    def __init__(self, db: Database, clock: Callable[[], datetime] = _utc_now) -> None:
        self._db = db
        self._clock = clock

    async def get_customer(self, customer_id: str) -> Customer | None:
        """The customer, or None when the id is unknown."""
        with _backend_errors("load the customer"):
            doc = await find_customer(self._db.bank_customers, customer_id)
        return None if doc is None else customer_from_document(doc)

    async def find_customer_by_phone(self, phone: str) -> Customer | None:
        """The customer registered with this phone number in any common notation, or None."""
        normalized = normalize_phone(phone)
        if normalized is None:
            return None
        with _backend_errors("look up the phone number"):
            doc = await find_customer_by_phone_number(self._db.bank_customers, normalized)
        return None if doc is None else customer_from_document(doc)

    async def list_accounts(self, customer_id: str) -> list[Account]:
        """The customer's accounts."""
        with _backend_errors("list accounts"):
            docs = await find_accounts(self._db.bank_accounts, customer_id)
        return [account_from_document(doc) for doc in docs]

    async def list_cards(self, customer_id: str) -> list[Card]:
        """The customer's cards, blocked ones included."""
        with _backend_errors("list cards"):
            docs = await find_cards(self._db.bank_cards, customer_id)
        return [card_from_document(doc) for doc in docs]

    async def recent_transactions(
        self, customer_id: str, limit: int = 5, card_last4: str | None = None
    ) -> list[Transaction]:
        """The newest transactions first, optionally of one card."""
        with _backend_errors("load transactions"):
            docs = await find_recent_transactions(self._db.bank_transactions, customer_id, limit, card_last4)
        return [transaction_from_document(doc) for doc in docs]

    async def block_card(
        self, customer_id: str, card_last4: str, *, actor: str, channel: str, conversation_id: str
    ) -> BlockResult:
        """Block the customer's card with these last four digits, once, and record every attempt.

        Args:
            customer_id: The verified customer; cards of other customers are "not_found".
            card_last4: The card's last four digits.
            actor: Who asked: "bot", or an operator's login.
            channel: The channel the request came from ("webchat", "telegram", ...).
            conversation_id: The conversation, so the audit record leads back to the transcript.

        Returns:
            "blocked" for the request that blocked it, "already_blocked" for repeats,
            "not_found" when the customer has no such card.
        """
        now = self._clock()
        with _backend_errors("block the card"):
            doc = await find_card_by_last4(self._db.bank_cards, customer_id, card_last4)
            if doc is None:
                status = BlockStatus.NOT_FOUND
            elif await mark_card_blocked(self._db.bank_cards, doc["_id"], actor=actor, now=now):
                status = BlockStatus.BLOCKED
            else:
                status = BlockStatus.ALREADY_BLOCKED
            await insert_audit_record(
                self._db.audit_log,
                {
                    "action": "card.block",
                    "actor": actor,
                    "at": now,
                    "channel": channel,
                    "conversation_id": conversation_id,
                    "customer_id": customer_id,
                    "card_last4": card_last4,
                    "result": status.value,
                },
            )
            fresh = None if doc is None else await find_card_by_last4(self._db.bank_cards, customer_id, card_last4)
        logger.info("Card block for customer %s, card %s: %s (actor %s)", customer_id, card_last4, status, actor)
        return BlockResult(status=status, card=None if fresh is None else card_from_document(fresh))

    async def contact_profiles(self, customer_ids: list[str]) -> dict[str, ContactProfile]:
        """Profiles by id: one customer by `_id` equality (an indexed lookup on FerretDB), many in large batches.

        Many (a campaign's audience) through `find_many_by`.
        """
        found: dict[str, ContactProfile] = {}
        with _backend_errors("load contact profiles"):
            if len(customer_ids) == 1:
                [customer_id] = customer_ids
                doc = await self._db.bank_customers.find_one({"_id": customer_id})
                if doc is not None:
                    prefs = await self._db.bank_contact_preferences.find_one({"_id": customer_id})
                    found[customer_id] = profile_from_documents(doc, prefs)
                return found
            customers = await find_many_by(self._db.bank_customers, "_id", customer_ids)
            prefs = {d["_id"]: d for d in await find_many_by(self._db.bank_contact_preferences, "_id", customer_ids)}
            for doc in customers:
                found[doc["_id"]] = profile_from_documents(doc, prefs.get(doc["_id"]))
        return found

    async def payments_due(self, on: date) -> list[ScheduledPayment]:
        """Unpaid payments due on this date."""
        with _backend_errors("list payments due"):
            docs = await self._db.bank_payments.find({"due_date": on.isoformat(), "paid_at": None}).to_list()
        return sorted((payment_from_document(doc) for doc in docs), key=lambda p: p.payment_id)

    async def list_payments(self, customer_id: str) -> list[ScheduledPayment]:
        """The customer's scheduled payments by due date."""
        with _backend_errors("list payments"):
            docs = await self._db.bank_payments.find({"customer_id": customer_id}).sort("due_date", ASCENDING).to_list()
        return [payment_from_document(doc) for doc in docs]

    async def mark_paid(self, payment_id: str) -> bool:
        """The demo's "payment received": True for the call that marked it."""
        now = self._clock()
        with _backend_errors("mark the payment paid"):
            payment = await self._db.bank_payments.find_one({"_id": payment_id}, {"paid_at": 1})
            if payment is None or payment.get("paid_at") is not None:
                return False
            # Claimed by a unique insert: a conditional update alone let simultaneous calls both "mark" it.
            if not await insert_if_missing(self._db.bank_payments_paid, {"_id": payment_id, "at": now}):
                return False
            await self._db.bank_payments.update_one({"_id": payment_id}, {"$set": {"paid_at": now}})
        return True

    async def set_opt_out(self, customer_id: str, *, opted_out: bool, actor: str, source: str) -> None:
        """Store the choice (one document per customer, whole-value writes) and audit it."""
        now = self._clock()
        change = {"$set": {"opted_out": opted_out, "opted_out_at": now if opted_out else None, "source": source}}
        await self._set_preference(
            customer_id, change, "contact.opt_out" if opted_out else "contact.opt_in", actor, source
        )

    async def set_do_not_contact(self, customer_id: str, *, listed: bool, actor: str) -> None:
        """The do-not-contact list is a flag on the same preferences document."""
        change = {"$set": {"do_not_contact": listed}}
        action = "contact.do_not_contact" if listed else "contact.may_contact"
        await self._set_preference(customer_id, change, action, actor, "staff")

    async def _set_preference(self, customer_id: str, change: Document, action: str, actor: str, source: str) -> None:
        now = self._clock()
        with _backend_errors("record the contact preference"):
            try:
                await self._db.bank_contact_preferences.update_one({"_id": customer_id}, change, upsert=True)
            except DuplicateKeyError:
                # FerretDB runs an upsert as read-then-insert: a simultaneous first write won; set ours on it.
                await self._db.bank_contact_preferences.update_one({"_id": customer_id}, change)
            await insert_audit_record(
                self._db.audit_log,
                {"action": action, "actor": actor, "at": now, "channel": source, "customer_id": customer_id},
            )


def create_banking_backend(settings: Settings, db: Database) -> BankingBackend:
    """The backend named by `settings.banking_backend`; only "demo" exists so far.

    Raises:
        ValueError: for any other name, so a misconfigured process fails at start.
    """
    if settings.banking_backend == "demo":
        return MongoBankingBackend(db)
    raise ValueError(f"Unknown BANKING_BACKEND {settings.banking_backend!r}; the only backend available is 'demo'.")
