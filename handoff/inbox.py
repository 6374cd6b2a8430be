"""The console's inbox: views of conversations (queue, mine, all open, closed), search, rows, read marks.

A row is what an operator needs to pick a conversation without opening it: who (name or guest), where
(channel, language), how long the customer has waited, the customer's own last words (not a button's
payload, not the bot's answer), why it came to the operators and how urgent it is, its service-level
clock, and how many customer messages this operator has not read. Filters (status, assignee, team,
label, channel, language, priority) narrow any view; snoozed conversations have a view of their own.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pymongo.errors import DuplicateKeyError

from core.db import Database, Document, find_each, ordered
from core.teams import GENERAL_TEAM, PRIORITIES
from handoff import queue, triage
from handoff.conversations import WITH_OPERATOR, Conversation, ConversationState
from handoff.operators import Operator
from handoff.service_levels import Clock, ServiceLevels

# Enough for a shift's view; older closed conversations are found by search.
_VIEW_LIMIT = 100
_PREVIEW_CHARS = 120
_MAX_QUERY_CHARS = 100


class View(StrEnum):
    """The inbox's tabs."""

    QUEUE = "queue"
    MINE = "mine"
    OPEN = "open"
    SNOOZED = "snoozed"
    CLOSED = "closed"


_FILTER_CHARS = 64
NO_ASSIGNEE = "none"


@dataclass(frozen=True)
class Filters:
    """What narrows a view; empty fields do not filter. `assignee` "none" means unassigned."""

    assignee: str = ""
    team: str = ""
    label: str = ""
    channel: str = ""
    language: str = ""
    priority: str = ""

    @classmethod
    def parse(cls, query: Any) -> Filters:
        """From the request's query string (unknown priorities are refused by the caller's 400)."""
        values = {name: str(query.get(name, "")).strip()[:_FILTER_CHARS] for name in cls.__dataclass_fields__}
        if values["priority"] and values["priority"] not in PRIORITIES:
            raise ValueError(f"'priority' must be one of: {', '.join(PRIORITIES)}.")
        return cls(**values)

    def spec(self) -> dict[str, Any]:
        """The filters as a conversations query."""
        spec: dict[str, Any] = {}
        if self.assignee == NO_ASSIGNEE:
            spec["assignee.id"] = None
        elif self.assignee:
            spec["assignee.id"] = self.assignee
        if self.team:
            # Conversations without a special need belong to the general team (core/teams.py).
            spec["team"] = None if self.team == GENERAL_TEAM else self.team
        if self.label:
            spec["labels"] = self.label
        if self.channel:
            spec["channel"] = self.channel
        if self.language:
            spec["language"] = self.language
        if self.priority:
            spec["priority"] = triage.rank(self.priority)
        return spec

    def to_dict(self) -> dict[str, str]:
        """Serialize (saved views store this)."""
        return {k: v for k, v in asdict(self).items() if v}


@dataclass(frozen=True)
class Row:
    """One conversation as the inbox lists it."""

    conversation: Conversation
    customer_name: str | None
    last_author: str | None
    last_text: str
    last_at: datetime | None
    # Since when the customer waits for an answer: queued time, or their first unanswered message.
    waiting_since: datetime | None
    unread: int
    accepted: bool
    updated_at: datetime | None
    # The customer's own last words (button payloads and bot or operator texts left out).
    customer_text: str = ""
    customer_at: datetime | None = None
    clock: Clock | None = None

    def to_dict(self) -> dict[str, Any]:
        """Serialize for the console."""
        return {
            **self.conversation.to_dict(),
            "customer_name": self.customer_name,
            "last_message": {
                "author": self.last_author,
                "text": self.last_text,
                "at": self.last_at.isoformat() if self.last_at else None,
            },
            "waiting_since": self.waiting_since.isoformat() if self.waiting_since else None,
            "unread": self.unread,
            "accepted": self.accepted,
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
            "customer_said": {
                "text": self.customer_text,
                "at": self.customer_at.isoformat() if self.customer_at else None,
            },
            "sla": self.clock.to_dict() if self.clock else None,
        }


async def ensure_indexes(db: Database) -> None:
    """Read marks are found by operator and conversation, highest first."""
    await db.console_read_marks.create_index([("operator_id", 1), ("conversation_id", 1), ("seq", -1)])


def _mark_id(operator_id: str, conversation_id: str, seq: int) -> str:
    return f"{operator_id}:{conversation_id}:{seq}"


async def mark_read(db: Database, operator_id: str, conversation_id: str, seq: int) -> None:
    """Remember that the operator has seen the conversation up to message `seq` (never moves back).

    Each mark is its own document whose `_id` names operator, conversation and message, so
    simultaneous marks (two tabs, a burst of new messages) are independent inserts and the
    read position is the highest mark: no `$max` or upsert, which FerretDB applies as
    read-then-write (8 at once answered 500 on the losing upserts).
    """
    try:
        await db.console_read_marks.insert_one(
            {
                "_id": _mark_id(operator_id, conversation_id, seq),
                "operator_id": operator_id,
                "conversation_id": conversation_id,
                "seq": seq,
            }
        )
    except DuplicateKeyError:
        pass  # this message was marked already


async def read_position(db: Database, operator_id: str, conversation_id: str) -> int:
    """The highest message the operator has marked read in the conversation (0 when none)."""
    mark = await db.console_read_marks.find_one(
        {"operator_id": operator_id, "conversation_id": conversation_id}, {"seq": 1}, sort=[("seq", -1)]
    )
    return int(mark["seq"]) if mark else 0


_NOT_SNOOZED = {"snooze": None}


async def _documents(
    db: Database, view: View, login: str, operator: Operator | None, filters: Filters = Filters()
) -> list[Document]:
    if view is View.QUEUE:
        queued = _queue_spec(operator, filters)
        if queued is None:
            return []
        return await db.conversations.find(queued).sort(queue.ORDER).limit(_VIEW_LIMIT).to_list()
    if view is View.MINE:
        spec: dict[str, Any] = {"state": ConversationState.ASSIGNED.value, "assignee.id": login, **_NOT_SNOOZED}
        order = [("priority", 1), ("assigned_at", 1)]
    elif view in (View.OPEN, View.SNOOZED):
        # Per state, as find_each explains; the open conversations are few, so they are ordered here.
        snoozed = {"snooze": {"$ne": None}} if view is View.SNOOZED else _NOT_SNOOZED
        docs = await find_each(db.conversations, "state", list(WITH_OPERATOR), {**snoozed, **filters.spec()})
        return ordered(docs, queue.ORDER if view is View.OPEN else [("queued_at", 1)])[:_VIEW_LIMIT]
    else:
        spec = {"state": ConversationState.CLOSED.value}
        order = [("updated_at", -1)]
    spec = {**spec, **{k: v for k, v in filters.spec().items() if not (view is View.MINE and k == "assignee.id")}}
    return await db.conversations.find(spec).sort(order).limit(_VIEW_LIMIT).to_list()


def _queue_spec(operator: Operator | None, filters: Filters) -> dict[str, Any] | None:
    """The queue an operator may serve narrowed by the filters; None when a filter excludes all of it."""
    routing = queue.routing_filter(operator) if operator else {"state": ConversationState.QUEUED.value}
    spec = {**routing, **_NOT_SNOOZED}
    for key, value in filters.spec().items():
        allowed = spec.get(key)
        if isinstance(allowed, dict) and value not in allowed.get("$in", [value]):
            return None
        spec[key] = value  # an equality FerretDB pushes down, within what routing allows
    return spec


async def _search_documents(db: Database, text: str) -> list[Document]:
    """Conversations whose id starts with the text, whose customer's name or phone holds it, or any message."""
    pattern = re.escape(text)
    ors: list[dict[str, Any]] = [{"_id": {"$regex": "^" + pattern}}]
    digits = re.sub(r"\D", "", text)
    if len(digits) >= 4:
        ors.append({"channel_user_id": {"$regex": re.escape(digits)}})
    customer_spec: list[dict[str, Any]] = [{"full_name": {"$regex": pattern, "$options": "i"}}]
    if len(digits) >= 4:
        customer_spec.append({"phone": {"$regex": re.escape(digits)}})
    customer_ids = [d["_id"] async for d in db.bank_customers.find({"$or": customer_spec}, {"_id": 1}).limit(50)]
    if len(digits) >= 4:  # a number a guest left for a callback
        called = {
            d["conversation_id"]
            async for d in db.callback_tasks.find({"phone": {"$regex": re.escape(digits)}}, {"conversation_id": 1})
        }
        if called:
            ors.append({"_id": {"$in": sorted(called)}})
    if customer_ids:
        ors.append({"customer_id": {"$in": customer_ids}})
    message_ids = {
        d["conversation_id"]
        async for d in db.messages.find({"text": {"$regex": pattern, "$options": "i"}}, {"conversation_id": 1}).limit(
            200
        )
    }
    if message_ids:
        ors.append({"_id": {"$in": sorted(message_ids)}})
    return await db.conversations.find({"$or": ors}).sort("updated_at", -1).limit(_VIEW_LIMIT).to_list()


async def _row(
    db: Database, doc: Document, login: str, names: dict[str, str | None], clock: Clock | None = None
) -> Row:
    conversation = Conversation.from_document(doc)
    # The last word of the customer, the bot or an operator; gateway notices only when there is nothing else.
    last = (
        await db.messages.find({"conversation_id": conversation.id, "author": {"$ne": "system"}})
        .sort("seq", -1)
        .limit(1)
        .to_list()
        or await db.messages.find({"conversation_id": conversation.id}).sort("seq", -1).limit(1).to_list()
    )
    read_seq = await read_position(db, login, conversation.id)
    unread = await db.messages.count_documents(
        {"conversation_id": conversation.id, "author": "customer", "seq": {"$gt": read_seq}}
    )
    waiting_since = conversation.queued_at if conversation.state is ConversationState.QUEUED else None
    if conversation.state is ConversationState.ASSIGNED:
        answered = (
            await db.messages.find({"conversation_id": conversation.id, "author": "operator"}, {"seq": 1})
            .sort("seq", -1)
            .limit(1)
            .to_list()
        )
        after = answered[0]["seq"] if answered else 0
        first_unanswered = (
            await db.messages.find(
                {"conversation_id": conversation.id, "author": "customer", "seq": {"$gt": after}}, {"at": 1}
            )
            .sort("seq", 1)
            .limit(1)
            .to_list()
        )
        waiting_since = first_unanswered[0]["at"] if first_unanswered else None
    if conversation.customer_id and conversation.customer_id not in names:
        customer = await db.bank_customers.find_one({"_id": conversation.customer_id}, {"full_name": 1})
        names[conversation.customer_id] = customer.get("full_name") if customer else None
    text = last[0]["text"] if last else ""
    said = (
        await db.messages.find(
            {"conversation_id": conversation.id, "author": "customer", "text": {"$regex": "^[^/]"}},
            {"text": 1, "at": 1},
        )
        .sort("seq", -1)
        .limit(1)
        .to_list()
    )
    said_text = said[0]["text"] if said else ""
    return Row(
        conversation=conversation,
        customer_name=names.get(conversation.customer_id) if conversation.customer_id else None,
        last_author=last[0]["author"] if last else None,
        last_text=text[:_PREVIEW_CHARS] + ("…" if len(text) > _PREVIEW_CHARS else ""),
        last_at=last[0]["at"] if last else None,
        waiting_since=waiting_since,
        unread=unread,
        accepted=bool((doc.get("assignee") or {}).get("accepted_at")),
        updated_at=doc.get("updated_at"),
        customer_text=said_text[:_PREVIEW_CHARS] + ("…" if len(said_text) > _PREVIEW_CHARS else ""),
        customer_at=said[0]["at"] if said else None,
        clock=clock,
    )


async def rows(
    db: Database,
    view: View,
    login: str,
    operator: Operator | None,
    query: str = "",
    *,
    filters: Filters = Filters(),
    levels: ServiceLevels | None = None,
) -> list[Row]:
    """The view's rows, or, with a query, every conversation it finds whatever its state."""
    text = query.strip()[:_MAX_QUERY_CHARS]
    docs = await _search_documents(db, text) if text else await _documents(db, view, login, operator, filters)
    names: dict[str, str | None] = {}
    clocks = await levels.clocks(db, docs, datetime.now(UTC)) if levels is not None else {}
    return [await _row(db, doc, login, names, clocks.get(doc["_id"])) for doc in docs]


async def one_row(db: Database, conversation_id: str, login: str, levels: ServiceLevels | None = None) -> Row | None:
    """One conversation's row: the console updates a single row on a message instead of re-reading the view."""
    doc = await db.conversations.find_one({"_id": conversation_id})
    if doc is None:
        return None
    clock = await levels.clock(db, doc, datetime.now(UTC)) if levels is not None else None
    return await _row(db, doc, login, {}, clock)


@dataclass(frozen=True)
class Summary:
    """What the console shows outside the current view: tab counts, my conversations and their unread total."""

    counts: dict[str, int]
    mine_ids: list[str]
    unread: int

    def to_dict(self) -> dict[str, Any]:
        """Serialize for the console."""
        return {"counts": self.counts, "mine_ids": self.mine_ids, "unread": self.unread}


async def summary(db: Database, login: str, operator: Operator | None) -> Summary:
    """Tab counts, the ids of my conversations (the page alerts on their messages) and my unread total."""
    queued = len(await queue.waiting_for(db, operator)) if operator else len(await queue.waiting(db))
    mine_docs = await db.conversations.find(
        {"state": ConversationState.ASSIGNED.value, "assignee.id": login}, {"_id": 1}
    ).to_list()
    mine_ids = [d["_id"] for d in mine_docs]
    open_ = snoozed = 0
    for state in WITH_OPERATOR:  # per state, as core.db.find_each explains
        open_ += await db.conversations.count_documents({"state": state, **_NOT_SNOOZED})
        snoozed += await db.conversations.count_documents({"state": state, "snooze": {"$ne": None}})
    unread = 0
    for conversation_id in mine_ids:
        read_seq = await read_position(db, login, conversation_id)
        unread += await db.messages.count_documents(
            {"conversation_id": conversation_id, "author": "customer", "seq": {"$gt": read_seq}}
        )
    counts = {
        View.QUEUE.value: queued,
        View.MINE.value: len(mine_ids),
        View.OPEN.value: open_,
        View.SNOOZED.value: snoozed,
    }
    return Summary(counts=counts, mine_ids=mine_ids, unread=unread)
