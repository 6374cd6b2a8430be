"""The assignment service: automatic least-loaded assignment with capacity, manual take, and transfer.

Ownership is decided by one atomic transition of the conversation
(`conversations.assign`); capacity by claiming one of the operator's capacity
units (`operators.reserve_slot`). A unit reserved for a conversation that
someone else won, or whose assignment failed, is given back at once, by its id;
`reconcile_slots` frees what a failure left behind (periodically, and before an
operator is told they are full).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from pymongo.errors import PyMongoError

from core.db import Database
from handoff import conversations, operators, queue
from handoff.bus import EventBus
from handoff.conversations import Conversation, ConversationState
from handoff.events import Event
from handoff.operators import Operator, OperatorStatus

logger = logging.getLogger(__name__)

# A unit younger than this may belong to a take still writing its assignment (bounded by the transition's
# lease, 30 s); the reconciler leaves it alone.
SLOT_GRACE_SECONDS = 60.0
# How often the gateway looks for units held for nothing.
RECONCILE_INTERVAL_SECONDS = 60.0


class AssignmentError(Exception):
    """A take or transfer could not happen; the message is shown to the operator."""


class AlreadyTaken(AssignmentError):
    """Another operator owns the conversation, or it left the queue."""


class CapacityReached(AssignmentError):
    """The operator already carries as many conversations as allowed."""


class UnknownOperator(AssignmentError):
    """No operator with that id."""


@dataclass
class AssignmentService:
    """Decides who serves which queued conversation."""

    db: Database
    bus: EventBus
    clock: Callable[[], datetime]
    # Off: conversations wait for a manual take (useful for supervised teams and for tests).
    auto_assign: bool = True

    async def take(self, operator_id: str, conversation_id: str) -> Conversation:
        """Manual take by an operator from the queue.

        Raises:
            UnknownOperator: no such operator.
            CapacityReached: the operator is full.
            AlreadyTaken: someone else was first, or the conversation is not queued.
        """
        operator = await operators.get_operator(self.db, operator_id)
        if operator is None:
            raise UnknownOperator(f"Operator {operator_id} does not exist.")
        current = await conversations.get_conversation(self.db, conversation_id)
        if current is None or current.state is not ConversationState.QUEUED:
            raise AlreadyTaken("This conversation has already been taken.")
        assigned = await self._claim(operator, conversation_id, how="take", actor=f"operator:{operator_id}")
        if assigned is None:
            raise AlreadyTaken("This conversation has already been taken.")
        return assigned

    async def assign_to(self, operator_id: str, conversation_id: str, *, actor: str) -> Conversation:
        """A supervisor gives a queued conversation to an operator (from the inbox list).

        Raises:
            UnknownOperator: no such operator.
            CapacityReached: the operator is full.
            AlreadyTaken: the conversation is not queued any more.
        """
        operator = await operators.get_operator(self.db, operator_id)
        if operator is None:
            raise UnknownOperator(f"Operator {operator_id} does not exist.")
        assigned = await self._claim(operator, conversation_id, how="supervisor", actor=actor)
        if assigned is None:
            current = await conversations.get_conversation(self.db, conversation_id)
            if current is not None and current.state is ConversationState.QUEUED:
                raise CapacityReached(f"{operator.display_name} has no free capacity.")
            raise AlreadyTaken("This conversation has already been taken.")
        return assigned

    async def _claim(self, operator: Operator, conversation_id: str, *, how: str, actor: str) -> Conversation | None:
        now = self.clock()
        slot_id = await operators.reserve_slot(self.db, operator, now=now, holder=conversation_id)
        if slot_id is None and how == "take" and await self.reconcile_slots(operator.id):
            # A unit held for nothing (left by a failure) was freed: the operator was not really full.
            slot_id = await operators.reserve_slot(self.db, operator, now=now, holder=conversation_id)
        if slot_id is None:
            if how == "take":
                raise CapacityReached(
                    f"You already have {operator.capacity} conversations; close one before taking another."
                )
            return None
        try:
            assigned = await conversations.assign(
                self.db,
                self.bus,
                conversation_id,
                operator_id=operator.id,
                operator_name=operator.display_name,
                actor=actor,
                how=how,
                now=now,
            )
        except BaseException:
            await _give_back(self.db, slot_id)
            raise
        if assigned is None:
            # Exactly the unit this call reserved: a lost race must not free the winner's (same operator, two tabs).
            await _give_back(self.db, slot_id)
        return assigned

    async def reconcile_slots(self, operator_id: str | None = None) -> int:
        """Free capacity units that no conversation holds: the repair for every failure path.

        A unit is kept while its conversation is assigned to its operator (one unit per
        conversation) or while it is younger than SLOT_GRACE_SECONDS (a take in progress).

        Returns:
            How many units were freed.
        """
        now = self.clock()
        kept: set[tuple[str, str]] = set()
        freed = 0
        for slot in await operators.list_slots(self.db, operator_id):
            if slot.at is not None and (now - _aware(slot.at)).total_seconds() < SLOT_GRACE_SECONDS:
                kept.add((slot.operator_id, slot.holder))
                continue
            held = await conversations.get_conversation(self.db, slot.holder)
            owner = (
                held is not None and held.state is ConversationState.ASSIGNED and held.assignee_id == slot.operator_id
            )
            if owner and (slot.operator_id, slot.holder) not in kept:
                kept.add((slot.operator_id, slot.holder))
                continue
            if await operators.free_orphan(self.db, slot):
                freed += 1
                logger.warning("Freed capacity unit %s held for %s, which it does not serve", slot.id, slot.holder)
        return freed

    async def assign_automatically(self, conversation_id: str) -> Conversation | None:
        """Give a queued conversation to the least-loaded online operator who may serve it."""
        conversation = await conversations.get_conversation(self.db, conversation_id)
        if conversation is None or conversation.state is not ConversationState.QUEUED:
            return None
        for operator in await operators.least_loaded(self.db, language=conversation.language, team=conversation.team):
            assigned = await self._claim(operator, conversation_id, how="auto", actor="system")
            if assigned is not None:
                return assigned
            still = await conversations.get_conversation(self.db, conversation_id)
            if still is None or still.state is not ConversationState.QUEUED:
                return None
        return None

    async def fill_operator(self, operator_id: str) -> list[Conversation]:
        """Give an operator who just became free the conversations waiting for them, up to capacity."""
        taken: list[Conversation] = []
        while True:
            operator = await operators.get_operator(self.db, operator_id)
            if operator is None or operator.status is not OperatorStatus.ONLINE:
                return taken
            if operator.active >= operator.capacity:
                return taken
            candidate = await queue.next_for(self.db, operator)
            if candidate is None:
                return taken
            assigned = await self._claim(operator, candidate.id, how="auto", actor="system")
            if assigned is None:
                full = await operators.get_operator(self.db, operator_id)
                if full is None or full.active >= full.capacity:
                    return taken
                continue
            taken.append(assigned)

    async def release(self, operator_id: str, conversation_id: str) -> None:
        """An operator finished a conversation: free its unit and, if automatic, give them the next one."""
        await operators.release_slot(self.db, operator_id, conversation_id)
        if self.auto_assign:
            await self.fill_operator(operator_id)

    async def transfer(
        self,
        conversation_id: str,
        *,
        from_operator_id: str,
        to_operator_id: str | None,
        to_team: str | None,
        note: str,
    ) -> Conversation:
        """Move an operator's conversation to a colleague or back to a team's queue, with a note.

        Raises:
            UnknownOperator: the named colleague does not exist.
            CapacityReached: the colleague is full.
            AlreadyTaken: the caller does not own the conversation (any more).
        """
        target: tuple[str, str] | None = None
        slot_id: str | None = None
        if to_operator_id is not None:
            colleague = await operators.get_operator(self.db, to_operator_id)
            if colleague is None:
                raise UnknownOperator(f"Operator {to_operator_id} does not exist.")
            slot_id = await operators.reserve_slot(self.db, colleague, now=self.clock(), holder=conversation_id)
            if slot_id is None:
                raise CapacityReached(f"{colleague.display_name} has no free capacity.")
            target = (colleague.id, colleague.display_name)
        try:
            moved = await conversations.transfer(
                self.db,
                self.bus,
                conversation_id,
                from_operator_id=from_operator_id,
                to_operator=target,
                to_team=to_team,
                note=note,
                actor=f"operator:{from_operator_id}",
                now=self.clock(),
            )
        except BaseException:
            if slot_id is not None:
                await _give_back(self.db, slot_id)
            raise
        if moved is None:
            if slot_id is not None:
                await _give_back(self.db, slot_id)
            raise AlreadyTaken("You no longer own this conversation.")
        await self.release(from_operator_id, conversation_id)
        if moved.state is ConversationState.QUEUED and self.auto_assign:
            await self.assign_automatically(conversation_id)
        return moved


async def _give_back(db: Database, slot_id: str) -> None:
    """Free a reserved unit; if the database fails now too, the reconciler frees it later."""
    try:
        await operators.free_slot(db, slot_id)
    except PyMongoError:
        logger.warning("Could not free capacity unit %s; the reconciler will", slot_id, exc_info=True)


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


async def reconcile_forever(service: AssignmentService, interval_seconds: float = RECONCILE_INTERVAL_SECONDS) -> None:
    """Run `reconcile_slots` every interval until cancelled (a gateway background task)."""
    while True:
        await asyncio.sleep(interval_seconds)
        try:
            await service.reconcile_slots()
        except PyMongoError:
            logger.warning("Capacity reconciliation failed; retrying in %.0f s", interval_seconds, exc_info=True)


class AutoAssignListener:
    """Runs automatic assignment when the queue or an operator's availability changes.

    Subscribed local-only: the process that emitted the event does the work once.
    """

    def __init__(self, service: AssignmentService) -> None:
        self._service = service

    async def conversation_bot_handoff(self, event: Event) -> None:
        """A conversation joined the queue: find it an operator."""
        if self._service.auto_assign and event.conversation_id:
            await self._service.assign_automatically(event.conversation_id)

    async def operator_status_changed(self, event: Event) -> None:
        """An operator came online: give them waiting conversations."""
        if self._service.auto_assign and event.data.get("status") == OperatorStatus.ONLINE.value:
            await self._service.fill_operator(str(event.data["operator_id"]))
