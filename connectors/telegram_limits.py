"""Outgoing Bot API calls kept under Telegram's flood limits, retried after a 429 `retry_after`."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import AnswerCallbackQuery, SendChatAction, TelegramMethod
from aiogram.methods.base import Response, TelegramType

if TYPE_CHECKING:
    from aiogram import Bot

logger = logging.getLogger(__name__)

# Telegram's FAQ: about 30 messages per second overall and one per second in a chat, with short bursts tolerated.
GLOBAL_MESSAGES_PER_SECOND = 30.0
CHAT_MESSAGES_PER_SECOND = 1.0
# A reply split into parts plus its keyboard should not wait a second between parts.
CHAT_BURST = 3
# After this many 429 answers in a row the call fails and the delivery is retried later.
MAX_RETRIES = 3
# Methods that do not post a message and are not counted against the flood limits.
_UNCOUNTED: tuple[type[TelegramMethod[object]], ...] = (SendChatAction, AnswerCallbackQuery)  # type: ignore[assignment]


@dataclass
class _Bucket:
    """Generic cell rate algorithm: `tat` is the theoretical arrival time of the next message."""

    interval: float
    burst: int
    tat: float = 0.0

    def reserve(self, now: float) -> float:
        """Reserve the next slot; returns how long to wait for it."""
        tat = max(self.tat, now)
        wait = max(0.0, tat - (self.burst - 1) * self.interval - now)
        self.tat = tat + self.interval
        return wait


@dataclass
class FloodLimiter:
    """Global and per-chat buckets; reservations are taken without awaiting, so no lock is needed."""

    per_second: float = GLOBAL_MESSAGES_PER_SECOND
    chat_per_second: float = CHAT_MESSAGES_PER_SECOND
    chat_burst: int = CHAT_BURST
    clock: Callable[[], float] = time.monotonic
    _global: _Bucket = field(init=False)
    _chats: dict[str, _Bucket] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._global = _Bucket(1 / self.per_second, int(self.per_second))

    def reserve(self, chat_id: str | None) -> float:
        """Seconds to wait before sending to this chat."""
        now = self.clock()
        wait = 0.0
        if chat_id is not None:
            bucket = self._chats.get(chat_id)
            if bucket is None or bucket.tat < now - 60:
                # Buckets of idle chats are recycled so the dict does not grow without bound.
                bucket = self._chats[chat_id] = _Bucket(1 / self.chat_per_second, self.chat_burst)
                self._drop_idle(now)
            wait = bucket.reserve(now)
        # The global slot is taken now even when the chat's own limit delays the message: slightly
        # conservative, but a chat held back for seconds must not push every other chat back too.
        return max(wait, self._global.reserve(now))

    def push_back(self, chat_id: str | None, seconds: float) -> None:
        """Telegram said wait: nothing more goes to that chat (or anywhere) before then."""
        until = self.clock() + seconds
        target = self._chats.get(chat_id) if chat_id is not None else self._global
        if target is not None:
            target.tat = max(target.tat, until)

    def _drop_idle(self, now: float) -> None:
        if len(self._chats) > 10_000:
            for key in [k for k, b in self._chats.items() if b.tat < now - 60]:
                del self._chats[key]


class SharedLimit(Protocol):
    """A send rate shared with other processes (outbound/limits.py): the outbound workers' Telegram budget."""

    async def acquire(self, key: str | None = None, patience: float = 60.0) -> None:
        """Wait for a slot."""
        ...


class FloodControlMiddleware(BaseRequestMiddleware):
    """aiogram request middleware: waits for a slot, and on 429 waits `retry_after` and tries again.

    With a shared limit, replies also take their slot from the budget the outbound workers share in
    Redis, so replies and campaigns together stay within Telegram's ~30 messages a second.
    """

    def __init__(self, limiter: FloodLimiter, shared: SharedLimit | None = None) -> None:
        self._limiter = limiter
        self._shared = shared
        self.retried = 0

    async def __call__(
        self, make_request: NextRequestMiddlewareType[TelegramType], bot: Bot, method: TelegramMethod[TelegramType]
    ) -> Response[TelegramType]:
        """Send `method` within the limits."""
        chat = getattr(method, "chat_id", None)
        chat_id = None if chat is None else str(chat)
        counted = not isinstance(method, _UNCOUNTED)
        for attempt in range(MAX_RETRIES + 1):
            if counted:
                wait = self._limiter.reserve(chat_id)
                if wait > 0:
                    await asyncio.sleep(wait)
                if self._shared is not None:
                    await self._shared.acquire(None)
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as err:
                if attempt == MAX_RETRIES:
                    raise
                self.retried += 1
                logger.warning("Telegram flood control on %s: retry in %s s", type(method).__name__, err.retry_after)
                self._limiter.push_back(chat_id, err.retry_after)
                await asyncio.sleep(err.retry_after)
        raise AssertionError("unreachable")  # pragma: no cover
