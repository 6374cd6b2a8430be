"""How actions get the banking backend and the gateway's signing secret: explicit, replaceable providers.

rasa_sdk creates every Action class itself, with no arguments, once per process,
and there is no startup hook in which to open a database client and hand it to
the actions (the gateway does this in a cleanup_ctx; the action server has no
equivalent). So each action takes a `BackendSource` in its constructor and
defaults to the process-wide `DEFAULT_BACKENDS`, the one place that knows about
settings and MongoDB. Tests construct actions with `FixedBackend(backend)`
instead: no monkeypatching, no module state to reset.

`MongoBackends` opens its AsyncMongoClient lazily, on first use, because a PyMongo
async client belongs to the event loop it first ran on: the action server's loop
does not exist yet when this module is imported, and a test session may run
another loop. It keeps one client per running loop and can close them.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable
from typing import Any, Protocol

from pymongo import AsyncMongoClient

from core import db as core_db
from core.banking import BankingBackend, create_banking_backend
from core.db import Document
from core.settings import Settings

logger = logging.getLogger(__name__)


class BackendSource(Protocol):
    """Something that hands out the banking backend for the current event loop."""

    def backend(self) -> BankingBackend:
        """The backend to use now; called inside a running event loop."""
        ...


class FixedBackend:
    """Always the same backend: what tests and embedding code pass to actions."""

    def __init__(self, backend: BankingBackend) -> None:
        self._backend = backend

    def backend(self) -> BankingBackend:
        """The backend given at construction."""
        return self._backend


class MongoBackends:
    """The configured backend on one AsyncMongoClient per running event loop, created on first use."""

    def __init__(self, settings_factory: Callable[[], Settings] = Settings.from_env) -> None:
        self._settings_factory = settings_factory
        self._settings: Settings | None = None
        # Weak keys: a finished loop (a test's) takes its entry with it.
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncMongoClient[Document]] = (
            weakref.WeakKeyDictionary()
        )

    def __getstate__(self) -> dict[str, Any]:
        """Pickle only the settings factory: Sanic pickles the registered actions into its worker process.

        Clients belong to one process and one loop; the worker's copy opens its own.
        """
        return {"settings_factory": self._settings_factory}

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Rebuild with no clients (see __getstate__)."""
        self._settings_factory = state["settings_factory"]
        self._settings = None
        self._clients = weakref.WeakKeyDictionary()

    def _current_settings(self) -> Settings:
        if self._settings is None:
            self._settings = self._settings_factory()
        return self._settings

    def backend(self) -> BankingBackend:
        """The backend on this loop's client; the client connects on its first query."""
        settings = self._current_settings()
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            logger.info("Opening the MongoDB client for the banking backend (%s)", settings.banking_backend)
            client = core_db.connect(settings)
            self._clients[loop] = client
        return create_banking_backend(settings, core_db.database(client, settings))

    async def close(self) -> None:
        """Close this loop's client; the next `backend()` call opens a new one."""
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.close()


# The action server's only dependency global: rasa_sdk gives actions no other way to receive it (see above).
DEFAULT_BACKENDS = MongoBackends()


class IdentityKeys(Protocol):
    """Something that knows the secret the gateway signs identity vouchers with."""

    def identity_secret(self) -> str:
        """The secret shared with the gateway (IDENTITY_SIGNING_SECRET)."""
        ...


class FixedKeys:
    """Always the same secret: for tests that sign with a secret of their own."""

    def __init__(self, secret: str) -> None:
        self._secret = secret

    def identity_secret(self) -> str:
        """The secret given at construction."""
        return self._secret


class SettingsKeys:
    """The configured secret, read from the environment on first use (as `MongoBackends` reads its settings)."""

    def __init__(self, settings_factory: Callable[[], Settings] = Settings.from_env) -> None:
        self._settings_factory = settings_factory
        self._secret: str | None = None

    def identity_secret(self) -> str:
        """IDENTITY_SIGNING_SECRET (the documented local default on a local run)."""
        if self._secret is None:
            self._secret = self._settings_factory().identity_signing_secret
        return self._secret


# Read by actions.conversation.vouched_identity unless a caller passes its own keys.
DEFAULT_KEYS = SettingsKeys()
