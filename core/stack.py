"""Start the platform's processes (PostgreSQL, FerretDB, action server, Rasa, gateway) for tests and benchmarks.

`scripts/run` uses supervisord (deploy/supervisord.conf) instead; this module exists so that
tests and benchmarks start the very same commands on free ports and wait until
each process is ready.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from core import pgcluster
from core.ports import is_taken
from core.settings import LOCAL_ACTION_SERVER_TOKEN, LOCAL_CUSTOMER_TOKEN_SECRET, LOCAL_RASA_TOKEN

ROOT = Path(__file__).resolve().parent.parent


class StackError(RuntimeError):
    """A process did not start; the message names its log file."""


def free_port() -> int:
    """Ask the OS for a free loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def free_port_run(count: int) -> int:
    """The first of `count` consecutive free loopback ports: Rasa process n listens on RASA_PORT+n."""
    for _ in range(100):
        first = free_port()
        if not any(is_taken(port) for port in range(first + 1, first + count)):
            return first
    raise StackError(f"no {count} consecutive free loopback ports")


def env_path(name: str) -> Path:
    """A path the project's environment (scripts/env.sh) names; a clear error when it is not set."""
    value = os.environ.get(name)
    if not value:
        raise StackError(f"{name} is not set: run through ./scripts/test, or `. scripts/env.sh` first.")
    return Path(value)


@dataclass
class Process:
    """A started process and where its output goes."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    def stop(self) -> None:
        """Terminate, then kill if it does not exit in time."""
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=5)

    def rss_kib(self) -> int:
        """Resident memory of the process and its children."""
        return tree_rss_kib(self.popen.pid)

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the process and its live children used so far."""
        return tree_cpu_seconds(self.popen.pid)


def tree_rss_kib(pid: int) -> int:
    """Resident memory of a process and all its descendants, from /proc, in KiB."""
    total = 0
    for member in [pid, *descendants(pid)]:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process, its live descendants and their reaped children, from /proc, in seconds."""
    ticks = 0
    for member in [pid, *descendants(pid)]:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
            # utime, stime, cutime, cstime (fields 14-17 of stat): PostgreSQL's exited backends count too.
            ticks += sum(int(value) for value in fields[11:15])
    return ticks / os.sysconf("SC_CLK_TCK")


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (children first, depth first), from /proc."""
    found: list[int] = []
    with contextlib.suppress(OSError):
        for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
            found.append(int(child))
            found.extend(descendants(int(child)))
    return found


def _spawn(name: str, args: list[str], env: dict[str, str], log_dir: Path) -> Process:
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    # The child keeps its own copy of the descriptor; ours is closed at once (no ResourceWarning).
    with log_path.open("wb") as log:
        popen = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
    return Process(name=name, popen=popen, log_path=log_path)


def _wait(process: Process, ready: str | int, timeout: float) -> None:
    """Wait for an HTTP URL to answer 200 or a TCP port to accept connections."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            raise StackError(f"{process.name} exited with {process.popen.returncode}; see {process.log_path}")
        try:
            if isinstance(ready, int):
                with socket.create_connection(("127.0.0.1", ready), timeout=1):
                    return
            else:
                with urllib.request.urlopen(ready, timeout=2) as resp:  # noqa: S310 -- loopback URL we built
                    if resp.status == 200:
                        return
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.2)
    process.stop()
    raise StackError(f"{process.name} was not ready within {timeout:.0f} s; see {process.log_path}")


def rasa_tracker_env(postgres_port: int, host: str = "127.0.0.1") -> dict[str, str]:
    """Settings bot/endpoints.yml reads for Rasa's SQL tracker store on the stack's PostgreSQL."""
    return {
        "RASA_TRACKER_HOST": host,
        "RASA_TRACKER_PORT": str(postgres_port),
        "RASA_TRACKER_DB": pgcluster.RASA_DATABASE,
        "RASA_TRACKER_USER": pgcluster.PG_ROLE,
        "RASA_TRACKER_PASSWORD": "",
    }


def rasa_lock_env(redis_port: int | None) -> dict[str, str]:
    """Rasa's lock store: in memory for one Rasa process, Redis when several share the conversations."""
    return {
        "RASA_LOCK_STORE": "redis" if redis_port else "in_memory",
        "REDIS_HOST": "127.0.0.1",
        "REDIS_PORT": str(redis_port or 6379),
        "REDIS_PASSWORD": "",  # the stack's Redis listens on loopback only
    }


@dataclass
class Stack:
    """The running platform: ports, URLs and processes."""

    data_dir: Path
    rasa_token: str = LOCAL_RASA_TOKEN
    customer_token_secret: str = LOCAL_CUSTOMER_TOKEN_SECRET
    mongodb_db: str = "contact_center"
    processes: dict[str, Process] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    pg_dir: Path | None = None
    # "postgresql" (the default) or "sqlite": the configuration before issue 9 (FerretDB on SQLite, Rasa's
    # Mongo tracker store, Rasa's own per-call schema check), kept for side-by-side benchmarks.
    storage: str = "postgresql"
    # Durable commits for benchmarks that measure the run command's configuration; tests skip fsync.
    durable: bool = False
    # Extra PostgreSQL settings (`-c name=value`), e.g. auto_explain for the query-plan test.
    postgres_settings: dict[str, str] = field(default_factory=dict)

    @property
    def mongodb_uri(self) -> str:
        """URI of the stack's FerretDB."""
        return f"mongodb://127.0.0.1:{self.ports['ferretdb']}/"

    @property
    def rasa_url(self) -> str:
        """Base URL of the Rasa server."""
        return f"http://127.0.0.1:{self.ports['rasa']}"

    @property
    def gateway_url(self) -> str:
        """Base URL of the gateway."""
        return f"http://127.0.0.1:{self.ports['gateway']}"

    def env(self) -> dict[str, str]:
        """Environment shared by every process of the stack."""
        env = dict(os.environ)
        env.update(
            {
                "PYTHONPATH": str(ROOT),
                "MONGODB_URI": self.mongodb_uri,
                "MONGODB_DB": self.mongodb_db,
                "RASA_TOKEN": self.rasa_token,
                "CUSTOMER_TOKEN_SECRET": self.customer_token_secret,
                "ACTION_SERVER_TOKEN": os.environ.get("ACTION_SERVER_TOKEN", LOCAL_ACTION_SERVER_TOKEN),
                "RASA_TRACKER_MONGO_DB": f"{self.mongodb_db}_rasa",
                # Rasa reports nothing to Segment or Sentry, whatever the caller's environment says.
                "RASA_TELEMETRY_ENABLED": "false",
            }
        )
        env |= rasa_lock_env(self.ports.get("redis"))
        if "redis" in self.ports:
            env["REDIS_URL"] = f"redis://127.0.0.1:{self.ports['redis']}/0"
            env["OUTBOUND_REDIS_URL"] = env["REDIS_URL"]
        if "postgres" in self.ports:
            env |= rasa_tracker_env(self.ports["postgres"])
            env["FERRETDB_POSTGRES_URL"] = pgcluster.ferretdb_url(self.ports["postgres"])
            env["OUTBOUND_DATABASE_URL"] = pgcluster.outbound_url(self.ports["postgres"])
        if self.storage == "sqlite":
            env |= {"RASA_ENDPOINTS": "bot/endpoints-mongo.yml", "CC_RASA_PATCHES": "off"}
        if "actions" in self.ports:
            env["ACTION_ENDPOINT_URL"] = f"http://127.0.0.1:{self.ports['actions']}/webhook"
        if "rasa" in self.ports:
            env["RASA_URL"] = self.rasa_url
            env["RASA_URLS"] = ",".join(self.rasa_urls)
        return env

    def start_postgres(self, *, durable: bool = False) -> None:
        """A PostgreSQL cluster of its own, under a folder the server's unprivileged account can reach.

        pytest's tmp folders are private to root, and PostgreSQL refuses to run as
        root, so the cluster lives in a fresh folder of its own, removed on stop.
        """
        port = self.ports.setdefault("postgres", free_port())
        self.pg_dir = Path(tempfile.mkdtemp(prefix="cc-postgres-"))
        self.pg_dir.chmod(0o755)  # mkdtemp's 0700 would keep the server's account out
        log_dir = self.data_dir / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        popen = pgcluster.start(
            self.pg_dir / "data", port, log_dir / "postgres.log", durable=durable, extra_settings=self.postgres_settings
        )
        self.processes["postgres"] = Process(name="postgres", popen=popen, log_path=log_dir / "postgres.log")
        pgcluster.create_databases(port)

    def start_ferretdb(self) -> None:
        """FerretDB on the stack's PostgreSQL (started first when it is not running), or on SQLite files."""
        port = self.ports.setdefault("ferretdb", free_port())
        state_dir = self.data_dir / "ferretdb"
        state_dir.mkdir(parents=True, exist_ok=True)
        if self.storage == "sqlite":
            backend = ["--handler=sqlite", f"--sqlite-url=file:{state_dir}/"]
        else:
            if "postgres" not in self.processes:
                self.start_postgres(durable=self.durable)
            backend = ["--handler=postgresql", f"--postgresql-url={pgcluster.ferretdb_url(self.ports['postgres'])}"]
        args = [
            str(env_path("FERRETDB_BIN")),
            *backend,
            f"--state-dir={state_dir}",
            f"--listen-addr=127.0.0.1:{port}",
            "--debug-addr=-",
            "--telemetry=disable",
            "--log-level=warn",
        ]
        self.processes["ferretdb"] = proc = _spawn("ferretdb", args, self.env(), self.data_dir / "logs")
        _wait(proc, port, timeout=30)

    def start_actions(self) -> None:
        """The action server (rasa_sdk behind the shared token, actions/server.py; Python 3.11 environment)."""
        port = self.ports.setdefault("actions", free_port())
        args = [
            str(env_path("APP_VENV") / "bin/python"),
            "-m",
            "actions.server",
            "--actions",
            "actions",
            "-p",
            str(port),
        ]
        # rasa_sdk has no --interface flag; Sanic binds to SANIC_HOST (0.0.0.0 by default).
        env = self.env() | {"SANIC_HOST": "127.0.0.1"}
        self.processes["actions"] = proc = _spawn("actions", args, env, self.data_dir / "logs")
        _wait(proc, f"http://127.0.0.1:{port}/health", timeout=180)

    def start_redis(self) -> None:
        """A Redis server (Rasa's lock store and the gateways' pub/sub when several processes run)."""
        port = self.ports.setdefault("redis", free_port())
        args = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.processes["redis"] = proc = _spawn("redis", args, self.env(), self.data_dir / "logs")
        _wait(proc, port, timeout=30)

    def start_rasa(self, name: str = "rasa", model: Path | None = None) -> None:
        """A Rasa server with the trained model (Python 3.10 environment); `name` "rasa-2" etc. for more.

        `model` instead of setup's (MODEL_PATH) lets a benchmark run two models side by side.
        """
        port = self.ports.setdefault(name, free_port())
        model = model or env_path("MODEL_PATH")
        if not model.is_file():
            # Rasa would start without a model and answer /status anyway, then fail every turn.
            raise StackError(f"{model} is missing: run ./scripts/setup (it trains the model)")
        # bot/serve_rasa.py: the token from the environment (not the process list), telemetry off.
        args = [
            str(env_path("RASA_VENV") / "bin/python"),
            "-m",
            "bot.serve_rasa",
            "run",
            "--model",
            str(model),
            "--enable-api",
            "--credentials",
            "bot/credentials.yml",
            "--endpoints",
            self.env().get("RASA_ENDPOINTS", "bot/endpoints.yml"),
            "--interface",
            "127.0.0.1",
            "--port",
            str(port),
        ]
        self.processes[name] = proc = _spawn(name, args, self.env(), self.data_dir / "logs")
        _wait(proc, f"http://127.0.0.1:{port}/status?token={self.rasa_token}", timeout=600)

    @property
    def rasa_urls(self) -> list[str]:
        """Every Rasa process of the stack, in start order."""
        return [f"http://127.0.0.1:{port}" for name, port in self.ports.items() if name.startswith("rasa")]

    def start_gateway(self, extra_env: dict[str, str] | None = None) -> None:
        """The aiohttp gateway (Python 3.11 environment)."""
        port = self.ports.setdefault("gateway", free_port())
        env = self.env() | {"GATEWAY_PORT": str(port)} | (extra_env or {})
        args = [str(env_path("APP_VENV") / "bin/python"), "-m", "core"]
        self.processes["gateway"] = proc = _spawn("gateway", args, env, self.data_dir / "logs")
        _wait(proc, f"http://127.0.0.1:{port}/health", timeout=180)

    def stop(self, name: str | None = None) -> None:
        """Stop one process, or all of them in reverse start order."""
        names = [name] if name else list(reversed(self.processes))
        for key in names:
            process = self.processes.pop(key, None)
            if process:
                process.stop()
        if "postgres" not in self.processes and self.pg_dir is not None:
            shutil.rmtree(self.pg_dir, ignore_errors=True)
            self.pg_dir = None


@contextlib.contextmanager
def running_stack(data_dir: Path, *, with_bot: bool = True, with_gateway: bool = True) -> Iterator[Stack]:
    """Start FerretDB, the action server, Rasa and the gateway; stop them all on exit."""
    stack = Stack(data_dir=data_dir)
    try:
        stack.start_ferretdb()
        if with_bot:
            stack.start_actions()
            stack.start_rasa()
        if with_gateway:
            stack.start_gateway()
        yield stack
    finally:
        stack.stop()


# Settings the run command derives from its ports.
# Ports kept free above RASA_PORT: scripts/run starts one Rasa per usable core (memory permitting).
_RASA_PORTS = max(4, os.cpu_count() or 1)
_RUN_COMMAND_DERIVES = frozenset(
    {
        "MONGODB_URI",
        "RASA_URL",
        "RASA_URLS",
        "ACTION_ENDPOINT_URL",
        "FERRETDB_POSTGRES_URL",
        "REDIS_URL",
        "OUTBOUND_DATABASE_URL",
        "OUTBOUND_REDIS_URL",
    }
)


@dataclass
class RunCommand:
    """`scripts/run` started as a user starts it, on free ports with a data folder of its own."""

    data_dir: Path
    process: subprocess.Popen[bytes]
    ports: dict[str, int]
    log_path: Path

    @classmethod
    def start(cls, extra_env: dict[str, str] | None = None) -> RunCommand:
        """Start the run command; the data folder is reachable by PostgreSQL's unprivileged account."""
        data_dir = Path(tempfile.mkdtemp(prefix="cc-run-"))
        data_dir.chmod(0o755)
        # Rasa n listens on RASA_PORT+n (as many as the cores, scripts/run): the others keep clear of that run.
        rasa = free_port_run(_RASA_PORTS)
        ports = {"RASA_PORT": rasa}
        for name in ("PG_PORT", "FERRETDB_PORT", "ACTIONS_PORT", "GATEWAY_PORT", "REDIS_PORT"):
            port = free_port()
            while port in range(rasa, rasa + _RASA_PORTS) or port in ports.values():
                port = free_port()
            ports[name] = port
        # The run command derives every address from its ports; nothing of an outer stack may leak in.
        env = {k: v for k, v in os.environ.items() if k not in _RUN_COMMAND_DERIVES}
        env |= {name: str(port) for name, port in ports.items()} | {"CC_DATA_DIR": str(data_dir)} | (extra_env or {})
        log_path = data_dir / "run.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(  # noqa: S603 -- our own script
                [str(ROOT / "scripts/run")],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return cls(data_dir, process, ports, log_path)

    @property
    def gateway_url(self) -> str:
        """Base URL of the gateway (one port, however many gateway processes)."""
        return f"http://127.0.0.1:{self.ports['GATEWAY_PORT']}"

    @property
    def mongodb_uri(self) -> str:
        """URI of the run command's FerretDB."""
        return f"mongodb://127.0.0.1:{self.ports['FERRETDB_PORT']}/"

    def wait_ready(self, timeout: float = 600) -> float:
        """Seconds until /readyz answers 200."""
        started = time.monotonic()
        _wait(Process("run", self.process, self.log_path), f"{self.gateway_url}/readyz", timeout)
        return time.monotonic() - started

    def pids_of(self, fragment: str) -> list[int]:
        """Supervised processes whose command line contains `fragment`."""
        found = []
        for pid in descendants(self.process.pid):
            with contextlib.suppress(OSError):
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
                if fragment in cmdline and "serve-rasa" not in cmdline:
                    found.append(pid)
        return found

    def stop(self) -> None:
        """Stop the supervisor and everything under it, and remove the data folder."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        shutil.rmtree(self.data_dir, ignore_errors=True)
