"""The action server's way of getting the backend survives Sanic's worker processes and opens one client per loop."""

from __future__ import annotations

import pickle

from actions.balance import ActionCheckBalance
from actions.dependencies import MongoBackends
from core.banking import MongoBankingBackend
from core.settings import Settings


def test_actions_can_be_pickled_into_a_sanic_worker() -> None:
    # Sanic starts its worker by pickling the app with the registered action objects.
    copy = pickle.loads(pickle.dumps(ActionCheckBalance()))  # noqa: S301 -- bytes we just made

    assert copy.name() == "action_check_balance"


async def test_one_lazily_opened_client_per_loop_that_can_be_closed(ferretdb_uri: str) -> None:
    backends = MongoBackends(lambda: Settings(mongodb_uri=ferretdb_uri, mongodb_db="deps_probe"))

    first, second = backends.backend(), backends.backend()

    assert isinstance(first, MongoBankingBackend) and isinstance(second, MongoBankingBackend)
    assert await first.get_customer("demo-ivan") is None  # an empty database, but a real round trip
    assert len(backends._clients) == 1
    await backends.close()
    assert len(backends._clients) == 0
