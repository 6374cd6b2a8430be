"""The boundary between outbound and the channels: a message to send, and what came of sending it.

Senders live with their channels in connectors/ (telegram_outbound.py, twilio_outbound.py); this
package knows only this protocol. Telegram's and Twilio's send calls take no idempotency key, so
a sender must say `Unknown` whenever the request may have reached the provider without an answer:
such an attempt is listed for review and never resent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from core.messages import Button
from outbound.models import Channel


@dataclass(frozen=True)
class OutboundMessage:
    """One contact: who (the channel's address), what, and which attempt it belongs to."""

    attempt_id: str
    channel: Channel
    address: str  # Telegram chat id, or an E.164 phone number
    text: str
    language: str
    buttons: tuple[Button, ...] = ()
    # For calls: what the line says to an answering machine (nothing about a debt).
    machine_text: str = ""
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Sent:
    """The provider accepted it; its own id for the message or call."""

    provider_id: str
    # Who the customer's answers come from in the conversation's channel, when it is not the address:
    # an answered call continues in the voice session under the call's own id.
    channel_user_id: str | None = None


@dataclass(frozen=True)
class TemporaryFailure:
    """Not sent, try again later (flood control, provider down, busy, no answer)."""

    error: str
    retry_after: float | None = None


@dataclass(frozen=True)
class FinalFailure:
    """Not sent and never will be (Telegram 403: the customer blocked the bot; a bad number)."""

    error: str


@dataclass(frozen=True)
class Unknown:
    """The request may have reached the provider (timeout, connection lost): never resent blindly."""

    error: str


SendResult = Sent | TemporaryFailure | FinalFailure | Unknown


class Sender(Protocol):
    """A channel's way of sending one outbound message."""

    channel: Channel

    async def reserve(self, address: str) -> None:
        """Wait for the channel's rate limit before the attempt is claimed (TimeoutError: try later).

        Waiting before the claim keeps the claimed-but-unsent window to the request itself, so a worker
        killed meanwhile leaves as few attempts `unknown` as possible.
        """
        ...

    async def send(self, message: OutboundMessage) -> SendResult:
        """Send it; every outcome is a result, never an exception."""
        ...
