"""Callback tasks: when no operator can talk now, the customer leaves a message or a phone number."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from enum import StrEnum
from typing import Any

from core.banking import BankingBackend
from core.db import Database, Document
from handoff import claims, events
from handoff.bus import EventBus
from handoff.conversations import Conversation
from handoff.events import Event

# Buttons the gateway itself offers (never sent to Rasa).
LEAVE_MESSAGE_PAYLOAD = "/leave_message"
REQUEST_CALLBACK_PAYLOAD = "/request_callback"

_PHONE_RE = re.compile(r"^\+?[\d\s()\-]{10,20}$")
# Russian and international numbers have 10 to 15 digits.
_MIN_PHONE_DIGITS = 10
_MAX_PHONE_DIGITS = 15


# The customer's phone number the bank has on record, by customer id (None when it has none).
PhoneBook = Callable[[str], Awaitable[str | None]]


def registered_phones(backend: BankingBackend) -> PhoneBook:
    """Look up a signed-in customer's registered phone number in the bank backend."""

    async def phone_of(customer_id: str) -> str | None:
        customer = await backend.get_customer(customer_id)
        return customer.phone if customer is not None else None

    return phone_of


def phone_ending(phone: str) -> str:
    """The last four digits: enough for the customer to recognise the number, no more on screen."""
    return re.sub(r"\D", "", phone)[-4:]


def parse_phone(text: str) -> str | None:
    """Normalise a typed phone number to +digits, or None when it is not one."""
    if not _PHONE_RE.match(text.strip()):
        return None
    digits = re.sub(r"\D", "", text)
    if not _MIN_PHONE_DIGITS <= len(digits) <= _MAX_PHONE_DIGITS:
        return None
    if len(digits) == 11 and digits.startswith("8"):  # 8 900 ... is the domestic form of +7 900 ...
        digits = "7" + digits[1:]
    return "+" + digits


# One open callback per number and per conversation; at most this many callbacks to one number an hour.
CALLBACKS_PER_NUMBER_PER_HOUR = 3


class CallbackRefused(Exception):
    """No new callback task: one is already open for this number or conversation, or the hour's limit is reached."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # "already_arranged" or "hourly_limit"


async def _claim_callback(db: Database, conversation: Conversation, phone: str, task_id: str, now: datetime) -> None:
    """Claim the number's and the conversation's open task and a place among the number's callbacks this hour.

    Unique-key claims (atomic on FerretDB too); each names the task, so completing it frees the open ones.

    Raises:
        CallbackRefused: a claim is held by another task (nothing is left claimed then).
    """
    held: list[str] = []
    fields = {"task_id": task_id, "at": now}
    try:
        for key in (f"open-conversation:{conversation.id}", f"open-number:{phone}"):
            if not await claims.claim(db.callback_claims, key, fields):
                raise CallbackRefused("already_arranged")
            held.append(key)
        hour = now.strftime("%Y%m%d%H")
        for place in range(CALLBACKS_PER_NUMBER_PER_HOUR):
            if await claims.claim(db.callback_claims, f"hour:{phone}:{hour}:{place}", fields):
                return
        raise CallbackRefused("hourly_limit")
    except BaseException:
        for key in held:
            await db.callback_claims.delete_one({"_id": key, "task_id": task_id})
        raise


async def create_task(
    db: Database,
    bus: EventBus,
    conversation: Conversation,
    *,
    kind: str,
    now: datetime,
    phone: str | None = None,
    text: str | None = None,
    preferred_at: datetime | None = None,
    preferred_label: str | None = None,
) -> str:
    """Store a callback task ("callback" with a phone, or "message" with the customer's text).

    Returns:
        The task id.

    Raises:
        CallbackRefused: a callback to this number or from this conversation is already open, or this
            number had its hourly share of callbacks.
    """
    task_id = uuid.uuid4().hex
    if kind == "callback" and phone:
        await _claim_callback(db, conversation, phone, task_id, now)
    await db.callback_tasks.insert_one(
        {
            "_id": task_id,
            "conversation_id": conversation.id,
            "kind": kind,
            "phone": phone,
            "text": text,
            "language": conversation.language,
            "customer_id": conversation.customer_id,
            "status": "open",
            "created_at": now,
            **({"preferred_at": preferred_at, "preferred_label": preferred_label} if preferred_at else {}),
        }
    )
    await bus.emit(
        Event(
            events.CALLBACK_REQUESTED,
            conversation.id,
            "customer",
            now,
            {
                "task_id": task_id,
                "kind": kind,
                "phone": phone,
                "text": text,
                "language": conversation.language,
                "preferred_at": preferred_at.isoformat() if preferred_at else None,
                "preferred_label": preferred_label,
            },
        )
    )
    return task_id


class Outcome(StrEnum):
    """How a callback task ended, as the operator records it."""

    REACHED = "reached"
    NO_ANSWER = "no_answer"
    WRONG_NUMBER = "wrong_number"
    ANSWERED_IN_CHAT = "answered_in_chat"


async def open_tasks(db: Database, limit: int = 200) -> list[dict[str, Any]]:
    """Open callback tasks, oldest first, for the console, with the customer's name when the bank knows them."""
    docs = await db.callback_tasks.find({"status": "open"}).sort("created_at", 1).limit(limit).to_list()
    ids = sorted({d["customer_id"] for d in docs if d.get("customer_id")})
    names = {c["_id"]: c.get("full_name") async for c in db.bank_customers.find({"_id": {"$in": ids}})} if ids else {}
    return [_task_dict(doc, names.get(doc.get("customer_id") or "")) for doc in docs]


async def complete_task(db: Database, task_id: str, *, operator_id: str, outcome: Outcome, now: datetime) -> bool:
    """Mark a task done by an operator with its outcome; False if it was not open."""
    result = await db.callback_tasks.update_one(
        {"_id": task_id, "status": "open"},
        {"$set": {"status": "done", "done_by": operator_id, "done_at": now, "outcome": outcome.value}},
    )
    if result.modified_count != 1:
        return False
    # The number and the conversation may ask for a callback again (the hour's places stay taken).
    await db.callback_claims.delete_many({"task_id": task_id, "_id": {"$regex": "^open-"}})
    return True


def _task_dict(doc: Document, customer_name: str | None) -> dict[str, Any]:
    return {
        "id": doc["_id"],
        "conversation_id": doc["conversation_id"],
        "kind": doc["kind"],
        "phone": doc.get("phone"),
        "text": doc.get("text"),
        "language": doc.get("language"),
        "customer_id": doc.get("customer_id"),
        "customer_name": customer_name,
        # The customer asked at this time; a wished-for time, when a channel collects one, wins.
        "requested_at": (doc.get("preferred_at") or doc["created_at"]).isoformat(),
        "created_at": doc["created_at"].isoformat(),
        # The customer's own wish ("после 18:00"): the console counts down to it.
        "preferred_at": doc["preferred_at"].isoformat() if doc.get("preferred_at") else None,
        "preferred_label": doc.get("preferred_label"),
    }


# A phone number inside other words: "+7 999 123-45-67 после 18:00", "звоните на 8 (916) 555 44 33".
_PHONE_IN_TEXT_RE = re.compile(r"(?<![\w+])\+?\d[\d\s()\-]{8,22}\d(?!\w)")
# The customer changed their mind: no call, they stay in the chat.
_WAY_OUT_RE = re.compile(
    r"^\s*(отмена|отменить|не\s+надо|не\s+нужно|передумал[аи]?|нет,?\s+спасибо|cancel|no\s+thanks?|never\s*mind|"
    r"don'?t\s+call|no\s+call)\s*[.!]*\s*$",
    re.IGNORECASE,
)


def find_phone(text: str, *, skip: tuple[int, int] | None = None) -> str | None:
    """The first phone number anywhere in the text (outside `skip`, where a time was said), as +digits."""
    if skip is not None:
        text = text[: skip[0]] + " " * (skip[1] - skip[0]) + text[skip[1] :]
    for match in _PHONE_IN_TEXT_RE.finditer(text):
        if (phone := parse_phone(match.group(0))) is not None:
            return phone
    return None


def is_way_out(text: str) -> bool:
    """Whether the customer declines the call ("отмена", "no thanks")."""
    return bool(_WAY_OUT_RE.match(text))


async def set_preferred_time(db: Database, conversation_id: str, preferred_at: datetime, label: str) -> bool:
    """Give the conversation's latest open callback task the customer's wished-for time; False if none is open."""
    task = await db.callback_tasks.find_one(
        {"conversation_id": conversation_id, "status": "open", "kind": "callback"}, sort=[("created_at", -1)]
    )
    if task is None:
        return False
    await db.callback_tasks.update_one(
        {"_id": task["_id"]}, {"$set": {"preferred_at": preferred_at, "preferred_label": label}}
    )
    return True
