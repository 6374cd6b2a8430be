"""The event bus: stores events in order and hands them to listeners, in-process or over Redis pub/sub.

Every process runs its listeners off the request path, each on its own queue so
one slow listener (reporting writes) never delays another (console pushes) and
each listener sees events in the order they were emitted. With Redis configured,
events also travel to the other gateway processes; a process ignores its own
events coming back from Redis because it already dispatched them locally.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, cast

from core.db import Database, Document
from handoff import claims
from handoff.events import EPHEMERAL_EVENTS, Event, EventDict, handler_name

logger = logging.getLogger(__name__)

REDIS_CHANNEL = "contact-center:events"


class Listener(Protocol):
    """Any object with handler methods.

    The bus calls the method named after the event (`conversation_closed`) if
    there is one, else `any_event` (the console hub forwards everything).
    """


Handler = Callable[[Event], Awaitable[None]]


@dataclass
class _Subscription:
    listener: object
    # Local-only listeners (reporting, auto-assignment) act once, in the process that emitted the event.
    local_only: bool
    queue: asyncio.Queue[Event] = field(default_factory=asyncio.Queue)
    # Events queued or being handled; drain() waits for zero.
    pending: int = 0
    worker: asyncio.Task[None] | None = None


def _handler(listener: object, event_name: str) -> Handler | None:
    found = getattr(listener, handler_name(event_name), None) or getattr(listener, "any_event", None)
    return cast(Handler, found) if found is not None else None


async def ensure_indexes(db: Database) -> None:
    """Create the event log's indexes (catch-up by seq, figures by time)."""
    await db.events.create_index([("seq", 1)], unique=True)
    await db.events.create_index([("name", 1), ("at", 1)])
    await db.events.create_index([("conversation_id", 1), ("seq", 1)])


async def store_event(db: Database, event: Event) -> Event:
    """Give the event a unique sequence number and store it.

    The number is the emission time in microseconds (bumped on a collision), so
    events are ordered by time across processes without a shared counter that
    every writer would contend for; consoles catch up from a time overlap
    (see handoff/hub.py).
    """

    def build(seq: int) -> Document:
        return {
            "_id": event.id,
            "seq": seq,
            "name": event.name,
            "conversation_id": event.conversation_id,
            "actor": event.actor,
            "at": event.at,
            "data": event.data,
            "origin": event.origin,
        }

    start = event.seq if event.seq is not None else max(_micros(event.at), time.time_ns() // 1000)
    doc = await claims.insert_unique(db.events, start, build)
    return event_from_document(doc)


def _micros(at: datetime) -> int:
    return int(at.timestamp() * 1_000_000)


def event_from_document(doc: Document) -> Event:
    """Build an event from the event log."""
    return Event(
        name=doc["name"],
        conversation_id=doc.get("conversation_id"),
        actor=doc["actor"],
        at=doc["at"],
        data=doc.get("data") or {},
        id=doc["_id"],
        seq=doc.get("seq"),
        origin=doc.get("origin", ""),
    )


async def events_after(db: Database, after_seq: int, limit: int = 1000) -> list[Event]:
    """Stored events with a sequence number above `after_seq`, in order (console catch-up)."""
    cursor = db.events.find({"seq": {"$gt": after_seq}}).sort("seq", 1).limit(limit)
    return [event_from_document(doc) async for doc in cursor]


async def last_event_seq(db: Database) -> int:
    """The sequence number of the newest stored event (0 when none)."""
    last = await db.events.find_one({}, sort=[("seq", -1)])
    return int(last["seq"]) if last else 0


class RedisTransport:
    """Carries events between gateway processes over Redis pub/sub."""

    def __init__(self, url: str) -> None:
        import redis.asyncio as aioredis  # imported here: single-process runs never need Redis

        self._client: Any = aioredis.from_url(url)
        self._pubsub: Any = None
        self._reader: asyncio.Task[None] | None = None

    async def start(self, on_event: Callable[[Event], None]) -> None:
        """Subscribe and feed every received event to `on_event`."""
        self._pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        await self._pubsub.subscribe(REDIS_CHANNEL)
        self._reader = asyncio.create_task(self._read(on_event))

    async def _read(self, on_event: Callable[[Event], None]) -> None:
        while True:
            try:
                message = await self._pubsub.get_message(timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("Redis pub/sub read failed; retrying in 1 s")
                await asyncio.sleep(1)
                continue
            if message is None or message.get("type") != "message":
                continue
            try:
                raw = cast(EventDict, json.loads(message["data"]))
                on_event(Event.from_dict(raw))
            except (ValueError, KeyError, TypeError):
                logger.warning("Dropped a malformed event from Redis")

    async def publish(self, event: Event) -> None:
        """Send one event to every gateway process."""
        await self._client.publish(REDIS_CHANNEL, json.dumps(event.to_dict(), ensure_ascii=False, default=str))

    async def close(self) -> None:
        """Stop reading and close the connection."""
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        if self._pubsub is not None:
            await self._pubsub.aclose()
        await self._client.aclose()


class EventBus:
    """Stores and dispatches events; the one way state changes reach listeners."""

    def __init__(self, db: Database, *, origin: str | None = None, transport: RedisTransport | None = None) -> None:
        self.db = db
        self.origin = origin or uuid.uuid4().hex[:12]
        self._transport = transport
        self._subscriptions: list[_Subscription] = []

    def subscribe(self, listener: object, *, local_only: bool = False) -> None:
        """Add a listener; it gets events in emission order on its own worker task."""
        subscription = _Subscription(listener=listener, local_only=local_only)
        subscription.worker = asyncio.get_running_loop().create_task(self._work(subscription))
        self._subscriptions.append(subscription)

    async def start(self) -> None:
        """Start receiving other processes' events (no-op without Redis)."""
        if self._transport is not None:
            await self._transport.start(self._on_remote)

    async def emit(self, event: Event) -> Event:
        """Store the event (unless ephemeral), dispatch it locally and publish it to other processes.

        Returns:
            The event with its sequence number and origin.
        """
        event = Event(
            name=event.name,
            conversation_id=event.conversation_id,
            actor=event.actor,
            at=event.at,
            data=event.data,
            id=event.id,
            origin=self.origin,
        )
        event = dataclasses.replace(event, seq=max(_micros(event.at), time.time_ns() // 1000))
        # Consoles in this process see the event before it is stored: the store is the slow part under load.
        self._dispatch(event, remote=False)
        if event.name not in EPHEMERAL_EVENTS:
            # A collision bumps the stored seq by a microsecond; consoles deduplicate by id, not by seq.
            event = await store_event(self.db, event)
        if self._transport is not None:
            try:
                await self._transport.publish(event)
            except Exception:
                # The event is stored; consoles on other processes catch up by seq when they reconnect.
                logger.exception("Publishing %s to Redis failed", event.name)
        return event

    def _on_remote(self, event: Event) -> None:
        if event.origin != self.origin:
            self._dispatch(event, remote=True)

    def _dispatch(self, event: Event, *, remote: bool) -> None:
        for subscription in self._subscriptions:
            if remote and subscription.local_only:
                continue
            if _handler(subscription.listener, event.name) is not None:
                subscription.pending += 1
                subscription.queue.put_nowait(event)

    async def _work(self, subscription: _Subscription) -> None:
        while True:
            event = await subscription.queue.get()
            try:
                handler = _handler(subscription.listener, event.name)
                if handler is not None:
                    await handler(event)
            except Exception:
                logger.exception("Listener %s failed on %s", type(subscription.listener).__name__, event.name)
            finally:
                subscription.pending -= 1
                subscription.queue.task_done()

    async def drain(self) -> None:
        """Wait until every listener has handled every event, including events listeners emitted meanwhile."""
        # Polling, because counts change in many workers and listeners may emit while we wait.
        while any(s.pending for s in self._subscriptions):  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        for subscription in self._subscriptions:
            # Listeners that fan work out to their own tasks (delivery) finish it too.
            listener_drain = getattr(subscription.listener, "drain", None)
            if callable(listener_drain):
                await listener_drain()

    async def close(self) -> None:
        """Finish pending work, stop the workers and the transport."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.drain(), timeout=5)
        for subscription in self._subscriptions:
            if subscription.worker is not None:
                subscription.worker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await subscription.worker
        self._subscriptions.clear()
        if self._transport is not None:
            await self._transport.close()
