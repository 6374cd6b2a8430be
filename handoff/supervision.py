"""What a supervisor does with live conversations: watch the open ones, join one, take one over.

Joining keeps the conversation with its operator: the supervisor writes to the
customer beside them (the customer is told who joined, the operator gets a note).
Taking over makes the supervisor the conversation's owner, as a transfer to them
would; they then finish it in the console like any operator.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from core.banking import insert_audit_record
from core.db import Database, find_each, ordered
from core.messages import Reply
from core.staff import Role
from handoff import claims, conversations, events, outbox
from handoff.assignment import AssignmentService
from handoff.bus import EventBus
from handoff.conversations import WITH_OPERATOR, Conversation, ConversationState, HandoffReason
from handoff.desk import Desk
from handoff.events import Event
from handoff.notices import Notice, notice_text
from handoff.transcript import StoredMessage

# Conversations with the bot are shown while the customer is active: a page left open is not "live".
BOT_ACTIVE_SECONDS = 30 * 60
_LIVE_LIMIT = 200
_PREVIEW_CHARS = 120
# The kind of the note a supervisor's joining leaves for the operator.
NOTE_KIND = "supervisor_joined"


class NotLive(Exception):
    """The conversation is closed (or unknown): there is nothing to join or take over."""


class NotJoined(Exception):
    """A supervisor writes to a customer without having joined the conversation."""


@dataclass(frozen=True)
class LiveConversation:
    """One open conversation as the supervisor's list shows it."""

    conversation: Conversation
    customer_name: str | None
    last_author: str | None
    last_text: str
    last_at: datetime | None
    updated_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        """Serialize for the supervisor page."""
        return {
            **self.conversation.to_dict(),
            "customer_name": self.customer_name,
            "last_message": {
                "author": self.last_author,
                "text": self.last_text,
                "at": self.last_at.isoformat() if self.last_at else None,
            },
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
        }


async def supervisor_logins(db: Database) -> set[str]:
    """Staff with the supervisor role: they supervise, they are not operators with capacity to fill."""
    return {doc["_id"] async for doc in db.staff.find({"roles": Role.SUPERVISOR.value}, {"_id": 1})}


async def open_conversations(db: Database, now: datetime) -> list[LiveConversation]:
    """Queued and assigned conversations, and bot conversations active in the last half hour, oldest first."""
    recent = now - timedelta(seconds=BOT_ACTIVE_SECONDS)
    # Per state, as find_each explains: an `$or` or `$in` would read every conversation ever held.
    docs = await find_each(db.conversations, "state", list(WITH_OPERATOR))
    docs += await db.conversations.find(
        {"state": ConversationState.BOT.value, "updated_at": {"$gte": recent}}
    ).to_list()
    docs = ordered(docs, [("created_at", 1)])[:_LIVE_LIMIT]
    customer_ids = sorted({d["customer_id"] for d in docs if d.get("customer_id")})
    names = {
        d["_id"]: d.get("full_name")
        for d in await find_each(db.bank_customers, "_id", customer_ids, projection={"full_name": 1})
    }
    rows = []
    for doc in docs:
        conversation = Conversation.from_document(doc)
        last = await db.messages.find({"conversation_id": conversation.id}).sort("seq", -1).limit(1).to_list()
        text = str(last[0]["text"]) if last else ""
        rows.append(
            LiveConversation(
                conversation=conversation,
                customer_name=names.get(conversation.customer_id or ""),
                last_author=last[0]["author"] if last else None,
                last_text=text[:_PREVIEW_CHARS] + ("…" if len(text) > _PREVIEW_CHARS else ""),
                last_at=last[0]["at"] if last else None,
                updated_at=doc.get("updated_at"),
            )
        )
    return rows


@dataclass
class Supervision:
    """Join and take over; every step is a transition, a note or an outbox message, like an operator's."""

    db: Database
    bus: EventBus
    assignment: AssignmentService
    desk: Desk
    clock: Callable[[], datetime]

    async def _live(self, conversation_id: str) -> Conversation:
        conversation = await conversations.get_conversation(self.db, conversation_id)
        if conversation is None or conversation.state is ConversationState.CLOSED:
            raise NotLive("This conversation is closed.")
        return conversation

    async def join(self, login: str, name: str, conversation_id: str) -> Conversation:
        """Join beside the operator: the customer is told once, the operator reads a note.

        A conversation still with the bot is handed to the operators first, so the bot stops answering.
        """
        conversation = await self._from_bot(login, await self._live(conversation_id))
        now = self.clock()
        if await claims.claim(self.db.supervisor_joins, f"{conversation.id}:{login}", {"at": now}):
            await self._audit(conversation, login, "supervisor.join")
            notice = Reply(
                text=notice_text(Notice.SUPERVISOR_JOINED, conversation.language, name=name), author="system"
            )
            await outbox.send_to_customer(self.db, self.bus, conversation, notice, actor=f"supervisor:{login}", now=now)
            # The console shows a note of this kind in its own language (the text is for exports and the API).
            await self._note(conversation.id, login, name, f"Руководитель смены {name} — в разговоре")
        return conversation

    async def _from_bot(self, login: str, conversation: Conversation) -> Conversation:
        """A conversation still with the bot goes to the operators' side first, so the bot stops answering."""
        if conversation.state is not ConversationState.BOT:
            return conversation
        queued = await conversations.hand_off(
            self.db,
            self.bus,
            conversation.id,
            reason=HandoffReason.OTHER,
            actor=f"supervisor:{login}",
            now=self.clock(),
            context={"by_supervisor": login},
        )
        return queued or await self._live(conversation.id)

    async def say(self, login: str, name: str, conversation_id: str, text: str) -> StoredMessage:
        """Write to the customer in a conversation the supervisor joined (or took over).

        Joining first is what tells the customer and the operator who else is in the conversation.

        Raises:
            NotJoined: the supervisor has not joined it.
        """
        conversation = await self._live(conversation_id)
        joined = await self.db.supervisor_joins.find_one({"_id": f"{conversation.id}:{login}"}, {"_id": 1})
        if joined is None and conversation.assignee_id != login:
            raise NotJoined("Join the conversation first: the customer and the operator are told who joined.")
        if conversation.state not in WITH_OPERATOR:
            raise NotLive("This conversation is not with the operators.")
        await self._audit(conversation, login, "supervisor.say")
        return await outbox.send_to_customer(
            self.db,
            self.bus,
            conversation,
            Reply(text=text, author="operator"),
            actor=f"supervisor:{login}",
            now=self.clock(),
            operator_id=login,
            operator_name=name,
        )

    async def take_over(self, login: str, name: str, conversation_id: str) -> Conversation:
        """Become the conversation's owner; its operator is freed (and may get the next one from the queue)."""
        conversation = await self._live(conversation_id)
        now = self.clock()
        actor = f"supervisor:{login}"
        # From the bot straight to the supervisor, without a "joined" notice: the acceptance below is the one message.
        conversation = await self._from_bot(login, conversation)
        taken: Conversation | None
        if conversation.state is ConversationState.QUEUED:
            taken = await conversations.assign(
                self.db,
                self.bus,
                conversation.id,
                operator_id=login,
                operator_name=name,
                actor=actor,
                how="takeover",
                now=now,
            )
        elif conversation.assignee_id == login:
            taken = conversation
        else:
            previous = conversation.assignee_id or ""
            taken = await conversations.transfer(
                self.db,
                self.bus,
                conversation.id,
                from_operator_id=previous,
                to_operator=(login, name),
                to_team=None,
                note="",
                actor=actor,
                now=now,
                takeover=True,
            )
            if taken is not None:
                await self.assignment.release(previous, conversation.id)
        if taken is None:
            raise NotLive("The conversation changed meanwhile; look again.")
        await self._audit(taken, login, "supervisor.take_over", previous_operator=conversation.assignee_id)
        # Taking over is looking at it: the customer hears, in one message, who serves them now.
        await self.desk.accept(login, taken.id, takeover=True)
        return taken

    async def _audit(self, conversation: Conversation, login: str, action: str, **fields: str | None) -> None:
        """Every intervention in a customer's conversation goes to the bank's audit log."""
        await insert_audit_record(
            self.db.audit_log,
            {
                "action": action,
                "actor": f"supervisor:{login}",
                "at": self.clock(),
                "channel": conversation.channel,
                "conversation_id": conversation.id,
                "customer_id": conversation.customer_id,
                "result": "done",
                **fields,
            },
        )

    async def _note(self, conversation_id: str, login: str, name: str, text: str) -> None:
        """The "supervisor joined" note: pages show its kind in their own language, `text` is the Russian one."""
        now = self.clock()
        await self.db.notes.insert_one(
            {"conversation_id": conversation_id, "operator_id": login, "text": text, "at": now, "kind": NOTE_KIND}
        )
        data = {"operator_id": login, "operator_name": name, "text": text, "kind": NOTE_KIND}
        await self.bus.emit(Event(events.NOTE_CREATED, conversation_id, f"supervisor:{login}", now, data))
