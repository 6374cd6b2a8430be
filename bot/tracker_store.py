"""Rasa's SQL tracker store with its blocking database calls in a thread pool, off Rasa's event loop.

Rasa 3.6.21's SQLTrackerStore declares `retrieve` and `save` async but runs SQLAlchemy's
synchronous queries inside them: while PostgreSQL answers, Rasa's one event loop serves nobody
else (issue 22: 7.1 CPU-ms per turn, all of it on the loop). This store runs the same queries,
with the same SQL and the same table, on a small thread pool, so the loop keeps parsing and
predicting other conversations' turns meanwhile. The order of one conversation's turns is still
kept by Rasa's lock store, which is held around the whole turn.

Configured in bot/endpoints.yml as `type: bot.tracker_store.ThreadedSQLTrackerStore` with the SQL
store's own settings. RASA_TRACKER_THREADS threads (default 4) share SQLAlchemy's connection pool
(SQL_POOL_SIZE, Rasa's variable, default 50), so a thread never waits for a connection.

Rasa's save counts the stored events of the current session (a count over a sub-query) to know which
events are new. In a turn the tracker it saves is the one it retrieved moments before under the
conversation's lock, so the count is the number of events that retrieve returned: the store remembers it
for that tracker object and skips the query (2.4 of Rasa's ~42 CPU-ms per turn in a profile, and
PostgreSQL's work for it). Any other save (a tracker built elsewhere, a second save in one turn) still
counts in the database.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import json
import logging
import os
import weakref
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

logger = logging.getLogger(__name__)

DEFAULT_THREADS = 4
REMEMBERED_LIMIT = 1024  # retrieved trackers noted before the ones no longer alive are swept
T = TypeVar("T")


def thread_count(environ: dict[str, str]) -> int:
    """Threads for the store's queries: RASA_TRACKER_THREADS, at least 1."""
    raw = environ.get("RASA_TRACKER_THREADS", str(DEFAULT_THREADS))
    try:
        threads = int(raw)
    except ValueError as error:
        raise ValueError(f"RASA_TRACKER_THREADS must be a whole number, not {raw!r}") from error
    if threads < 1:
        raise ValueError(f"RASA_TRACKER_THREADS must be at least 1, not {threads}")
    return threads


class ThreadedSQLTrackerStore(SQLTrackerStore):
    """SQLTrackerStore whose queries run in a thread pool; same table, same rows, same results."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._executor = ThreadPoolExecutor(
            max_workers=thread_count(dict(os.environ)), thread_name_prefix="tracker-store"
        )
        # sender id -> (the tracker a retrieve of the current session built, how many stored events it holds)
        self._retrieved: dict[str, tuple[weakref.ref[DialogueStateTracker], int]] = {}

    async def _in_thread(self, call: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(call, *args))

    async def keys(self) -> Iterable[str]:
        """Every sender id in the store (Rasa's query), read in the pool."""
        return await self._in_thread(self._keys_blocking)

    def _keys_blocking(self) -> list[str]:
        with self.session_scope() as session:
            sender_ids = session.query(self.SQLEvent.sender_id).distinct().all()
            return [sender_id for (sender_id,) in sender_ids]

    async def _retrieve(self, sender_id: str, fetch_events_from_all_sessions: bool) -> DialogueStateTracker | None:
        return await self._in_thread(self._retrieve_blocking, sender_id, fetch_events_from_all_sessions)

    def _retrieve_blocking(self, sender_id: str, fetch_events_from_all_sessions: bool) -> DialogueStateTracker | None:
        """Rasa's SQLTrackerStore._retrieve body, unchanged, for a worker thread."""
        with self.session_scope() as session:
            rows = self._event_query(
                session, sender_id, fetch_events_from_all_sessions=fetch_events_from_all_sessions
            ).all()
            events = [json.loads(row.data) for row in rows]
        if self.domain and events:
            tracker = DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)
            if not fetch_events_from_all_sessions and len(tracker.events) == len(events):
                self._remember(sender_id, tracker, len(events))
            return tracker
        return None

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Append the turn's new events (Rasa's logic), written in the pool."""
        await self.stream_events(tracker)
        await self._in_thread(self._save_blocking, tracker)
        logger.debug("Tracker with sender_id '%s' stored to database", tracker.sender_id)

    def _save_blocking(self, tracker: DialogueStateTracker) -> None:
        """Rasa's SQLTrackerStore.save body, unchanged, for a worker thread."""
        with self.session_scope() as session:
            for event in self._unsaved_events(session, tracker):
                data = event.as_dict()
                session.add(
                    self.SQLEvent(
                        sender_id=tracker.sender_id,
                        type_name=event.type_name,
                        timestamp=data.get("timestamp"),
                        intent_name=data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
                        action_name=data.get("name"),
                        data=json.dumps(data),
                    )
                )
            session.commit()

    def _remember(self, sender_id: str, tracker: DialogueStateTracker, stored: int) -> None:
        """Note what a retrieve returned; trackers only read (never saved) are dropped once they are gone."""
        if len(self._retrieved) >= REMEMBERED_LIMIT:
            for key in [key for key, (ref, _) in list(self._retrieved.items()) if ref() is None]:
                self._retrieved.pop(key, None)
        self._retrieved[sender_id] = (weakref.ref(tracker), stored)

    def _unsaved_events(self, session: Any, tracker: DialogueStateTracker) -> Iterable[Any]:
        """The tracker's events after those already stored: known from its retrieve, else counted by Rasa."""
        remembered = self._retrieved.pop(tracker.sender_id, None)
        if remembered is not None and remembered[0]() is tracker:
            stored = remembered[1]
            return itertools.islice(tracker.events, stored, len(tracker.events))
        return self._additional_events(session, tracker)
