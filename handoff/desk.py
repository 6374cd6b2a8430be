"""What an operator does with a conversation: reply, note, canned answer, transfer, return to bot, close."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.db import Database
from core.messages import Reply
from handoff import canned, claims, conversations, events, outbox, surveys
from handoff.assignment import AlreadyTaken, AssignmentService
from handoff.bot import BotMetadata, BotUnavailable
from handoff.bot_pool import BotPool
from handoff.bus import EventBus
from handoff.conversations import Conversation, ConversationState, Resolution
from handoff.events import Event
from handoff.notices import Notice, notice_text
from handoff.transcript import StoredMessage

logger = logging.getLogger(__name__)


class NotYours(AlreadyTaken):
    """The operator does not own the conversation (any more)."""


@dataclass
class Desk:
    """The operator's actions; every one checks ownership and goes through a transition or the outbox."""

    db: Database
    bus: EventBus
    assignment: AssignmentService
    bot: BotPool
    clock: Callable[[], datetime]

    async def _owned(self, operator_id: str, conversation_id: str) -> Conversation:
        conversation = await conversations.get_conversation(self.db, conversation_id)
        if (
            conversation is None
            or conversation.state is not ConversationState.ASSIGNED
            or conversation.assignee_id != operator_id
        ):
            raise NotYours("This conversation is not assigned to you.")
        return conversation

    async def accept(self, operator_id: str, conversation_id: str, *, takeover: bool = False) -> bool:
        """The operator accepts an assigned conversation (by opening it, taking it or replying).

        Only then is the customer told that an operator joined (`conversation.accepted`): an automatic
        assignment alone means nobody has looked at the conversation yet. True for the first acceptance.
        """
        conversation = await self._owned(operator_id, conversation_id)
        now = self.clock()
        doc = await conversations.get_document(self.db, conversation.id) or {}
        assigned_at = (doc.get("assignee") or {}).get("at")
        # Once per assignment (a transfer is a new one), decided by a unique insert: see handoff/claims.py.
        stamp = assigned_at.isoformat() if isinstance(assigned_at, datetime) else ""
        if not await claims.claim(self.db.acceptances, f"{conversation.id}:{operator_id}:{stamp}", {"at": now}):
            return False
        await self.db.conversations.update_one({"_id": conversation.id}, {"$set": {"assignee.accepted_at": now}})
        await self.bus.emit(
            Event(
                events.CONVERSATION_ACCEPTED,
                conversation.id,
                f"operator:{operator_id}",
                now,
                {
                    "operator_id": operator_id,
                    "operator_name": conversation.assignee_name or "",
                    **({"takeover": True} if takeover else {}),
                },
            )
        )
        return True

    async def typing(self, operator_id: str, conversation_id: str) -> None:
        """The operator is typing: an ephemeral event the customer's channel may show."""
        conversation = await self._owned(operator_id, conversation_id)
        await self.bus.emit(
            Event(
                events.OPERATOR_TYPED,
                conversation.id,
                f"operator:{operator_id}",
                self.clock(),
                {"operator_id": operator_id, "operator_name": conversation.assignee_name or ""},
            )
        )

    async def reply(self, operator_id: str, conversation_id: str, text: str) -> StoredMessage:
        """Send the operator's text to the customer (replying accepts the conversation first)."""
        await self.accept(operator_id, conversation_id)
        conversation = await self._owned(operator_id, conversation_id)
        return await outbox.send_to_customer(
            self.db,
            self.bus,
            conversation,
            Reply(text=text, author="operator"),
            actor=f"operator:{operator_id}",
            now=self.clock(),
            operator_id=operator_id,
            operator_name=conversation.assignee_name,
        )

    async def add_note(self, operator_id: str, conversation_id: str, text: str) -> dict[str, Any]:
        """A private note for colleagues: stored beside the transcript, never sent to the customer."""
        conversation = await self._owned(operator_id, conversation_id)
        now = self.clock()
        note = {"conversation_id": conversation.id, "operator_id": operator_id, "text": text, "at": now}
        await self.db.notes.insert_one(dict(note))
        await self.bus.emit(
            Event(
                events.NOTE_CREATED,
                conversation.id,
                f"operator:{operator_id}",
                now,
                {"operator_id": operator_id, "text": text},
            )
        )
        return {"operator_id": operator_id, "text": text, "at": now.isoformat()}

    async def render_canned(
        self, operator_id: str, conversation_id: str, template: str, variables: dict[str, str]
    ) -> str:
        """Fill a canned response for this conversation (the operator may edit it before sending)."""
        conversation = await self._owned(operator_id, conversation_id)
        return canned.render(template, {"operator": conversation.assignee_name or "", **variables})

    async def transfer(
        self,
        operator_id: str,
        conversation_id: str,
        *,
        to_operator_id: str | None,
        to_team: str | None,
        note: str,
    ) -> Conversation:
        """Pass the conversation on with a note; the customer is told they need not repeat anything."""
        conversation = await self._owned(operator_id, conversation_id)
        moved = await self.assignment.transfer(
            conversation.id, from_operator_id=operator_id, to_operator_id=to_operator_id, to_team=to_team, note=note
        )
        if note:
            await self.db.notes.insert_one(
                {
                    "conversation_id": conversation.id,
                    "operator_id": operator_id,
                    "text": note,
                    "at": self.clock(),
                    "kind": "transfer",
                }
            )
        return moved

    async def return_to_bot(self, operator_id: str, conversation_id: str) -> Conversation:
        """Hand the conversation back to the bot, which greets the customer and carries on."""
        conversation = await self._owned(operator_id, conversation_id)
        returned = await conversations.return_to_bot(
            self.db,
            self.bus,
            conversation.id,
            operator_id=operator_id,
            actor=f"operator:{operator_id}",
            now=self.clock(),
        )
        if returned is None:
            raise NotYours("This conversation is not assigned to you.")
        await self.assignment.release(operator_id, conversation_id)
        metadata: BotMetadata = {
            "channel": returned.channel,
            "language": returned.language or "ru",
            "customer_id": returned.customer_id,
            "identity_method": "customer_token" if returned.customer_id else None,
            "redacted": [],
        }
        try:
            replies = await self.bot.send(returned.id, "/greet", metadata)
        except BotUnavailable as err:
            logger.error("The bot could not greet conversation %s back: %s", returned.id, err)
            return returned
        for reply in replies:
            if reply.text or reply.buttons:
                await outbox.send_to_customer(self.db, self.bus, returned, reply, actor="bot", now=self.clock())
        return returned

    async def close(self, operator_id: str, conversation_id: str, resolution: Resolution) -> Conversation:
        """Close with a resolution code; the customer is asked to rate the conversation."""
        conversation = await self._owned(operator_id, conversation_id)
        closed = await conversations.close(
            self.db,
            self.bus,
            conversation.id,
            resolution=resolution,
            operator_id=operator_id,
            actor=f"operator:{operator_id}",
            now=self.clock(),
        )
        if closed is None:
            raise NotYours("This conversation is not assigned to you.")
        await self.assignment.release(operator_id, conversation_id)
        return closed


class CustomerNoticeListener:
    """Tells the customer what happens on the operator side: joined, transferred, closed.

    Subscribed local-only, so each notice is stored and sent once.
    """

    def __init__(self, db: Database, bus: EventBus, clock: Callable[[], datetime]) -> None:
        self._db = db
        self._bus = bus
        self._clock = clock

    async def _send(self, conversation_id: str | None, notice: Notice, **values: object) -> None:
        if conversation_id is None:
            return
        conversation = await conversations.get_conversation(self._db, conversation_id)
        if conversation is None:
            return
        reply = Reply(text=notice_text(notice, conversation.language, **values), author="system")
        await outbox.send_to_customer(self._db, self._bus, conversation, reply, actor="system", now=self._clock())

    async def conversation_accepted(self, event: Event) -> None:
        """An operator accepted the conversation (not merely got it assigned): say who joined."""
        notice = Notice.SUPERVISOR_TOOK_OVER if event.data.get("takeover") else Notice.OPERATOR_JOINED
        await self._send(event.conversation_id, notice, name=event.data.get("operator_name", ""))

    async def conversation_transferred(self, event: Event) -> None:
        """Passed to a colleague: the customer need not repeat anything (a take-over says so when accepted)."""
        if not event.data.get("takeover"):
            await self._send(event.conversation_id, Notice.TRANSFERRED)

    async def conversation_closed(self, event: Event) -> None:
        """Closed by an operator: the post-conversation survey's first question (the rating)."""
        if not str(event.actor).startswith("operator:") or event.conversation_id is None:
            return
        conversation = await conversations.get_conversation(self._db, event.conversation_id)
        if conversation is None:
            return
        waiting = await surveys.pending(self._db, conversation.id, conversation.awaiting)
        if waiting is None:
            return
        reply = surveys.question_reply(
            waiting.survey, waiting.index, language=conversation.language or "ru", channel=conversation.channel
        )
        await outbox.send_to_customer(self._db, self._bus, conversation, reply, actor="system", now=self._clock())
