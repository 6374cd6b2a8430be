"""The router: stores each customer message and sends it to the bot or to the operator side."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from core.db import Database
from core.language import DEFAULT_LANGUAGE, detect_language, parse_language
from core.masking import mask_sensitive
from core.messages import InboundMessage, Reply, Turn
from handoff import conversations, transcript
from handoff.bot import BotMetadata, BotUnavailable, RasaBot
from handoff.conversations import Conversation, ConversationState, HandoffReason
from handoff.notices import Notice, notice_text
from handoff.payloads import is_known_payload, is_payload

logger = logging.getLogger(__name__)

# Control characters other than tab and newline come from binary garbage; they are dropped.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ufffe\uffff]")


class InvalidMessage(ValueError):
    """The message cannot be accepted; the text says why, for the customer's client."""


class DuplicateMessage(Exception):
    """The channel delivered a message that was already handled (a retry)."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Router:
    """Channel -> router -> bot or operator -> channel.

    Every message is stored (masked) before anything else happens, so a failing
    bot never loses what the customer wrote.
    """

    db: Database
    bot: RasaBot
    max_message_chars: int
    clock: Callable[[], datetime] = _utcnow

    async def handle(self, message: InboundMessage) -> Turn:
        """Route one inbound message and return the replies for the customer's channel."""
        text = clean_text(message.text, self.max_message_chars)
        now = self.clock()
        if message.channel_message_id is not None and not await transcript.claim_inbound(
            self.db, message.channel, message.channel_message_id, now
        ):
            raise DuplicateMessage(message.channel_message_id)

        conversation = await conversations.open_conversation(self.db, message.channel, message.channel_user_id, now)
        language = (
            parse_language(message.language_hint)
            or detect_language(text)
            or parse_language(conversation.language)
            or DEFAULT_LANGUAGE
        )
        customer_id = message.identity.customer_id if message.identity else None
        await conversations.remember_customer(
            self.db, conversation.id, language=language, customer_id=customer_id, now=now
        )

        masked = mask_sensitive(text)
        await transcript.append(
            self.db,
            conversation.id,
            author="customer",
            text=masked.text,
            now=now,
            extra={"channel": message.channel, "language": language, "redacted": sorted(masked.found)},
        )

        replies: list[Reply] = []
        if masked.changed:
            replies.append(Reply(text=notice_text(Notice.SENSITIVE_DATA, language), author="system"))

        state = conversation.state
        if state is not ConversationState.BOT:
            replies.append(Reply(text=notice_text(Notice.WITH_OPERATOR, language), author="system"))
        elif is_payload(masked.text) and not is_known_payload(masked.text):
            replies.append(Reply(text=notice_text(Notice.UNKNOWN_BUTTON, language), author="system"))
        else:
            metadata: BotMetadata = {
                "channel": message.channel,
                "language": language,
                "customer_id": customer_id,
                "identity_method": message.identity.method if message.identity else None,
                "redacted": sorted(masked.found),
            }
            bot_replies, state = await self._ask_bot(conversation, masked.text, metadata, now)
            replies.extend(bot_replies)

        for reply in replies:
            await transcript.append_reply(self.db, conversation.id, reply, self.clock())
        return Turn(conversation_id=conversation.id, replies=tuple(replies), state=state.value)

    async def _ask_bot(
        self, conversation: Conversation, text: str, metadata: BotMetadata, now: datetime
    ) -> tuple[list[Reply], ConversationState]:
        try:
            replies = await self.bot.send(conversation.id, text, metadata)
        except BotUnavailable as err:
            logger.error("Bot unavailable for conversation %s: %s", conversation.id, err)
            await conversations.hand_off(
                self.db, conversation.id, reason=HandoffReason.BOT_UNAVAILABLE, actor="gateway", now=now
            )
            notice = Reply(text=notice_text(Notice.BOT_UNAVAILABLE, metadata["language"]), author="system")
            return [notice], ConversationState.QUEUED

        state = ConversationState.BOT
        for reply in replies:
            handoff = reply.custom.get("handoff")
            if isinstance(handoff, dict):
                reason = HandoffReason.parse(handoff.get("reason"))
                await conversations.hand_off(self.db, conversation.id, reason=reason, actor="bot", now=now)
                state = ConversationState.QUEUED
        # A custom payload with only a handoff marker is for us, not for the customer.
        visible = [r for r in replies if r.text or r.buttons or set(r.custom) - {"handoff"}]
        return visible, state


def clean_text(text: str, max_chars: int) -> str:
    """Drop control characters and refuse empty or oversize messages.

    Raises:
        InvalidMessage: with a reason the client can show.
    """
    cleaned = _CONTROL_RE.sub("", text).strip()
    if not cleaned:
        raise InvalidMessage("The message is empty.")
    if len(cleaned) > max_chars:
        raise InvalidMessage(f"The message is {len(cleaned)} characters long; the limit is {max_chars}.")
    return cleaned
