"""Outbound delivery: messages that reach a customer outside a request/response turn.

Bot replies travel back in the response to the customer's own request. Operator
replies and queue notices arrive later, so each channel that can push (web chat
websockets, Telegram's Bot API) registers a deliverer for its channel name.
Channels that cannot push (the phone) read pending messages on their next turn.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Protocol

from handoff.conversations import Conversation
from handoff.transcript import StoredMessage

logger = logging.getLogger(__name__)


class Deliverer(Protocol):
    """Sends one stored message to the customer over its channel."""

    async def deliver(self, conversation: Conversation, message: StoredMessage) -> None:
        """Deliver or raise; the caller logs failures and keeps the message stored."""


@dataclass
class DeliveryRegistry:
    """Channel name -> deliverer, filled by connectors at registration."""

    deliverers: dict[str, Deliverer] = field(default_factory=dict)

    def can_reach(self, conversation: Conversation) -> bool:
        """Whether this process can push to the customer now.

        A deliverer that holds connections (web chat websockets) may answer for
        itself with a `can_reach(conversation)` method; with several gateway
        processes only the one holding the socket should claim the message.
        """
        deliverer = self.deliverers.get(conversation.channel)
        if deliverer is None:
            return False
        check = getattr(deliverer, "can_reach", None)
        return bool(check(conversation)) if callable(check) else True

    def pushes(self, channel: str) -> bool:
        """Whether the channel pushes messages at all (the same in every gateway process: same settings)."""
        return channel in self.deliverers

    def register(self, channel: str, deliverer: Deliverer) -> None:
        """Make `deliverer` the one for `channel`."""
        self.deliverers[channel] = deliverer

    async def deliver(self, conversation: Conversation, message: StoredMessage) -> bool:
        """Push a message to the customer; False when the channel cannot push or delivery failed."""
        deliverer = self.deliverers.get(conversation.channel)
        if deliverer is None:
            return False
        try:
            await deliverer.deliver(conversation, message)
        except Exception:
            logger.exception("Delivery to %s failed for conversation %s", conversation.channel, conversation.id)
            return False
        return True
