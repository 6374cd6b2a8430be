"""The run command's supervisor brings crashed services back while the gateway keeps answering (issue 10).

Starts `./scripts/run` itself (supervisord over PostgreSQL, FerretDB, the action server,
Rasa and the gateway) on free ports with a data folder of its own, waits for "ready",
then kills Rasa and the action server with SIGKILL, as a crash would. A killed main process
takes its workers with it (a Sanic worker orphaned by a kill used to keep the action server's
port, so every restart failed), and stopping the run command leaves none of its processes.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.stack import RunCommand, descendants


def get(url: str) -> int:
    """The HTTP status of a GET, 0 when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 -- loopback URL we built
            return int(resp.status)
    except urllib.error.HTTPError as err:
        return err.code
    except OSError:
        return 0


def processes_of(run: RunCommand) -> dict[int, str]:
    """Every process on the machine started for this run (its environment names the run's data folder).

    Found by environment, not by parentage: an orphan is re-parented and no longer below the run command.
    """
    marker = f"CC_DATA_DIR={run.data_dir}".encode()
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    return found


def listening_on(port: int) -> bool:
    """Whether any socket listens on the loopback port (from /proc/net/tcp: state 0A is LISTEN)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                    return True
    return False


@pytest.fixture(scope="module")
def platform() -> Iterator[RunCommand]:
    running = RunCommand.start()
    try:
        # One Rasa per core, all loading their models at once: on a busy 2-core machine that took 380 s.
        running.wait_ready(timeout=1200)
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


def usable_cores() -> int:
    """What scripts/run counts: the cores this process may use, its cgroup's CPU quota, 1 GB of memory each."""
    cores = len(os.sched_getaffinity(0))
    with contextlib.suppress(OSError, ValueError):
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()
        if quota != "max":
            cores = min(cores, -(-int(quota) // int(period)))
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    available_kb = next(int(line.split()[1]) for line in meminfo if line.startswith("MemAvailable"))
    return max(1, min(cores, available_kb // 1048576))


def test_run_starts_one_rasa_process_per_usable_core(platform: RunCommand) -> None:
    rasa = platform.pids_of("rasa run")
    assert len(rasa) == usable_cores()
    assert f"run: {len(rasa)} Rasa process(es)" in platform.log_path.read_text()
    # Redis always runs: Rasa and the action server share sentence embeddings through it.
    assert platform.pids_of("redis-server")


def test_killed_rasa_and_action_server_come_back_while_the_gateway_answers(platform: RunCommand) -> None:
    rasa = platform.pids_of("rasa run")[0]
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
    assert rasa not in platform.pids_of("rasa run")
    assert len(platform.pids_of("rasa run")) == usable_cores()
    assert actions not in platform.pids_of("actions.server")
    log = platform.log_path.read_text()
    assert "exited: rasa-" in log and "exited: actions" in log


def test_a_killed_action_server_leaves_no_worker_behind_and_comes_back_on_its_port(platform: RunCommand) -> None:
    [main] = platform.pids_of("actions.server")
    os.kill(main, signal.SIGKILL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (
        platform.pids_of("actions.server") and get(platform.gateway_url + "/readyz") == 200
    ):
        time.sleep(0.5)
    assert get(platform.gateway_url + "/readyz") == 200, "the action server answers again without a hand"
    [again] = platform.pids_of("actions.server")
    assert again != main
    supervised = {platform.process.pid, *descendants(platform.process.pid)}
    orphans = {pid: cmd for pid, cmd in processes_of(platform).items() if pid not in supervised}
    assert orphans == {}, "nothing of the killed server lives on outside the supervisor"
    assert "Address already in use" not in platform.log_path.read_text()


def test_stopping_the_run_command_leaves_none_of_its_processes(platform: RunCommand) -> None:
    """The last story of the module: the user stops the run command as `kill` (or Ctrl-C in its terminal) does."""
    assert len(processes_of(platform)) >= 5, "the platform is running"
    platform.process.send_signal(signal.SIGTERM)
    platform.process.wait(timeout=90)
    deadline = time.monotonic() + 15
    while processes_of(platform) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert processes_of(platform) == {}, "every service and every child of a service has stopped"
    assert not listening_on(platform.ports["ACTIONS_PORT"]) and not listening_on(platform.ports["GATEWAY_PORT"])
