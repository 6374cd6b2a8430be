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

ROOT = Path(__file__).resolve().parent.parent

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
    env = dict(os.environ, PYTHONPATH=str(ROOT), RASA_TELEMETRY_ENABLED="false")
    python = Path(os.environ["RASA_VENV"]) / "bin/python"
    done = subprocess.run(
        [str(python), "-c", _PROBE, str(tmp_path / "trackers.db")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
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
