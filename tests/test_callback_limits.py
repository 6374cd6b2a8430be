"""Callback tasks: one open per number and per conversation, and a few per number an hour, even when asked at once.

On a private FerretDB: each limit is a unique-key claim, so it holds there although FerretDB applies
upserts and `$inc` as read-then-write.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from core.db import Database
from handoff import callbacks
from handoff.bus import EventBus
from handoff.conversations import Conversation

from .handoff_support import Clock, bus, clock, customer_conversation, db, ferretdb, mongo

__all__ = ["bus", "clock", "db", "ferretdb", "mongo"]

ROUNDS = 20
GUESTS = 10


async def _ask(db: Database, bus: EventBus, conversation: Conversation, phone: str, now: datetime) -> str:
    try:
        return await callbacks.create_task(db, bus, conversation, kind="callback", phone=phone, now=now)
    except callbacks.CallbackRefused as refused:
        return refused.reason


async def test_ten_guests_asking_at_once_for_a_callback_to_one_number_make_one_task(
    db: Database, bus: EventBus, clock: Clock
) -> None:
    for round_ in range(ROUNDS):
        phone = f"+7916000{round_:04d}"
        guests = [await customer_conversation(db, bus, clock, f"guest-{round_}-{i}") for i in range(GUESTS)]
        answers = await asyncio.gather(*(_ask(db, bus, guest, phone, clock()) for guest in guests))
        assert answers.count("already_arranged") == GUESTS - 1, f"round {round_}: {answers}"
        assert await db.callback_tasks.count_documents({"phone": phone}) == 1, f"round {round_}"


async def test_one_conversation_gets_one_open_callback_and_a_number_a_few_an_hour(
    db: Database, bus: EventBus, clock: Clock
) -> None:
    anna = await customer_conversation(db, bus, clock, "anna")
    first = await _ask(db, bus, anna, "+79161112233", clock())
    assert await _ask(db, bus, anna, "+79164445566", clock()) == "already_arranged", "one open callback per chat"

    # Each callback done, the number may be called back again, up to the hour's limit.
    await callbacks.complete_task(db, first, operator_id="kate", outcome=callbacks.Outcome.NO_ANSWER, now=clock())
    for n in range(1, callbacks.CALLBACKS_PER_NUMBER_PER_HOUR):
        guest = await customer_conversation(db, bus, clock, f"guest-{n}")
        task = await _ask(db, bus, guest, "+79161112233", clock())
        assert await db.callback_tasks.count_documents({"_id": task}) == 1
        await callbacks.complete_task(db, task, operator_id="kate", outcome=callbacks.Outcome.NO_ANSWER, now=clock())
    one_more = await customer_conversation(db, bus, clock, "guest-late")
    assert await _ask(db, bus, one_more, "+79161112233", clock()) == "hourly_limit"
    assert await db.callback_tasks.count_documents({"phone": "+79161112233"}) == 3

    # The refused request left nothing claimed: the conversation may still book another number.
    assert await _ask(db, bus, one_more, "+79167778899", clock()) not in ("already_arranged", "hourly_limit")
    clock.advance(3600)
    assert await _ask(db, bus, anna, "+79161112233", clock()) not in ("already_arranged", "hourly_limit")
