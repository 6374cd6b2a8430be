"""A local PostgreSQL cluster for FerretDB and Rasa's tracker store (run command, tests, benchmarks).

Debian's PostgreSQL 15 server refuses to run as root, so when we are root the
cluster folder is given to an unprivileged account (`PG_OS_USER`, default
`postgres`, which Debian's package creates) and the server drops to it. The
cluster listens on 127.0.0.1 only and trusts local connections: it is the local
default; a deployment points MONGODB_URI and the RASA_TRACKER_* settings at its
own servers instead (docs/operations.md, "Deployment on several machines").

Usage from the shell (scripts/run, the supervisor):
    python -m core.pgcluster prepare DIR PORT   # initdb once, start, create databases, stop
    python -m core.pgcluster serve DIR PORT     # exec the server in the foreground
"""

from __future__ import annotations

import argparse
import os
import pwd
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from core import pg_indexes

# The cluster's superuser; every local client (FerretDB, Rasa, psql in tests) connects as it.
PG_ROLE = "contact_center"
# FerretDB keeps the platform's collections here; Rasa's SQL tracker store its own database.
FERRETDB_DATABASE = "ferretdb"
RASA_DATABASE = "rasa"
# Outbound campaigns, contact attempts and their procrastinate job queue (outbound/store.py, outbound/queue.py).
OUTBOUND_DATABASE = "outbound"
_READY_TIMEOUT_SECONDS = 60


class ClusterError(RuntimeError):
    """The cluster could not be created or started; the message says what to install or check."""


def pg_bin(name: str) -> str:
    """Path of a PostgreSQL server binary (Debian keeps them off PATH)."""
    folder = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
    candidate = folder / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise ClusterError(f"{name} not found in {folder} or on PATH: install Debian's postgresql (./scripts/setup)")
    return found


@dataclass(frozen=True)
class OsUser:
    """The account the server runs as: ourselves, or an unprivileged one when we are root."""

    uid: int
    gid: int

    @classmethod
    def for_server(cls) -> OsUser:
        """Ourselves unless root; then PG_OS_USER (default: Debian's `postgres`)."""
        if os.geteuid() != 0:
            return cls(os.getuid(), os.getgid())
        name = os.environ.get("PG_OS_USER", "postgres")
        try:
            entry = pwd.getpwnam(name)
        except KeyError as err:
            raise ClusterError(
                f"running as root and user {name!r} does not exist: install Debian's postgresql or set PG_OS_USER"
            ) from err
        return cls(entry.pw_uid, entry.pw_gid)

    def run(self, args: Sequence[str], **kwargs: object) -> subprocess.CompletedProcess[bytes]:
        """Run a command as this account."""
        return subprocess.run(list(args), user=self.uid, group=self.gid, extra_groups=[], check=True, **kwargs)  # type: ignore[call-overload,no-any-return]  # noqa: S603


def server_args(
    data_dir: Path, port: int, *, durable: bool = True, extra_settings: dict[str, str] | None = None
) -> list[str]:
    """The postgres command line: loopback only, socket in the cluster folder.

    Tests pass durable=False (no fsync): their data lives for one session and
    every commit would otherwise wait for the disk of this shared machine.
    """
    args = [
        pg_bin("postgres"),
        "-D",
        str(data_dir),
        "-p",
        str(port),
        "-c",
        "listen_addresses=127.0.0.1",
        "-c",
        f"unix_socket_directories={data_dir}",
        "-c",
        "max_connections=200",
        "-c",
        "shared_buffers=128MB",
    ]
    if not durable:
        args += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
    for name, value in (extra_settings or {}).items():
        args += ["-c", f"{name}={value}"]
    return args


def ensure_cluster(data_dir: Path) -> OsUser:
    """Create the cluster folder once (initdb), owned by the server's account."""
    user = OsUser.for_server()
    data_dir.mkdir(parents=True, exist_ok=True)
    os.chown(data_dir, user.uid, user.gid)
    data_dir.chmod(0o700)
    if not (data_dir / "PG_VERSION").exists():
        user.run(
            [pg_bin("initdb"), "-D", str(data_dir), "-U", PG_ROLE, "--auth=trust", "-E", "UTF8", "--no-locale"],
            stdout=subprocess.DEVNULL,
        )
    return user


def start(
    data_dir: Path, port: int, log_path: Path, *, durable: bool = True, extra_settings: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start the server in the background; return once it accepts connections."""
    user = ensure_cluster(data_dir)
    with log_path.open("ab") as log:
        popen = subprocess.Popen(  # noqa: S603
            server_args(data_dir, port, durable=durable, extra_settings=extra_settings),
            user=user.uid,
            group=user.gid,
            extra_groups=[],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    wait_ready(port, popen)
    return popen


def wait_ready(port: int, popen: subprocess.Popen[bytes] | None = None) -> None:
    """Poll pg_isready until the server answers."""
    deadline = time.monotonic() + _READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if popen is not None and popen.poll() is not None:
            raise ClusterError(f"postgres exited with {popen.returncode}")
        probe = subprocess.run(  # noqa: S603
            [pg_bin("pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(port)], check=False
        )
        if probe.returncode == 0:
            return
        time.sleep(0.2)
    raise ClusterError(f"postgres on port {port} was not ready within {_READY_TIMEOUT_SECONDS} s")


def create_databases(port: int, names: Sequence[str] = (FERRETDB_DATABASE, RASA_DATABASE, OUTBOUND_DATABASE)) -> None:
    """Create the platform's databases when they are missing."""
    psql = [pg_bin("psql"), "-h", "127.0.0.1", "-p", str(port), "-U", PG_ROLE, "-d", "postgres", "-tAq"]
    for name in names:
        exists = subprocess.run(  # noqa: S603
            [*psql, "-c", f"SELECT 1 FROM pg_database WHERE datname = '{name}'"],  # noqa: S608 -- our constants
            check=True,
            capture_output=True,
        )
        if not exists.stdout.strip():
            subprocess.run([*psql, "-c", f'CREATE DATABASE "{name}"'], check=True)  # noqa: S603
    subprocess.run([*psql, "-c", pg_indexes.custom_plans_statement(FERRETDB_DATABASE)], check=True)  # noqa: S603


def ferretdb_url(port: int) -> str:
    """FerretDB's --postgresql-url for this cluster."""
    return f"postgres://{PG_ROLE}@127.0.0.1:{port}/{FERRETDB_DATABASE}"


def outbound_url(port: int) -> str:
    """OUTBOUND_DATABASE_URL for this cluster."""
    return f"postgresql://{PG_ROLE}@127.0.0.1:{port}/{OUTBOUND_DATABASE}"


def prepare(data_dir: Path, port: int) -> None:
    """Create the cluster if needed, then start it briefly to create the databases (before the supervisor starts)."""
    log_path = data_dir.parent / "postgres-prepare.log"
    popen = start(data_dir, port, log_path)
    try:
        create_databases(port)
    finally:
        popen.terminate()
        popen.wait(timeout=30)


def serve(data_dir: Path, port: int) -> None:
    """Replace this process with the server, as the unprivileged account (for a process supervisor)."""
    user = ensure_cluster(data_dir)
    args = server_args(data_dir, port)
    if os.geteuid() == 0:
        os.setgroups([])
        os.setgid(user.gid)
        os.setuid(user.uid)
    os.execv(args[0], args)  # noqa: S606


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: prepare or serve a cluster."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("command", choices=["prepare", "serve"])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("port", type=int)
    args = parser.parse_args(argv)
    try:
        (prepare if args.command == "prepare" else serve)(args.data_dir.resolve(), args.port)
    except ClusterError as err:
        sys.exit(f"postgres: {err}")


if __name__ == "__main__":
    main()
