"""Fixtures for the banking backend and action tests: a private FerretDB and a freshly seeded demo bank per test."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from core.banking import MongoBankingBackend
from core.db import Database
from core.demo_data import seed_demo_bank

_FALLBACK_FERRETDB_BIN = "/root/.cache/cc/gobin/ferretdb"
_FERRETDB_START_TIMEOUT_SECONDS = 30
# The moment the tests' bank believes it is, so audit records have an exact time.
NOW = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def ferretdb_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A FerretDB server of our own (SQLite in a temp dir, free port), stopped at the end of the session."""
    binary = os.environ.get("FERRETDB_BIN") or _FALLBACK_FERRETDB_BIN
    if not Path(binary).is_file():
        pytest.fail(f"FerretDB binary not found at {binary}; run ./scripts/setup or set FERRETDB_BIN")
    data_dir = tmp_path_factory.mktemp("bank-ferretdb")
    port = _free_port()
    log_path = data_dir / "ferretdb.log"
    args = [
        binary,
        "--handler=sqlite",
        f"--sqlite-url=file:{data_dir}/",
        f"--state-dir={data_dir}",
        f"--listen-addr=127.0.0.1:{port}",
        "--debug-addr=-",
        "--telemetry=disable",
        "--log-level=warn",
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + _FERRETDB_START_TIMEOUT_SECONDS
        while True:
            if process.poll() is not None:
                pytest.fail(f"FerretDB exited with {process.returncode}; see {log_path}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"FerretDB did not accept connections within {_FERRETDB_START_TIMEOUT_SECONDS} s")
                time.sleep(0.1)
        yield f"mongodb://127.0.0.1:{port}/"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@pytest.fixture(scope="session")
async def mongo_client(ferretdb_uri: str) -> AsyncIterator[AsyncMongoClient[dict[str, Any]]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(ferretdb_uri, tz_aware=True)
    yield client
    await client.close()


@pytest.fixture
async def bank_db(mongo_client: AsyncMongoClient[dict[str, Any]]) -> AsyncIterator[Database]:
    """A fresh database with the demo bank seeded, dropped after the test."""
    name = f"bank_{uuid.uuid4().hex[:10]}"
    database = mongo_client[name]
    await seed_demo_bank(database)
    yield database
    await mongo_client.drop_database(name)


@pytest.fixture
def backend(bank_db: Database) -> MongoBankingBackend:
    """The demo backend on that database, with the clock stopped at NOW."""
    return MongoBankingBackend(bank_db, clock=lambda: NOW)
