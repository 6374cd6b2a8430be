"""Outbound messages to Telegram chats through aiogram's Bot API client, under the shared rate limit.

What Telegram answers decides the outcome: a message id is `Sent`; 403 (the customer blocked the
bot) and 400 are final; 429 and 5xx are temporary (Telegram did not take the message); a lost
connection or timeout is `Unknown`, since sendMessage has no idempotency key and the message may
have been delivered.
"""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)

from connectors.telegram_render import escape, inline_keyboard
from outbound.limits import LocalRateLimit, SharedRateLimit
from outbound.models import Channel
from outbound.senders import FinalFailure, OutboundMessage, SendResult, Sent, TemporaryFailure, Unknown

logger = logging.getLogger(__name__)

# Telegram's FAQ: about 30 messages a second in total (replies to inbound messages included), 1 a second per chat.
TELEGRAM_PER_SECOND = 30
_REQUEST_TIMEOUT_SECONDS = 15


def create_outbound_bot(token: str, api_base: str = "") -> Bot:
    """A Bot for sending only (no dispatcher); a custom Bot API server when `api_base` is set."""
    session = AiohttpSession(api=TelegramAPIServer.from_base(api_base)) if api_base else AiohttpSession()
    return Bot(token, session=session)


class TelegramSender:
    """Sends one outbound message as an HTML message with its answer buttons."""

    channel = Channel.TELEGRAM

    def __init__(self, bot: Bot, limit: SharedRateLimit | LocalRateLimit | None = None) -> None:
        self.bot = bot
        self.limit = limit

    async def reserve(self, address: str) -> None:
        """Wait for a slot, in total and in the chat (TimeoutError after a minute)."""
        if self.limit is not None:
            await self.limit.acquire(address)

    async def send(self, message: OutboundMessage) -> SendResult:
        """Call sendMessage once (the slot was reserved before the attempt was claimed)."""
        try:
            sent = await self.bot.send_message(
                chat_id=int(message.address),
                text=escape(message.text),
                parse_mode="HTML",
                reply_markup=inline_keyboard(message.buttons) if message.buttons else None,
                request_timeout=_REQUEST_TIMEOUT_SECONDS,
            )
        except TelegramForbiddenError as err:
            return FinalFailure(f"blocked: {err.message}")
        except TelegramRetryAfter as err:
            return TemporaryFailure(f"flood control: {err.message}", retry_after=float(err.retry_after))
        except TelegramServerError as err:
            return TemporaryFailure(f"Telegram server error: {err.message}")
        except TelegramNetworkError as err:
            return Unknown(f"no answer from Telegram: {err.message}")
        except TelegramAPIError as err:
            return FinalFailure(f"refused: {err.message}")
        return Sent(provider_id=f"{sent.chat.id}:{sent.message_id}")

    async def close(self) -> None:
        """Close the Bot's HTTP session."""
        await self.bot.session.close()
