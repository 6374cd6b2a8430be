"""Shared fixtures: the real platform (FerretDB, action server, Rasa, gateway) started once per test session."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
from pymongo import AsyncMongoClient

from core.db import Database, Document
from core.identity import mint_customer_token
from core.stack import Stack, running_stack


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The whole platform, as `scripts/run` starts it, on free ports."""
    with running_stack(tmp_path_factory.mktemp("stack")) as running:
        yield running


@pytest.fixture(scope="session")
def gateway_url(stack: Stack) -> str:
    """Base URL of the running gateway."""
    return stack.gateway_url


@pytest.fixture(scope="session")
def mint_token(stack: Stack):  # type: ignore[no-untyped-def]
    """Mint customer tokens as the bank's website does."""

    def mint(customer_id: str, ttl_seconds: int = 3600) -> str:
        return mint_customer_token(customer_id, stack.customer_token_secret, ttl_seconds)

    return mint


@pytest.fixture
async def bank(stack: Stack) -> AsyncIterator[Database]:
    """The running platform's database, where the demo bank and the conversations live."""
    client: AsyncMongoClient[Document] = AsyncMongoClient(stack.mongodb_uri, tz_aware=True)
    yield client[stack.mongodb_db]
    await client.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP client for talking to the gateway as a channel would."""
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """Test data shipped in the repository."""
    return Path(__file__).parent / "data"
