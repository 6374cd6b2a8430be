"""Single notices triggered by integrations: a fraud alert ("was it you?"), card ready, payment received.

One attempt per (integration, notice id), so a retried request sends nothing twice. A fraud alert
goes to Telegram where the customer linked it, else by SMS; it is transactional (at once, day or
night, outside the caps and any opt-out). "Payment received" also marks the payment paid in the
demo bank, which stops its reminders.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from core.banking import BankingBackend
from core.db import Database
from outbound import store
from outbound.delivery import Addresses
from outbound.messages import NOTICE_TEXTS
from outbound.models import Attempt, AttemptState, Channel, Kind, Reason

NOTICE_KINDS = {
    "fraud_alert": Kind.FRAUD_ALERT,
    "card_ready": Kind.SERVICE_NOTICE,
    "payment_received": Kind.SERVICE_NOTICE,
}
_NOTICE_ID_RE = re.compile(r"^[A-Za-z0-9_.:\-]{1,64}$")
_LAST4_RE = re.compile(r"^\d{4}$")
_MAX_FIELD_CHARS = 120


class NoticeError(ValueError):
    """A notice that cannot be accepted; the message says why."""

    def __init__(self, message: str, code: str = "bad_request", status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


def _text_field(data: dict[str, Any], name: str, *, required: bool = False) -> str:
    value = data.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value.strip() or len(value) > _MAX_FIELD_CHARS:
        raise NoticeError(f"'data.{name}' must be a text of at most {_MAX_FIELD_CHARS} characters.")
    return value.strip()


def _amount(data: dict[str, Any], *, required: bool) -> str:
    raw = data.get("amount")
    if raw is None and not required:
        return ""
    try:
        amount = Decimal(str(raw))
    except InvalidOperation as err:
        raise NoticeError("'data.amount' must be an amount in rubles, e.g. \"12990.00\".") from err
    if not amount.is_finite() or amount <= 0 or amount.as_tuple().exponent < -2:  # type: ignore[operator]
        raise NoticeError("'data.amount' must be a positive amount with at most two decimals.")
    return str(amount)


def checked_data(notice: str, data: Any) -> dict[str, Any]:
    """The notice's facts, checked; card numbers only as their last four digits."""
    if not isinstance(data, dict):
        raise NoticeError("'data' must be an object.")
    last4 = data.get("card_last4")
    if last4 is not None and (not isinstance(last4, str) or not _LAST4_RE.match(last4)):
        raise NoticeError("'data.card_last4' must be the card's last four digits (never the whole number).")
    checked: dict[str, Any] = {"notice": notice}
    if notice == "fraud_alert":
        if last4 is None:
            raise NoticeError("A fraud alert needs 'data.card_last4'.")
        checked |= {
            "card_last4": last4,
            "amount": _amount(data, required=True),
            "merchant": _text_field(data, "merchant", required=True),
            "at": _text_field(data, "at"),
        }
    elif notice == "card_ready":
        if last4 is None:
            raise NoticeError("A card_ready notice needs 'data.card_last4'.")
        checked |= {"card_last4": last4, "branch": _text_field(data, "branch")}
    else:
        checked |= {
            "amount": _amount(data, required=True),
            "product": _text_field(data, "product"),
            "payment_id": _text_field(data, "payment_id"),
        }
    if notice in NOTICE_TEXTS:
        checked["template"] = {
            lang: "{name}, " + ("уведомление Демо-банка: " if lang == "ru" else "a notice from Demo Bank: ") + text
            for lang, text in NOTICE_TEXTS[notice].items()
        }
    return checked


async def create(
    pool: store.Pool, db: Database, bank: BankingBackend, integration: str, body: dict[str, Any], now: datetime
) -> tuple[Attempt, bool]:
    """Store the notice's attempt once; True when it is new (the caller queues its delivery)."""
    notice_id, notice, customer_id = body.get("notice_id"), body.get("kind"), body.get("customer_id")
    if not isinstance(notice_id, str) or not _NOTICE_ID_RE.match(notice_id):
        raise NoticeError("'notice_id' must be your own id of 1-64 letters, digits, '_', '-', '.', ':'.")
    if notice not in NOTICE_KINDS:
        raise NoticeError(f"'kind' must be one of {', '.join(NOTICE_KINDS)}.")
    if not isinstance(customer_id, str) or not customer_id.strip():
        raise NoticeError("'customer_id' is required.")
    data = checked_data(str(notice), body.get("data", {}))
    existing = await store.find_notice(pool, integration, notice_id)
    if existing is not None:
        return existing, False
    profile = (await bank.contact_profiles([customer_id])).get(customer_id)
    if profile is None:
        raise NoticeError("No such customer.", code="unknown_customer", status=404)
    kind = NOTICE_KINDS[str(notice)]
    chats = await Addresses(db).telegram_chats([customer_id])
    channel = Channel.TELEGRAM if customer_id in chats else Channel.SMS
    if channel is Channel.TELEGRAM and profile.phone:
        data["fallback"] = [Channel.SMS.value]  # a customer who blocked the bot still gets the alert
    state = AttemptState.QUEUED
    if channel is Channel.SMS and not profile.phone:
        state = AttemptState.SUPPRESSED
    attempt = Attempt(
        id=store.new_id("att"),
        kind=kind,
        customer_id=customer_id,
        channel=channel,
        state=state,
        earliest_at=now,
        notice_id=notice_id,
        integration=integration,
        data=data,
    )
    if state is AttemptState.SUPPRESSED:
        attempt.reason = Reason.NO_CHANNEL
    if notice == "payment_received" and data.get("payment_id"):
        await bank.mark_paid(str(data["payment_id"]))
    return await store.insert_notice_attempt(pool, attempt)


def status_of(attempt: Attempt) -> dict[str, Any]:
    """What an integration sees of its notice."""
    return {
        "notice_id": attempt.notice_id,
        "attempt_id": attempt.id,
        "kind": attempt.data.get("notice"),
        "customer_id": attempt.customer_id,
        "state": attempt.state.value,
        "reason": attempt.reason.value if attempt.reason else None,
        "channel": attempt.channel.value,
        "answer": attempt.answer,
        "card_blocked": bool(attempt.data.get("card_blocked")),
        "handed_off": bool(attempt.data.get("handed_off")),
        "conversation_id": attempt.conversation_id,
    }
