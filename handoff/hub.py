"""The console hub: pushes events to the operator consoles connected to this process.

A console that reconnects says which event it saw last (`after`); the hub
replays stored events from a little before that point, then live ones, and the
console drops any event id it already has. The overlap covers events whose
sequence number was taken just before a later one became visible (several
processes store events concurrently), so nothing is lost and nothing shown twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass, field

from aiohttp import web

from core.db import Database
from handoff.bus import events_after
from handoff.events import CHANNEL_ONLY_EVENTS, Event

logger = logging.getLogger(__name__)

# How far before `after` a reconnecting console is replayed (see the module docstring); event seqs are microseconds.
CATCH_UP_OVERLAP_MICROSECONDS = 10_000_000
# A console that falls this far behind is disconnected; it reconnects and catches up from the log.
_MAX_BACKLOG_EVENTS = 5000


@dataclass(eq=False)  # identity semantics: clients live in a set
class _Client:
    socket: web.WebSocketResponse
    login: str
    queue: asyncio.Queue[Event] = field(default_factory=asyncio.Queue)


class ConsoleHub:
    """Listener (subscribed in every process) that forwards every event to the connected consoles."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._clients: set[_Client] = set()

    @property
    def connected(self) -> int:
        """How many consoles are connected to this process."""
        return len(self._clients)

    async def any_event(self, event: Event) -> None:
        """Queue the event for every connected console."""
        if event.name in CHANNEL_ONLY_EVENTS:
            return
        for client in list(self._clients):
            if client.queue.qsize() > _MAX_BACKLOG_EVENTS:
                await client.socket.close(code=1013, message=b"backlog")
                continue
            client.queue.put_nowait(event)

    async def serve(self, socket: web.WebSocketResponse, login: str, after: int | None) -> None:
        """Run one console connection until it closes: catch up, then stream live events."""
        client = _Client(socket=socket, login=login)
        # Register before reading the log, so nothing emitted meanwhile is missed; duplicates are skipped below.
        self._clients.add(client)
        sent: set[str] = set()
        try:
            if after is not None:
                for event in await events_after(self._db, max(0, after - CATCH_UP_OVERLAP_MICROSECONDS), limit=20000):
                    await socket.send_str(json.dumps({"type": "event", "event": event.to_dict(), "replay": True}))
                    sent.add(event.id)
            await socket.send_str(json.dumps({"type": "ready"}))
            writer = asyncio.create_task(self._write(client, sent))
            try:
                async for message in socket:
                    if message.type == web.WSMsgType.TEXT and message.data == "ping":
                        await socket.send_str(json.dumps({"type": "pong"}))
            finally:
                writer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await writer
        finally:
            self._clients.discard(client)

    async def _write(self, client: _Client, sent: set[str]) -> None:
        while True:
            event = await client.queue.get()
            if event.id in sent:
                continue
            try:
                await client.socket.send_str(json.dumps({"type": "event", "event": event.to_dict()}, default=str))
            except ConnectionResetError:
                return

    async def close_all(self) -> None:
        """Close every console socket (on shutdown)."""
        for client in list(self._clients):
            await client.socket.close(code=1001, message=b"server shutdown")
