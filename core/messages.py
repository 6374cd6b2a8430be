"""Channel-neutral messages: what connectors hand to the router and get back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypedDict

from core.identity import CustomerIdentity


class ButtonDict(TypedDict):
    """A button as Rasa and the REST channel carry it."""

    title: str  # what the customer sees
    payload: str  # what is sent back when pressed, e.g. '/inform{"card_last4":"1234"}'


class ReplyDict(TypedDict):
    """A reply on the wire (REST channel, web chat)."""

    text: str
    buttons: list[ButtonDict]
    custom: dict[str, Any]


@dataclass(frozen=True)
class Button:
    """A choice offered to the customer."""

    title: str
    payload: str


@dataclass(frozen=True)
class Reply:
    """One outgoing message, bot or operator, before a connector renders it."""

    text: str
    buttons: tuple[Button, ...] = ()
    custom: dict[str, Any] = field(default_factory=dict)
    # "bot", "operator" or "system" (the gateway's own notices).
    author: str = "bot"

    def to_dict(self) -> ReplyDict:
        """Serialize for JSON channels."""
        return {
            "text": self.text,
            "buttons": [{"title": b.title, "payload": b.payload} for b in self.buttons],
            "custom": dict(self.custom),
        }


@dataclass(frozen=True)
class InboundMessage:
    """A customer's message after the connector checked its authenticity."""

    channel: str
    # The customer's id inside the channel: REST sender, web chat visitor id, Telegram chat id.
    channel_user_id: str
    text: str
    identity: CustomerIdentity | None = None
    # Language the channel knows for sure (UI switch, phone line), else detected from text.
    language_hint: str | None = None
    # The channel's own message id, used to drop retries.
    channel_message_id: str | None = None


@dataclass(frozen=True)
class Turn:
    """What the router did with one inbound message."""

    conversation_id: str
    replies: tuple[Reply, ...]
    state: str
