"""The Rasa processes behind the gateway: which one serves a conversation, and how many calls each serves at once.

Under load, sending every message to Rasa at once made each call wait in Rasa's
own queue while the bot timeout ran, so at 20 concurrent conversations every
one of them timed out to the operators (issue 9). Here each Rasa process gets a
bounded number of calls in flight; the rest wait in the gateway, where waiting
does not count against the bot timeout. A customer who waits longer than a few
seconds hears that the assistant is busy, and only a call that truly fails (or
a wait past the queue limit) hands the conversation to operators.

A Rasa process that refuses connections is retried: until it has answered once
(it is still loading its model after a start) within the queue limit, so the
first customers wait instead of being handed off; after that (it crashed and the
supervisor restarts it) for `down_after_seconds`, the bot timeout, since a
customer must hear something within seconds.

With several Rasa processes (bot hosts), a process that refuses connections is
passed over: its conversations go to the next process that answers (they share the
tracker store and Redis's lock store, so any process continues any conversation),
and it is tried again after a few seconds. A bot host that dies costs its
conversations only the turns that were in flight on it (tests/test_hosts.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from core.messages import Reply
from handoff.bot import BotMetadata, BotNotReady, BotUnavailable, RasaBot

logger = logging.getLogger(__name__)

# Between retries of a Rasa process that refuses connections (it restarts in seconds).
_NOT_READY_RETRY_SECONDS = 0.5
# A process that refused a connection while another answers is passed over for this long, then tried again.
_PASSED_OVER_SECONDS = 5.0

OnBusy = Callable[[], Awaitable[None]]


def slot_index(conversation_id: str, processes: int) -> int:
    """Which of `processes` Rasa processes serves a conversation: a stable hash of its id.

    Any process could serve any turn (they share the tracker store and Redis's lock
    store); keeping a conversation on one spreads the load evenly and keeps its turns
    from queueing on the lock across processes.
    """
    digest = hashlib.blake2b(conversation_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % processes


@dataclass
class _Slot:
    """One Rasa process and its calls in flight."""

    bot: RasaBot
    gate: asyncio.Semaphore
    waiting: int = 0
    # False until the process has answered once: refusals before that mean "still starting".
    answered: bool = False
    # Until then (monotonic clock) its conversations go to another process: it refused a connection.
    passed_over_until: float = 0.0


@dataclass
class BotPool:
    """Routes each conversation to one Rasa process, with a bounded queue in front of each."""

    bots: Sequence[RasaBot]
    concurrency: int
    busy_notice_seconds: float
    queue_timeout_seconds: float
    down_after_seconds: float
    _slots: list[_Slot] = field(init=False)

    def __post_init__(self) -> None:
        if not self.bots:
            raise ValueError("BotPool needs at least one Rasa process")
        self._slots = [_Slot(bot, asyncio.Semaphore(self.concurrency)) for bot in self.bots]

    def slot_for(self, conversation_id: str) -> int:
        """The same Rasa process for every turn of a conversation."""
        return slot_index(conversation_id, len(self._slots))

    @property
    def waiting(self) -> int:
        """Calls waiting for a free slot in this process (for /readyz and the benchmarks)."""
        return sum(slot.waiting for slot in self._slots)

    async def send(
        self, conversation_id: str, text: str, metadata: BotMetadata, on_busy: OnBusy | None = None
    ) -> list[Reply]:
        """Send one message when a slot is free; the bot timeout counts from then.

        Raises:
            BotUnavailable: the call failed, or no slot came free within the queue limit.
        """
        deadline = time.monotonic() + self.queue_timeout_seconds
        notice = _BusyNotice(on_busy, self.busy_notice_seconds)
        refused_since = time.monotonic()
        try:
            while True:
                slot = self._serving(conversation_id)
                await self._acquire(slot, deadline)
                notice.pause()  # a call being served is not "busy": Rasa's answer or the bot timeout follows
                try:
                    replies = await slot.bot.send(conversation_id, text, metadata)
                    slot.answered = True
                    slot.passed_over_until = 0.0
                    return replies
                except BotNotReady as err:
                    if self._pass_over(slot):
                        logger.warning(
                            "Rasa refused conversation %s (%s); another process serves it", conversation_id, err
                        )
                        notice.resume()
                        continue
                    if slot.answered:
                        deadline = min(deadline, refused_since + self.down_after_seconds)
                    if time.monotonic() + _NOT_READY_RETRY_SECONDS >= deadline:
                        raise BotUnavailable(f"Rasa did not become ready in time: {err}") from err
                    logger.warning("Rasa not ready for conversation %s (%s); waiting", conversation_id, err)
                finally:
                    slot.gate.release()
                notice.resume()
                await asyncio.sleep(_NOT_READY_RETRY_SECONDS)
        finally:
            notice.pause()

    def _serving(self, conversation_id: str) -> _Slot:
        """The conversation's own process, or while it is passed over the next one that is not."""
        first = self.slot_for(conversation_id)
        now = time.monotonic()
        for step in range(len(self._slots)):
            slot = self._slots[(first + step) % len(self._slots)]
            if slot.passed_over_until <= now:
                return slot
        return self._slots[first]

    def _pass_over(self, refused: _Slot) -> bool:
        """Pass over a process that refused, when another one has answered and is not passed over itself."""
        now = time.monotonic()
        others = [s for s in self._slots if s is not refused and s.answered and s.passed_over_until <= now]
        if not others:
            return False
        refused.passed_over_until = now + _PASSED_OVER_SECONDS
        return True

    async def _acquire(self, slot: _Slot, deadline: float) -> None:
        slot.waiting += 1
        try:
            await asyncio.wait_for(slot.gate.acquire(), timeout=max(deadline - time.monotonic(), 0.001))
        except TimeoutError as err:
            raise BotUnavailable(f"no free bot slot within {self.queue_timeout_seconds:.0f} s") from err
        finally:
            slot.waiting -= 1


class _BusyNotice:
    """Tells the customer once that the assistant is busy, after a few seconds of waiting (not of being served)."""

    def __init__(self, on_busy: OnBusy | None, after_seconds: float) -> None:
        self._on_busy = on_busy
        self._left = after_seconds
        self._started = time.monotonic()
        self._timer: asyncio.Task[None] | None = None
        self.resume()

    def resume(self) -> None:
        if self._on_busy is None or self._timer is not None:
            return
        self._started = time.monotonic()
        self._timer = asyncio.get_running_loop().create_task(self._fire(self._on_busy, self._left))

    def pause(self) -> None:
        if self._timer is None:
            return
        self._timer.cancel()
        self._timer = None
        self._left = max(self._left - (time.monotonic() - self._started), 0.0)

    async def _fire(self, on_busy: OnBusy, delay: float) -> None:
        await asyncio.sleep(delay)
        self._on_busy = None  # once per message
        self._timer = None
        try:
            await on_busy()
        except Exception:
            logger.exception("Could not tell the customer the assistant is busy")
