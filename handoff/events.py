"""Event names, in dotted noun.past_verb form, shared by emitters and listeners, and the event itself."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypedDict

CONVERSATION_CREATED = "conversation.created"
CONVERSATION_BOT_HANDOFF = "conversation.bot_handoff"
CONVERSATION_ASSIGNED = "conversation.assigned"
# The assignee opened, took or answered the conversation; only then is the customer told an operator joined.
CONVERSATION_ACCEPTED = "conversation.accepted"
CONVERSATION_TRANSFERRED = "conversation.transferred"
CONVERSATION_RETURNED_TO_BOT = "conversation.returned_to_bot"
CONVERSATION_CLOSED = "conversation.closed"
MESSAGE_CREATED = "message.created"
MESSAGE_DELIVERED = "message.delivered"
NOTE_CREATED = "note.created"
CUSTOMER_TYPED = "customer.typed"
OPERATOR_TYPED = "operator.typed"
OPERATOR_STATUS_CHANGED = "operator.status_changed"
RATING_CREATED = "rating.created"
# A customer answered a survey question (handoff.surveys): the post-conversation rating and survey campaigns.
SURVEY_ANSWERED = "survey.answered"
CALLBACK_REQUESTED = "callback.requested"
# The conversation's customer was verified (by an operator's check or the channel's sign-in).
CUSTOMER_VERIFIED = "customer.verified"
# An operator blocked one of the customer's cards (data: card, last four digits only).
CARD_BLOCKED = "card.blocked"
# Triage: priority, labels and snooze of a conversation, changed by staff (or a snooze woken).
CONVERSATION_PRIORITY_CHANGED = "conversation.priority_changed"
CONVERSATION_LABELS_CHANGED = "conversation.labels_changed"
CONVERSATION_SNOOZED = "conversation.snoozed"
CONVERSATION_WOKEN = "conversation.woken"
# A conversation went past its service-level target (first or next response).
SLA_BREACHED = "sla.breached"
# Card-digit checks of a customer (or by an operator) were locked after too many failures (handoff/verify_limits.py).
VERIFICATION_LOCKED = "verification.locked"
# A signed-in web-chat customer signed out their other sessions: every gateway process closes that customer's
# other open pages at once (data: customer_id, keep: a hash of the visitor id that stays signed in).
CUSTOMER_SIGNED_OUT_OTHERS = "customer.signed_out_others"

# Ephemeral events are published live but never stored (typing indicators).
EPHEMERAL_EVENTS = frozenset({CUSTOMER_TYPED, OPERATOR_TYPED, CUSTOMER_SIGNED_OUT_OTHERS})
# Events for the customer's channel only: never pushed to staff consoles.
CHANNEL_ONLY_EVENTS = frozenset({CUSTOMER_SIGNED_OUT_OTHERS})


class EventDict(TypedDict):
    """An event on the wire (Redis pub/sub, console websocket)."""

    id: str  # unique id; listeners use it to stay idempotent
    seq: int | None  # global order of stored events, None for ephemeral ones; consoles catch up by it
    name: str  # one of the constants above
    conversation_id: str | None  # the conversation the event concerns, if any
    actor: str  # "bot", "gateway", "customer", "operator:<id>", "system"
    at: str  # ISO 8601 time in UTC
    data: dict[str, Any]  # event-specific fields (reason, operator_id, message seq and text, ...)
    origin: str  # id of the gateway process that emitted it


@dataclass(frozen=True)
class Event:
    """Something that happened to a conversation, an operator or the queue."""

    name: str
    conversation_id: str | None
    actor: str
    at: datetime
    data: dict[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    seq: int | None = None
    origin: str = ""

    def to_dict(self) -> EventDict:
        """Serialize for the wire."""
        return {
            "id": self.id,
            "seq": self.seq,
            "name": self.name,
            "conversation_id": self.conversation_id,
            "actor": self.actor,
            "at": self.at.isoformat(),
            "data": self.data,
            "origin": self.origin,
        }

    @classmethod
    def from_dict(cls, raw: EventDict) -> Event:
        """Parse what `to_dict` produced (on another gateway process)."""
        at = datetime.fromisoformat(raw["at"])
        return cls(
            name=raw["name"],
            conversation_id=raw["conversation_id"],
            actor=raw["actor"],
            at=at if at.tzinfo else at.replace(tzinfo=UTC),
            data=dict(raw["data"]),
            id=raw["id"],
            seq=raw["seq"],
            origin=raw["origin"],
        )


def handler_name(event_name: str) -> str:
    """The listener method for an event: `conversation.bot_handoff` -> `conversation_bot_handoff`."""
    return event_name.replace(".", "_")
