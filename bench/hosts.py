"""The deployment of deploy/compose.yaml across hosts, with a bot host and a gateway host killed mid-load (issue 22).

Builds network-namespace hosts (core/hosts.py: database, cache, two bot hosts, two
gateways, HAProxy), starts the compose file's services on them, runs conversations
through HAProxy, measures each host's CPU per turn while every host is up, kills
bot-1 and gw-1 (every process at once) and counts, from the database, the messages
lost, duplicated and left unanswered. Needs root (`ip netns`).

Two cores cannot show a second machine's gain; the scaling figure is CPU-ms per turn
per host kind, from which one bot host's turns per second per core follow
(docs/benchmarks.md). One line per figure.

    . scripts/env.sh && PYTHONPATH=$PWD $APP_VENV/bin/python -m bench.hosts --conversations 12 --turns 6
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
from pathlib import Path

from core.deployment import checked_output, running_deployment
from tests.hosts_support import HostsRun, run_load


def report(run: HostsRun, timings: dict[str, float]) -> None:
    """One line per figure."""
    for step, seconds in timings.items():
        print(f"hosts: start, {step}: {seconds:.0f} s")
    print(
        f"hosts: turns measured {run.turns_measured} in {run.seconds_measured:.1f} s "
        f"({run.turns_measured / max(run.seconds_measured, 0.001):.1f} turns/s on this machine)"
    )
    for kind, value in sorted(run.cpu_ms_per_turn.items()):
        print(f"hosts: cpu-ms per turn, {kind}: {value:.1f}")
    print(f"hosts: cpu-ms per turn, all hosts: {sum(run.cpu_ms_per_turn.values()):.1f}")
    for name, value in sorted(run.cpu_ms_per_turn_by_host.items()):
        print(f"hosts: cpu-ms per turn, host {name}: {value:.1f} (rss {run.rss_mib_by_host[name]:.0f} MiB)")
    bot = run.cpu_ms_per_turn.get("bot", 0.0)
    if bot:
        print(f"hosts: turns/s per core of an added bot host: {1000 / bot:.0f}")
    print(f"hosts: measured-phase messages handed to an operator {run.handed_off_while_measured}")
    print(f"hosts: new conversations after the kill: {run.fresh_answered} of {run.fresh_sent} answered by the bot")
    print(f"hosts: killed {', '.join(f'{name} ({count} processes)' for name, count in run.killed.items())}")
    t = run.tally
    print(f"hosts: messages sent {t.sent}, stored once {t.stored_once}, lost {t.lost}, duplicated {t.duplicated}")
    print(
        f"hosts: answered {t.answered}, with an operator {t.with_operator}, unanswered {t.unanswered}, "
        f"conversations handed off {t.handoffs}"
    )
    print(
        f"hosts: messages whose sender gave up {run.failed_requests}; answered by the bot after the kill "
        f"{run.answers_after_kill}"
    )


def main() -> None:
    """Run once and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--conversations", type=int, default=12)
    parser.add_argument("--turns", type=int, default=6, help="turns per conversation in the measured phase")
    parser.add_argument("--turns-after-kill", type=int, default=6)
    args = parser.parse_args()
    print(f"hosts: load before {checked_output(['uptime'])}")
    data_dir = Path(tempfile.mkdtemp(prefix="cc-hosts-bench-"))
    print(f"hosts: logs in {data_dir}/logs")
    with running_deployment(data_dir) as deployment:
        run = asyncio.run(
            run_load(
                deployment,
                conversations=args.conversations,
                measured_turns=args.turns,
                turns_after_kill=args.turns_after_kill,
                run_id=deployment.network.tag,
            )
        )
    report(run, deployment.timings)
    print(f"hosts: load after {checked_output(['uptime'])}")
    if problems := run.problems():
        print(f"hosts: FAILED: {'; '.join(problems)} (logs in {data_dir}/logs)")
        sys.exit(1)
    shutil.rmtree(data_dir, ignore_errors=True)  # kept when the run fails: the logs say why


if __name__ == "__main__":
    main()
