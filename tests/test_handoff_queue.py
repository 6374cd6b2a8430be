"""The queue and assignment, against a real FerretDB: order, routing, capacity, and the ten-operator race."""

from __future__ import annotations

import asyncio

import pytest

from core.db import Database
from handoff import conversations, operators, queue, triage
from handoff.assignment import AlreadyTaken, AssignmentService, CapacityReached
from handoff.bus import EventBus, events_after
from handoff.conversations import ConversationState, HandoffReason

from .handoff_support import Clock, bus, clock, customer_conversation, db, ferretdb, mongo, online_operator

__all__ = ["bus", "clock", "db", "ferretdb", "mongo"]


async def queued(db: Database, bus: EventBus, clock: Clock, user: str, reason: HandoffReason, **kwargs: str) -> str:
    conversation = await customer_conversation(db, bus, clock, user, **kwargs)
    done = await conversations.hand_off(db, bus, conversation.id, reason=reason, actor="bot", now=clock())
    assert done is not None
    clock.advance(10)
    return conversation.id


async def owner_of(db: Database, conversation_id: str) -> str:
    conversation = await conversations.get_conversation(db, conversation_id)
    assert conversation is not None
    return str(conversation.assignee_id)


async def test_complaints_jump_the_queue_and_others_wait_their_turn(db: Database, bus: EventBus, clock: Clock) -> None:
    first = await queued(db, bus, clock, "first", HandoffReason.CUSTOMER_REQUEST)
    second = await queued(db, bus, clock, "second", HandoffReason.CUSTOMER_REQUEST)
    angry = await queued(db, bus, clock, "angry", HandoffReason.COMPLAINT)

    order = [c.id for c in await queue.waiting(db)]
    assert order == [angry, first, second]
    positions = {
        cid: await queue.position(db, c) for cid in order if (c := await conversations.get_conversation(db, cid))
    }
    assert positions == {angry: 1, first: 2, second: 3}


async def test_routing_respects_languages_and_skills(db: Database, bus: EventBus, clock: Clock) -> None:
    english = await queued(db, bus, clock, "john", HandoffReason.CUSTOMER_REQUEST, language="en")
    cards = await queued(db, bus, clock, "lost-card", HandoffReason.BLOCK_CARD_UNVERIFIED)
    russian = await queued(db, bus, clock, "ivan", HandoffReason.CUSTOMER_REQUEST)

    olga = await online_operator(db, bus, clock, "olga", languages=("ru",))
    kate = await online_operator(db, bus, clock, "kate", languages=("ru", "en"), skills=("cards",))

    assert [c.id for c in await queue.waiting_for(db, olga)] == [russian]
    # A lost card is urgent: it comes first for the operator who can block cards (handoff/triage.py).
    assert [c.id for c in await queue.waiting_for(db, kate)] == [cards, english, russian]


def test_the_reason_to_priority_mapping_is_configurable_and_refuses_unknown_levels() -> None:
    mapping = triage.parse_mapping("complaint=urgent, kb_no_answer=normal")
    assert mapping["complaint"] == "urgent" and mapping["kb_no_answer"] == "normal"
    assert mapping["block_card_unverified"] == "urgent", "the defaults stay for reasons not named"
    with pytest.raises(triage.TriageError):
        triage.parse_mapping("complaint=asap")


async def test_automatic_assignment_picks_the_least_loaded_operator_within_capacity(
    db: Database, bus: EventBus, clock: Clock
) -> None:
    service = AssignmentService(db, bus, clock)
    await online_operator(db, bus, clock, "busy", capacity=1)
    await online_operator(db, bus, clock, "free", capacity=2)
    first = await queued(db, bus, clock, "c1", HandoffReason.CUSTOMER_REQUEST)
    assigned = await service.assign_automatically(first)
    assert assigned is not None and assigned.assignee_id in {"busy", "free"}

    second = await queued(db, bus, clock, "c2", HandoffReason.CUSTOMER_REQUEST)
    third = await queued(db, bus, clock, "c3", HandoffReason.CUSTOMER_REQUEST)
    await service.assign_automatically(second)
    await service.assign_automatically(third)
    owners = sorted([await owner_of(db, cid) for cid in (first, second, third)])
    assert owners == ["busy", "free", "free"]

    fourth = await queued(db, bus, clock, "c4", HandoffReason.CUSTOMER_REQUEST)
    assert await service.assign_automatically(fourth) is None, "everyone is at capacity: it waits"
    load = {op.id: op.active for op in await operators.list_operators(db)}
    assert load == {"busy": 1, "free": 2}


async def test_ten_operators_race_for_one_conversation_and_exactly_one_wins(
    db: Database, bus: EventBus, clock: Clock
) -> None:
    service = AssignmentService(db, bus, clock, auto_assign=False)
    racers = [f"op{i}" for i in range(10)]
    for racer in racers:
        await online_operator(db, bus, clock, racer)
    conversation_id = await queued(db, bus, clock, "contested", HandoffReason.CUSTOMER_REQUEST)

    results = await asyncio.gather(*(service.take(r, conversation_id) for r in racers), return_exceptions=True)

    winners = [r for r in results if not isinstance(r, BaseException)]
    losers = [r for r in results if isinstance(r, BaseException)]
    assert len(winners) == 1
    assert all(isinstance(e, AlreadyTaken) and str(e) == "This conversation has already been taken." for e in losers)
    stored = await conversations.get_conversation(db, conversation_id)
    assert stored is not None and stored.state is ConversationState.ASSIGNED
    assert stored.assignee_id == winners[0].assignee_id
    load = {op.id: op.active for op in await operators.list_operators(db)}
    assert sum(load.values()) == 1 and load[str(stored.assignee_id)] == 1, "losers got their slot back"
    assigned_events = [e for e in await events_after(db, 0) if e.name == "conversation.assigned"]
    assert len(assigned_events) == 1


async def test_a_full_operator_is_told_to_close_something_first(db: Database, bus: EventBus, clock: Clock) -> None:
    service = AssignmentService(db, bus, clock, auto_assign=False)
    await online_operator(db, bus, clock, "solo", capacity=1)
    first = await queued(db, bus, clock, "a", HandoffReason.CUSTOMER_REQUEST)
    second = await queued(db, bus, clock, "b", HandoffReason.CUSTOMER_REQUEST)
    await service.take("solo", first)
    with pytest.raises(CapacityReached, match="close one before taking another"):
        await service.take("solo", second)


async def test_every_transition_is_stored_with_actor_time_and_reason(db: Database, bus: EventBus, clock: Clock) -> None:
    service = AssignmentService(db, bus, clock, auto_assign=False)
    await online_operator(db, bus, clock, "olga")
    await online_operator(db, bus, clock, "kate")
    conversation_id = await queued(db, bus, clock, "story", HandoffReason.COMPLAINT)
    await service.take("olga", conversation_id)
    await service.transfer(conversation_id, from_operator_id="olga", to_operator_id="kate", to_team=None, note="VIP")
    closed = await conversations.close(
        db,
        bus,
        conversation_id,
        resolution=conversations.Resolution.RESOLVED,
        operator_id="kate",
        actor="operator:kate",
        now=clock.advance(60),
    )
    assert closed is not None
    doc = await conversations.get_document(db, conversation_id)
    assert doc is not None
    assert [(t["to"], t["actor"], t["reason"]) for t in doc["transitions"]] == [
        ("queued", "bot", "complaint"),
        ("assigned", "operator:olga", "take"),
        ("assigned", "operator:olga", "transfer"),
        ("closed", "operator:kate", "resolved"),
    ]
    assert all(t["at"] is not None for t in doc["transitions"])
    names = [e.name for e in await events_after(db, 0) if e.conversation_id == conversation_id]
    assert names == [
        "conversation.created",
        "conversation.bot_handoff",
        "conversation.assigned",
        "conversation.transferred",
        "conversation.closed",
    ]
