"""The run command's supervisor brings crashed services back while the gateway keeps answering (issue 10).

Starts `./scripts/run` itself (supervisord over PostgreSQL, FerretDB, the action server,
Rasa and the gateway) on free ports with a data folder of its own, waits for "ready",
then kills Rasa and the action server with SIGKILL, as a crash would.
"""

from __future__ import annotations

import os
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from core.stack import RunCommand


def get(url: str) -> int:
    """The HTTP status of a GET, 0 when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 -- loopback URL we built
            return int(resp.status)
    except urllib.error.HTTPError as err:
        return err.code
    except OSError:
        return 0


@pytest.fixture(scope="module")
def platform() -> Iterator[RunCommand]:
    running = RunCommand.start()
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()


def test_run_says_ready_only_when_everything_answers(platform: RunCommand) -> None:
    # /readyz answered; the run command polls it each second and then says so.
    deadline = time.monotonic() + 30
    while "run: ready after" not in platform.log_path.read_text() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert "run: ready after" in platform.log_path.read_text()
    assert get(platform.gateway_url + "/healthz") == 200


def test_killed_rasa_and_action_server_come_back_while_the_gateway_answers(platform: RunCommand) -> None:
    [rasa] = platform.pids_of("rasa run")
    actions = platform.pids_of("actions.server")[0]
    os.kill(rasa, signal.SIGKILL)
    os.kill(actions, signal.SIGKILL)
    # The gateway stays up and says what is missing.
    deadline = time.monotonic() + 30
    statuses = set()
    while time.monotonic() < deadline and 503 not in statuses:
        statuses.add(get(platform.gateway_url + "/readyz"))
        assert get(platform.gateway_url + "/healthz") == 200
        time.sleep(0.5)
    assert 503 in statuses
    platform.wait_ready()
    assert platform.pids_of("rasa run") != [rasa]
    assert actions not in platform.pids_of("actions.server")
    log = platform.log_path.read_text()
    assert "exited: rasa-0" in log and "exited: actions" in log
