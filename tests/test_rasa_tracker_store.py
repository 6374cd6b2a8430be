"""Rasa's tracker store off its event loop (bot/tracker_store.py), loaded the way Rasa loads bot/endpoints.yml.

Runs in Rasa's own Python 3.10 environment on an SQLite file (the same SQLAlchemy code as PostgreSQL);
tests/test_scale_out.py shows the store on the stack's real PostgreSQL, two Rasa processes sharing it.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def run_in_rasas_python(probe: str, database: Path) -> dict[str, Any]:
    """Run a probe script in Rasa's own environment on an SQLite file; its last printed line is its result."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), RASA_TELEMETRY_ENABLED="false")
    python = Path(os.environ["RASA_VENV"]) / "bin/python"
    done = subprocess.run(
        [str(python), "-c", probe, str(database)], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


_PROBE = textwrap.dedent(
    """
    import asyncio, json, sys, threading
    import yaml
    from rasa.core.tracker_store import TrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.utils.endpoints import EndpointConfig

    configured = yaml.safe_load(open("bot/endpoints.yml"))["tracker_store"]["type"]
    domain = Domain.load("bot/domain.yml")
    # Rasa's own factory: an unknown module path would silently give an in-memory store.
    config = EndpointConfig(type=configured, dialect="sqlite", db=sys.argv[1])
    threads = []

    async def story() -> dict:
        store = TrackerStore.create(config, domain=domain)
        blocking = store._in_thread
        def noting_thread(call, *args):
            threads.append(threading.current_thread().name)
            return call(*args)
        async def recorded(call, *args):
            return await blocking(noting_thread, call, *args)
        store._in_thread = recorded
        ticks = 0
        async def ticker():
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)
        tick_task = asyncio.create_task(ticker())
        tracker = DialogueStateTracker("customer-1", domain.slots)
        tracker.update(ActionExecuted("action_listen"))
        tracker.update(UserUttered("Какой у меня баланс?", {"name": "check_balance", "confidence": 0.9}))
        tracker.update(SlotSet("language", "ru"))
        await store.save(tracker)
        tracker.update(ActionExecuted("action_listen"))
        tracker.update(UserUttered("block my card", {"name": "block_card", "confidence": 0.8}))
        await store.save(tracker)
        reloaded = await store.retrieve("customer-1")
        missing = await store.retrieve("nobody")
        keys = list(await store.keys())
        tick_task.cancel()
        return {
            "class": type(store).__name__,
            "texts": [e.text for e in reloaded.events if isinstance(e, UserUttered)],
            "language": reloaded.get_slot("language"),
            "events": len(reloaded.events),
            "saved_events": len(tracker.events),
            "missing": missing is None,
            "keys": keys,
            "ticks": ticks,
        }

    result = asyncio.run(story())
    result["threads"] = threads
    print(json.dumps(result))
    """
)


def test_a_conversation_saved_twice_reloads_whole_from_the_threaded_store(tmp_path: Path) -> None:
    result = run_in_rasas_python(_PROBE, tmp_path / "trackers.db")
    # bot/endpoints.yml names the threaded store and Rasa's factory builds it (not its in-memory fallback).
    assert result["class"] == "ThreadedSQLTrackerStore"
    # Both turns come back in order, with the slot, and nothing written twice.
    assert result["texts"] == ["Какой у меня баланс?", "block my card"]
    assert result["language"] == "ru"
    assert result["events"] == result["saved_events"]
    assert result["missing"] is True
    assert result["keys"] == ["customer-1"]
    # Every save, retrieve and key listing went through the pool while the event loop kept running.
    assert len(result["threads"]) == 5
    assert all(name.startswith("tracker-store") for name in result["threads"])
    assert result["ticks"] > 0


_TURN_PROBE = textwrap.dedent(
    """
    import asyncio, json, sys
    import sqlalchemy as sa
    import yaml
    from rasa.core.tracker_store import TrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.utils.endpoints import EndpointConfig

    configured = yaml.safe_load(open("bot/endpoints.yml"))["tracker_store"]["type"]
    domain = Domain.load("bot/domain.yml")
    config = EndpointConfig(type=configured, dialect="sqlite", db=sys.argv[1])
    statements = []

    def said(text):
        return [ActionExecuted("action_listen"), UserUttered(text, {"name": "greet", "confidence": 0.9}),
                BotUttered("ok")]

    async def story() -> dict:
        store = TrackerStore.create(config, domain=domain)
        sa.event.listen(store.engine, "before_cursor_execute",
                        lambda conn, cursor, statement, *rest: statements.append(statement))
        first = DialogueStateTracker("anna", domain.slots)
        for event in [ActionExecuted("action_session_start"), SessionStarted(), *said("здравствуйте")]:
            first.update(event)
        await store.save(first)  # built here, not retrieved: Rasa's count decides what is new
        counted_first = sum("count(" in s.lower() for s in statements)
        seen = {}
        for n, text in enumerate(["какой у меня баланс", "спасибо"]):
            tracker = await store.retrieve("anna")  # a turn: retrieve, add the turn's events, save
            for event in said(text):
                tracker.update(event)
            statements.clear()
            await store.save(tracker)
            seen[text] = sum("count(" in s.lower() for s in statements)
        # A new session inside a turn: the old session's events stay stored once, the new ones follow.
        tracker = await store.retrieve("anna")
        for event in [ActionExecuted("action_session_start"), SessionStarted(), *said("hello again")]:
            tracker.update(event)
        await store.save(tracker)
        whole = await store.retrieve_full_tracker("anna")
        current = await store.retrieve("anna")
        # Saving the same retrieved tracker twice: the second save asks the database again and adds nothing.
        again = await store.retrieve("anna")
        await store.save(again)
        statements.clear()
        await store.save(again)
        return {
            "counted_first": counted_first,
            "counted_in_turns": seen,
            "texts": [e.text for e in whole.events if isinstance(e, UserUttered)],
            "current": [e.text for e in current.events if isinstance(e, UserUttered)],
            "second_save_counted": sum("count(" in s.lower() for s in statements),
            "rows": len((await store.retrieve_full_tracker("anna")).events),
            "whole": len(whole.events),
        }

    print(json.dumps(asyncio.run(story())))
    """
)


def test_a_turn_saves_only_its_new_events_without_counting_the_stored_ones_again(tmp_path: Path) -> None:
    result = run_in_rasas_python(_TURN_PROBE, tmp_path / "trackers.db")
    # A tracker the store did not retrieve is counted in the database, as Rasa does.
    assert result["counted_first"] == 1
    # A turn's save knows from its retrieve how many events are stored: no count query.
    assert result["counted_in_turns"] == {"какой у меня баланс": 0, "спасибо": 0}
    # Every message stored once and in order, across the new session; the current session is the new one.
    assert result["texts"] == ["здравствуйте", "какой у меня баланс", "спасибо", "hello again"]
    assert result["current"] == ["hello again"]
    assert result["second_save_counted"] == 1
    assert result["rows"] == result["whole"]
