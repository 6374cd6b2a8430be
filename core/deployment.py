"""deploy/compose.yaml started on network-namespace hosts (core/hosts.py), with exactly that file's settings.

Each service's environment and command come from the compose file, with its
`${VAR}` references filled from `variables` as Compose fills them. What a
container image would add is translated once, here: the image's Python is this
machine's environment for that side (`$APP_VENV`, `$RASA_VENV`), `/app` is the
checkout, `/app/model.tar.gz` is setup's model, and the official images of
PostgreSQL, FerretDB, Redis and HAProxy are the same programs from Debian or
setup. Nothing else is added, so a setting missing from the compose file is
missing here too, and the run fails as the deployment would.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from core import pgcluster
from core.hosts import Host, Network, host_network
from core.stack import ROOT, Process, StackError, env_path

COMPOSE_FILE = ROOT / "deploy" / "compose.yaml"
HAPROXY_FILE = ROOT / "deploy" / "haproxy.cfg"

# Which services live on which host: the layout of docs/operations.md, "Deployment on several machines".
LAYOUT: dict[str, tuple[str, ...]] = {
    "db": ("postgres", "ferretdb"),
    "cache": ("redis",),
    "bot-1": ("rasa-1", "actions-1"),
    "bot-2": ("rasa-2", "actions-2"),
    "gw-1": ("gateway-1", "outbound-1"),
    "gw-2": ("gateway-2", "outbound-2"),
    "lb": ("haproxy",),
}
# The host kinds the figures are given for.
KINDS = {"db": "database", "cache": "cache", "bot": "bot", "gw": "gateway", "lb": "balancer"}

_REFERENCE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:\?|:-)(?P<arg>[^}]*))?\}")


def kind_of(host_name: str) -> str:
    """`bot-2` -> `bot`."""
    return KINDS[host_name.split("-")[0]]


def interpolate(value: str, variables: Mapping[str, str]) -> str:
    """Compose's `${VAR}`, `${VAR:-default}` and `${VAR:?message}`."""

    def fill(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"]
        given = variables.get(name, "")
        if op == ":?" and not given:
            raise StackError(f"compose.yaml needs {name}: {arg}")
        if op == ":-" and not given:
            return str(arg)
        return given

    return _REFERENCE.sub(fill, value)


def compose_services(variables: Mapping[str, str], path: Path = COMPOSE_FILE) -> dict[str, dict[str, Any]]:
    """The compose file's services, anchors merged and every string interpolated."""
    document = yaml.safe_load(path.read_text())

    def walk(node: Any) -> Any:
        if isinstance(node, str):
            return interpolate(node, variables)
        if isinstance(node, list):
            return [walk(item) for item in node]
        if isinstance(node, dict):
            return {key: walk(item) for key, item in node.items()}
        return node

    services: dict[str, dict[str, Any]] = walk(document["services"])
    return services


def deployment_variables() -> dict[str, str]:
    """What an operator sets before `docker compose up`: fresh secrets, an API key, the demo bank allowed."""

    def secret() -> str:
        return secrets.token_urlsafe(48)

    api_key = secrets.token_urlsafe(32)
    return {
        "POSTGRES_PASSWORD": secrets.token_urlsafe(24),
        "REDIS_PASSWORD": secrets.token_hex(24),  # part of REDIS_URL: no character that needs quoting
        "RASA_TOKEN": secret(),
        "CUSTOMER_TOKEN_SECRET": secret(),
        "ACTION_SERVER_TOKEN": secret(),
        "IDENTITY_SIGNING_SECRET": secret(),
        "REST_API_KEY": api_key,  # not read by compose: the integration's own copy
        "REST_API_KEYS": f"load:{hashlib.sha256(api_key.encode()).hexdigest()}",
        "ALLOW_DEMO_BANKING": "true",
    }


def _image_environment(side: str) -> dict[str, str]:
    """What deploy/Dockerfile.app or Dockerfile.rasa set (ENV), plus the basics every process needs."""
    base = {key: os.environ[key] for key in ("PATH", "HOME", "LANG", "CC_CACHE_DIR") if key in os.environ}
    base |= {"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    if side == "rasa":
        base["RASA_TELEMETRY_ENABLED"] = "false"
    return base


def _wait_tcp(process: Process, address: str, port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            raise StackError(f"{process.name} exited with {process.popen.returncode}; see {process.log_path}")
        try:
            with socket.create_connection((address, port), timeout=1):
                return
        except OSError:
            time.sleep(0.3)
    raise StackError(
        f"{process.name} did not listen on {address}:{port} within {timeout:.0f} s; see {process.log_path}"
    )


def wait_http(process: Process | None, url: str, timeout: float) -> None:
    """Until `url` answers 200 (or the process exits)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.popen.poll() is not None:
            raise StackError(f"{process.name} exited with {process.popen.returncode}; see {process.log_path}")
        try:
            with urllib.request.urlopen(url, timeout=3) as resp:  # noqa: S310 -- an address we made
                if resp.status == 200:
                    return
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.5)
    where = f"; see {process.log_path}" if process else ""
    raise StackError(f"{url} did not answer 200 within {timeout:.0f} s{where}")


def wait_log(process: Process, text: str, timeout: float) -> None:
    """Until the process's log holds `text` (a worker has no port to ask)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            raise StackError(f"{process.name} exited with {process.popen.returncode}; see {process.log_path}")
        if text in process.log_path.read_text(encoding="utf-8", errors="replace"):
            return
        time.sleep(0.5)
    raise StackError(f"{process.name} did not log {text!r} within {timeout:.0f} s; see {process.log_path}")


@dataclass
class Deployment:
    """The compose file's services running on the hosts of `network`."""

    network: Network
    data_dir: Path
    variables: dict[str, str] = field(default_factory=deployment_variables)
    services: dict[str, dict[str, Any]] = field(init=False)
    pg_dir: Path | None = None
    # Seconds each start step took (bench/hosts.py prints them).
    timings: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.services = compose_services(self.variables)

    @property
    def log_dir(self) -> Path:
        """Every service's output, one file per host and service."""
        return self.data_dir / "logs"

    def host_of(self, service: str) -> Host:
        """The host a service runs on."""
        return next(host for host in self.network.hosts.values() if service in host.aliases)

    def environment(self, service: str) -> dict[str, str]:
        """The service's environment: the compose file's, as strings."""
        raw = self.services[service].get("environment") or {}
        return {str(key): "" if value is None else str(value) for key, value in raw.items()}

    def _command(self, service: str, python: Path) -> list[str]:
        """The compose command with the image's paths translated to this machine."""
        args = [str(arg) for arg in self.services[service]["command"]]
        translated = [str(python) if args[0] == "python" else args[0]]
        for arg in args[1:]:
            translated.append(str(env_path("MODEL_PATH")) if arg == "/app/model.tar.gz" else arg.replace("/app/", ""))
        return translated

    @property
    def public_url(self) -> str:
        """Where customers and channels reach the platform: HAProxy's port on the balancer host."""
        return f"http://{self.network.address_of('haproxy')}:8080"

    # -- the database host: PostgreSQL (as the postgres:15 image sets it up) and FerretDB on it

    def start_database(self) -> None:
        """PostgreSQL listening on the network with a password, the image's init script, then FerretDB."""
        host = self.host_of("postgres")
        env = self.environment("postgres")
        # PostgreSQL runs unprivileged: its folder must not sit under root's private temporary folders.
        self.pg_dir = Path(tempfile.mkdtemp(prefix="cc-hosts-postgres-"))
        self.pg_dir.chmod(0o755)
        pg_dir = self.pg_dir / "data"
        user = pgcluster.ensure_cluster(pg_dir)
        # Peers reach it with the password, as the image's `host all all all scram-sha-256` rule does.
        with (pg_dir / "pg_hba.conf").open("a") as hba:
            hba.write("host all all 0.0.0.0/0 scram-sha-256\n")
        args = [*pgcluster.server_args(pg_dir, 5432, durable=False), "-c", "listen_addresses=*"]
        postgres = host.spawn("postgres", args, _image_environment("postgres"), self.log_dir, user=(user.uid, user.gid))
        _wait_tcp(postgres, host.address, 5432, timeout=60)
        psql = [
            pgcluster.pg_bin("psql"),
            "-h",
            "127.0.0.1",
            "-p",
            "5432",
            "-U",
            env["POSTGRES_USER"],
            "-v",
            "ON_ERROR_STOP=1",
        ]
        password = env["POSTGRES_PASSWORD"].replace("'", "''")
        host.run([*psql, "-d", "postgres", "-c", f"ALTER ROLE {env['POSTGRES_USER']} PASSWORD '{password}'"])
        host.run([*psql, "-d", "postgres", "-c", f'CREATE DATABASE "{env["POSTGRES_DB"]}"'])
        host.run([*psql, "-d", env["POSTGRES_DB"], "-f", str(ROOT / "deploy" / "postgres-init.sql")])

        ferret_env = self.environment("ferretdb") | {
            "FERRETDB_STATE_DIR": str(self.data_dir / "ferretdb"),
            "FERRETDB_LOG_LEVEL": "warn",
            "FERRETDB_DEBUG_ADDR": "-",
        }
        (self.data_dir / "ferretdb").mkdir(exist_ok=True)
        ferretdb = host.spawn("ferretdb", [str(env_path("FERRETDB_BIN"))], ferret_env, self.log_dir)
        _wait_tcp(ferretdb, host.address, 27017, timeout=60)

    def start_cache(self) -> None:
        """Redis with the compose file's command."""
        host = self.host_of("redis")
        redis = host.spawn(
            "redis", self._command("redis", Path("redis-server")), _image_environment("redis"), self.log_dir
        )
        _wait_tcp(redis, host.address, 6379, timeout=30)

    def _start_python(self, service: str, name: str, side: str) -> Process:
        """A Python service of the compose file on its host, with the image's Python (`app` or `rasa`) and ENV."""
        python = env_path("RASA_VENV" if side == "rasa" else "APP_VENV") / "bin/python"
        return self.host_of(service).spawn(
            name,
            self._command(service, python),
            _image_environment(side) | self.environment(service),
            self.log_dir,
            cwd=ROOT,
        )

    def start_bots(self, numbers: tuple[int, ...] = (1, 2)) -> None:
        """Every bot host's action server and Rasa, started at once; back when all answer."""
        started: list[tuple[Process, str, float]] = []
        for number in numbers:
            actions, rasa = f"actions-{number}", f"rasa-{number}"
            host = self.host_of(rasa)
            started.append((self._start_python(actions, "actions", "app"), f"http://{host.address}:5055/health", 240))
            rasa_server = self._start_python(rasa, "rasa", "rasa")
            token = self.variables["RASA_TOKEN"]
            started.append((rasa_server, f"http://{host.address}:5005/status?token={token}", 600))
        self._wait_all(started)

    def start_gateways(self, numbers: tuple[int, ...] = (1, 2)) -> None:
        """Every gateway host, started at once (they race to set the database up, as a deployment's do)."""
        started: list[tuple[Process, str, float]] = []
        for number in numbers:
            service = f"gateway-{number}"
            host = self.host_of(service)
            started.append((self._start_python(service, "gateway", "app"), f"http://{host.address}:8080/health", 240))
        self._wait_all(started)
        self.start_outbound_workers(numbers)

    def start_outbound_workers(self, numbers: tuple[int, ...] = (1, 2)) -> None:
        """The outbound worker beside each gateway; back when each serves the queue (it says so in its log)."""
        workers = [self._start_python(f"outbound-{number}", "outbound", "app") for number in numbers]
        for worker in workers:
            wait_log(worker, "Outbound worker serving queue", timeout=120)

    def start_balancer(self) -> None:
        """HAProxy with deploy/haproxy.cfg; back once it serves a ready gateway."""
        host = self.host_of("haproxy")
        haproxy = host.spawn(
            "haproxy",
            [shutil.which("haproxy") or "/usr/sbin/haproxy", "-db", "-f", str(HAPROXY_FILE)],
            {},
            self.log_dir,
        )
        wait_http(haproxy, f"{self.public_url}/readyz", timeout=120)

    def start(self) -> None:
        """Every service, in the order their dependencies need; bots and gateways start side by side."""
        began = time.monotonic()
        self.start_database()
        self.start_cache()
        self.timings["database and cache"] = time.monotonic() - began
        with ThreadPoolExecutor(2) as pool:
            bots, gateways = (
                pool.submit(self._timed, "bots", self.start_bots),
                pool.submit(self._timed, "gateways", self.start_gateways),
            )
            bots.result()
            gateways.result()
        self.start_balancer()
        self.timings["all"] = time.monotonic() - began

    def _timed(self, name: str, start: Callable[[], None]) -> None:
        began = time.monotonic()
        start()
        self.timings[name] = time.monotonic() - began

    @staticmethod
    def _wait_all(started: list[tuple[Process, str, float]]) -> None:
        with ThreadPoolExecutor(len(started)) as pool:
            for future in [pool.submit(wait_http, process, url, timeout) for process, url, timeout in started]:
                future.result()

    def cpu_seconds(self) -> dict[str, float]:
        """CPU used so far per host, read from /proc for every process in the host's namespace."""
        return {name: host.cpu_seconds() for name, host in self.network.hosts.items()}

    def rss_mib(self) -> dict[str, float]:
        """Resident memory per host."""
        return {name: host.rss_kib() / 1024 for name, host in self.network.hosts.items()}


@contextlib.contextmanager
def running_deployment(data_dir: Path) -> Iterator[Deployment]:
    """The compose file's deployment on fresh hosts; every process, namespace and file removed on exit."""
    with host_network(LAYOUT) as network:
        deployment = Deployment(network=network, data_dir=data_dir)
        try:
            deployment.start()
            yield deployment
        finally:
            network.destroy()
            if deployment.pg_dir is not None:
                shutil.rmtree(deployment.pg_dir, ignore_errors=True)


def checked_output(args: list[str]) -> str:
    """A short command's output (for a bench's `uptime`)."""
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout.strip()  # noqa: S603
