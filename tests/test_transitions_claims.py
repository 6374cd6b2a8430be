"""Once-only decisions complete or are given back: no conversation stuck forever, no capacity held for nothing.

A probe once sent a transfer whose team name held a lone surrogate: the
transition claimed the conversation's version, the write failed, and from then
on close, return and transfer answered 409 forever while the operator's unit
of capacity stayed taken. Races of many operators taking one conversation left
the losers' units behind. These stories run against a real FerretDB; failures
are real ones (a value the database cannot store, a document the update cannot
apply to, a claim left exactly as a process that died would leave it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import timedelta

import pytest

from core.db import Database
from handoff import conversations, operators
from handoff.assignment import SLOT_GRACE_SECONDS, AlreadyTaken, AssignmentService, CapacityReached
from handoff.bus import EventBus
from handoff.conversations import TRANSITION_LEASE_SECONDS, Conversation, ConversationState, HandoffReason, Resolution

from .handoff_support import Clock, bus, clock, customer_conversation, db, ferretdb, mongo, online_operator

__all__ = ["bus", "clock", "db", "ferretdb", "mongo"]

LONE_SURROGATE = "\ud800"


async def queued(db: Database, bus: EventBus, clock: Clock, user: str) -> str:
    conversation = await customer_conversation(db, bus, clock, user)
    done = await conversations.hand_off(
        db, bus, conversation.id, reason=HandoffReason.CUSTOMER_REQUEST, actor="bot", now=clock()
    )
    assert done is not None
    return conversation.id


async def state_of(db: Database, conversation_id: str) -> ConversationState:
    conversation = await conversations.get_conversation(db, conversation_id)
    assert conversation is not None
    return conversation.state


async def loads(db: Database) -> dict[str, int]:
    return {op.id: op.active for op in await operators.list_operators(db)}


async def assigned_counts(db: Database) -> dict[str, int]:
    counts: dict[str, int] = {}
    for conversation in await conversations.list_by_state(db, ConversationState.ASSIGNED):
        assert conversation.assignee_id is not None
        counts[conversation.assignee_id] = counts.get(conversation.assignee_id, 0) + 1
    return counts


def service(db: Database, bus: EventBus, clock: Clock) -> AssignmentService:
    return AssignmentService(db, bus, clock, auto_assign=False)


async def test_a_transfer_that_cannot_be_stored_leaves_the_conversation_free_to_move(
    db: Database, bus: EventBus, clock: Clock
) -> None:
    assignment = service(db, bus, clock)
    await online_operator(db, bus, clock, "olga", skills=("cards",))
    conversation_id = await queued(db, bus, clock, "ivan")
    await assignment.take("olga", conversation_id)

    with pytest.raises(UnicodeEncodeError):
        await assignment.transfer(
            conversation_id, from_operator_id="olga", to_operator_id=None, to_team="cards" + LONE_SURROGATE, note=""
        )

    # Nothing changed and nothing is claimed: every next step works at once.
    assert await state_of(db, conversation_id) is ConversationState.ASSIGNED
    moved = await assignment.transfer(
        conversation_id, from_operator_id="olga", to_operator_id=None, to_team="cards", note=""
    )
    assert moved.state is ConversationState.QUEUED
    await assignment.take("olga", conversation_id)
    returned = await conversations.return_to_bot(
        db, bus, conversation_id, operator_id="olga", actor="olga", now=clock()
    )
    assert returned is not None
    await assignment.release("olga", conversation_id)
    closed = await conversations.close(
        db, bus, conversation_id, resolution=Resolution.RESOLVED, operator_id=None, actor="gateway", now=clock()
    )
    assert closed is not None
    assert await loads(db) == {"olga": 0}


async def test_a_take_whose_write_fails_gives_back_the_unit_and_the_claim(
    db: Database, bus: EventBus, clock: Clock
) -> None:
    assignment = service(db, bus, clock)
    await online_operator(db, bus, clock, "kate", capacity=1)
    conversation_id = await queued(db, bus, clock, "anna")
    # A document the assignment's $push cannot apply to: the write fails on the server, after the claim.
    await db.conversations.update_one({"_id": conversation_id}, {"$set": {"transitions": "not-a-list"}})

    with pytest.raises(Exception, match=r"transitions|array|push"):
        await assignment.take("kate", conversation_id)

    assert await loads(db) == {"kate": 0}
    await db.conversations.update_one({"_id": conversation_id}, {"$set": {"transitions": []}})
    taken = await assignment.take("kate", conversation_id)
    assert taken.assignee_id == "kate"
    assert await loads(db) == {"kate": 1}


async def test_a_claim_left_by_a_process_that_died_is_taken_over_after_its_lease(
    db: Database, bus: EventBus, clock: Clock
) -> None:
    conversation_id = await queued(db, bus, clock, "john")
    doc = await db.conversations.find_one({"_id": conversation_id})
    assert doc is not None
    # What a gateway that died between claim and write leaves behind (its release never ran).
    await db.transition_claims.insert_one(
        {
            "_id": f"{conversation_id}:{doc['version']}",
            "key": f"{conversation_id}:{doc['version']}",
            "state": "pending",
            "at": clock(),
        }
    )

    def close() -> Awaitable[Conversation | None]:
        return conversations.close(
            db, bus, conversation_id, resolution=Resolution.NO_RESPONSE, operator_id=None, actor="gateway", now=clock()
        )

    # While the lease runs the holder may still be writing: nobody else decides.
    assert await close() is None
    clock.advance(TRANSITION_LEASE_SECONDS - 1)
    assert await close() is None
    clock.advance(2)
    closed = await close()
    assert closed is not None
    assert await state_of(db, conversation_id) is ConversationState.CLOSED


async def test_a_takeover_does_not_repeat_a_transition_that_landed_before_its_holder_died(
    db: Database, bus: EventBus, clock: Clock
) -> None:
    assignment = service(db, bus, clock)
    await online_operator(db, bus, clock, "olga")
    conversation_id = await queued(db, bus, clock, "ivan")
    await assignment.take("olga", conversation_id)
    # The take's claim was completed; pretend the completion was lost (the database failed right after the write).
    doc = await db.conversations.find_one({"_id": conversation_id})
    assert doc is not None
    await db.transition_claims.update_many({"key": {"$regex": f"^{conversation_id}:"}}, {"$set": {"state": "pending"}})
    clock.advance(TRANSITION_LEASE_SECONDS + 1)

    # A second take that read the conversation before the first landed cannot take it over and assign it twice.
    with pytest.raises(AlreadyTaken):
        await assignment.take("olga", conversation_id)
    assert (await db.conversations.find_one({"_id": conversation_id}) or {}).get("version") == doc["version"]
    assert await loads(db) == {"olga": 1}


async def test_the_reconciler_frees_units_no_conversation_holds(db: Database, bus: EventBus, clock: Clock) -> None:
    assignment = service(db, bus, clock)
    await online_operator(db, bus, clock, "olga", capacity=3)
    served = await queued(db, bus, clock, "served")
    await assignment.take("olga", served)
    gone = await queued(db, bus, clock, "gone")
    # Units a failed path left behind: one for a conversation olga never got, one duplicate for the one she serves.
    olga = await operators.get_operator(db, "olga")
    assert olga is not None
    assert await operators.reserve_slot(db, olga, now=clock(), holder=gone)
    assert await operators.reserve_slot(db, olga, now=clock(), holder=served)
    assert await loads(db) == {"olga": 3}

    # Young units may be a take in progress: left alone.
    assert await assignment.reconcile_slots() == 0
    clock.now += timedelta(seconds=SLOT_GRACE_SECONDS + 1)
    assert await assignment.reconcile_slots() == 2

    assert await loads(db) == {"olga": 1} == await assigned_counts(db)
    assert [s.holder for s in await operators.list_slots(db, "olga")] == [served]


async def test_an_operator_shown_full_by_leftover_units_can_still_take(
    db: Database, bus: EventBus, clock: Clock
) -> None:
    assignment = service(db, bus, clock)
    kate = await online_operator(db, bus, clock, "kate", capacity=2)
    for holder in ("closed-long-ago", "never-assigned"):
        assert await operators.reserve_slot(db, kate, now=clock(), holder=holder)
    clock.advance(SLOT_GRACE_SECONDS + 1)
    waiting = await queued(db, bus, clock, "waiting")

    taken = await assignment.take("kate", waiting)

    assert taken.assignee_id == "kate"
    assert await loads(db) == {"kate": 1} == await assigned_counts(db)


@pytest.mark.parametrize("operator_count", [20, 1])
async def test_a_twenty_way_take_race_leaves_load_equal_to_open_conversations(
    db: Database, bus: EventBus, clock: Clock, operator_count: int
) -> None:
    """Twenty takes of each conversation at once: by twenty operators, or by one operator in twenty tabs."""
    assignment = service(db, bus, clock)
    logins = [f"op{i:02d}" for i in range(operator_count)]
    for login in logins:
        await online_operator(db, bus, clock, login, capacity=3)
    conversation_ids = [await queued(db, bus, clock, f"customer-{i}") for i in range(3)]

    for conversation_id in conversation_ids:
        takers = [logins[i % operator_count] for i in range(20)]
        results = await asyncio.gather(
            *(assignment.take(login, conversation_id) for login in takers), return_exceptions=True
        )
        winners = [r for r in results if not isinstance(r, BaseException)]
        assert len(winners) == 1, results
        # The losers hear "already taken", or "you are full" when the tabs racing them held every unit at that moment.
        losers = [r for r in results if isinstance(r, BaseException)]
        assert all(isinstance(r, AlreadyTaken | CapacityReached) for r in losers), results

    load = await loads(db)
    assigned = await assigned_counts(db)
    assert sum(load.values()) == len(conversation_ids) == sum(assigned.values())
    assert {login: n for login, n in load.items() if n} == assigned
