"""Rasa's CPU per turn with its SQL tracker store as shipped (on the event loop) and threaded (bot/tracker_store.py).

Starts the database, the action server and two Rasa servers with the same model, one with bot/endpoints.yml (the
threaded store) and one with the same file naming Rasa's own `type: SQL`, then sends the same turns to both in
alternation (bench/turn_cost.py's loop), so both see the same machine load. Prints one line per figure: p50/p95
of a turn and the CPU time of each Rasa process per turn.
Usage: `. scripts/env.sh && $APP_VENV/bin/python -m bench.tracker_store_cost [--turns 200] [--repeats 2]`
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

from bench.nlu import ROOT
from bench.turn_cost import compare
from core.stack import running_stack

THREADED_TYPE = "bot.tracker_store.ThreadedSQLTrackerStore"


def shipped_endpoints(directory: Path) -> Path:
    """bot/endpoints.yml with Rasa's own SQL tracker store instead of the threaded one."""
    text = (ROOT / "bot" / "endpoints.yml").read_text(encoding="utf-8")
    if f"type: {THREADED_TYPE}" not in text:
        raise SystemExit(f"bot/endpoints.yml does not name {THREADED_TYPE}")
    path = directory / "endpoints-shipped-sql.yml"
    path.write_text(text.replace(f"type: {THREADED_TYPE}", "type: SQL"), encoding="utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=200, help="turns per configuration and repeat")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    print(f"tracker_store_cost: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load {os.getloadavg()}")
    with tempfile.TemporaryDirectory(prefix="bench-tracker-store-") as tmp:
        with running_stack(Path(tmp), with_gateway=False) as stack:  # "rasa": bot/endpoints.yml, threaded
            os.environ["RASA_ENDPOINTS"] = str(shipped_endpoints(Path(tmp)))
            stack.start_rasa("rasa-shipped-sql")
            for repeat in range(args.repeats):
                print(f"tracker_store_cost: repeat {repeat + 1}, load {os.getloadavg()}")
                asyncio.run(compare(stack, ["rasa", "rasa-shipped-sql"], args.turns))


if __name__ == "__main__":
    main()
