"""Fuzz run: hostile requests on every endpoint of a freshly started platform; prints requests sent and 5xx count.

    python -m bench.fuzz [--per-endpoint 40] [--seed 1]

Starts FerretDB, the action server, Rasa and the gateway as the tests do (core.stack) in a
temporary directory, signs in as the demo editor and supervisor, and sends `--per-endpoint`
Hypothesis-written requests (tests/fuzz_support.py) to every route the app factory registers.
Prints one figure a line; every 5xx that is not a deliberate 503 is listed after the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from core.app import create_app
from core.settings import Settings
from core.stack import running_stack
from tests.fuzz_support import Endpoint, FuzzClient, endpoints, requests_for


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def fuzz_endpoint(
    loop: asyncio.AbstractEventLoop, client: FuzzClient, endpoint: Endpoint, examples: int, statuses: Counter[int]
) -> None:
    """Send `examples` hostile requests to one endpoint."""

    @seed(examples)
    @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        statuses[loop.run_until_complete(client.send(data.draw(requests_for(endpoint))))] += 1

    run()


def main() -> None:
    """Start the platform, fuzz every endpoint, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--per-endpoint", type=int, default=40, help="requests per endpoint")
    args = parser.parse_args()
    routes = endpoints(create_app(Settings()))
    loop = asyncio.new_event_loop()
    statuses: Counter[int] = Counter()
    with tempfile.TemporaryDirectory(prefix="cc-fuzz-") as tmp, running_stack(Path(tmp)) as stack:
        client = FuzzClient(stack.gateway_url)
        loop.run_until_complete(client.sign_in())
        gateway_pid = stack.processes["gateway"].popen.pid
        cpu_before, started = _cpu_seconds(gateway_pid), time.monotonic()
        for endpoint in routes:
            fuzz_endpoint(loop, client, endpoint, args.per_endpoint, statuses)
        elapsed, cpu = time.monotonic() - started, _cpu_seconds(gateway_pid) - cpu_before
        loop.run_until_complete(client.close())
        alive = stack.processes["gateway"].popen.poll() is None
    loop.close()
    print(f"endpoints: {len(routes)}")
    print(f"requests sent: {client.sent}")
    print(f"5xx count: {len(client.server_errors)}")
    print(f"deliberate 503 (page not built / voice not configured): {client.deliberate_503}")
    print(f"answers by status: {dict(sorted(statuses.items()))}")
    print(f"gateway alive after the run: {alive}")
    print(f"wall time: {elapsed:.1f} s")
    print(f"gateway CPU per request: {1000 * cpu / max(client.sent, 1):.2f} ms")
    for status, request in client.server_errors:
        print(f"  {status} {request.endpoint.method} {request.path[:200]} body={str(request.body)[:200]!r}")


if __name__ == "__main__":
    main()
