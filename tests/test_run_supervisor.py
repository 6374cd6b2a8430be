"""The run command's supervisor brings crashed services back while the gateway keeps answering (issue 10).

Starts `./scripts/run` itself (supervisord over PostgreSQL, FerretDB, the action server,
Rasa and the gateway) on free ports with a data folder of its own, waits for "ready",
then kills Rasa and the action server with SIGKILL, as a crash would.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.stack import ROOT, descendants, free_port

_READY_TIMEOUT_SECONDS = 600


@dataclass
class Platform:
    """A running `scripts/run`."""

    process: subprocess.Popen[bytes]
    gateway_url: str
    log: Path

    def pid_of(self, fragment: str) -> int:
        """The supervised process whose command line contains `fragment`."""
        for pid in descendants(self.process.pid):
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if fragment in cmdline and "serve-rasa" not in cmdline:
                return pid
        raise AssertionError(f"no process running {fragment!r}")


def get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 -- loopback URL we built
            return int(resp.status)
    except urllib.error.HTTPError as err:
        return err.code
    except OSError:
        return 0


def wait_ready(platform: Platform, timeout: float = _READY_TIMEOUT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert platform.process.poll() is None, platform.log.read_text()[-3000:]
        if get(platform.gateway_url + "/readyz") == 200:
            return
        time.sleep(1)
    raise AssertionError(f"not ready in {timeout:.0f} s; see {platform.log}")


@pytest.fixture(scope="module")
def platform() -> Iterator[Platform]:
    data_dir = Path(tempfile.mkdtemp(prefix="cc-run-"))
    data_dir.chmod(0o755)  # the PostgreSQL cluster inside belongs to an unprivileged account
    ports = {name: str(free_port()) for name in ("PG_PORT", "FERRETDB_PORT", "RASA_PORT", "ACTIONS_PORT")}
    ports["GATEWAY_PORT"] = str(free_port())
    # The run command derives every address from its ports; nothing of an outer stack may leak in.
    inherited = {"MONGODB_URI", "RASA_URL", "RASA_URLS", "ACTION_ENDPOINT_URL", "FERRETDB_POSTGRES_URL"}
    env = {k: v for k, v in os.environ.items() if k not in inherited} | ports | {"CC_DATA_DIR": str(data_dir)}
    log = data_dir / "run.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(ROOT / "scripts/run")], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    running = Platform(process, f"http://127.0.0.1:{ports['GATEWAY_PORT']}", log)
    try:
        wait_ready(running)
        yield running
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        shutil.rmtree(data_dir, ignore_errors=True)


def test_run_says_ready_only_when_everything_answers(platform: Platform) -> None:
    assert "run: ready after" in platform.log.read_text()
    assert get(platform.gateway_url + "/healthz") == 200


def test_killed_rasa_and_action_server_come_back_while_the_gateway_answers(platform: Platform) -> None:
    rasa, actions = platform.pid_of("rasa run"), platform.pid_of("actions.server")
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
    wait_ready(platform)
    assert platform.pid_of("rasa run") != rasa
    assert platform.pid_of("actions.server") != actions
    assert "exited: rasa-0" in platform.log.read_text() or "exited: rasa" in platform.log.read_text()
