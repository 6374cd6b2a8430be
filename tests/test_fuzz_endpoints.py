"""Hostile input on every endpoint of the gateway gets an answer, never a 5xx.

The gateway is the real app from the factory, served in-process on the stack's database server in
a database of its own (its sign-in counters with it) and talking to the stack's Rasa. Every route
the router knows is a test case; Hypothesis writes the requests (tests/fuzz_support.py).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import pgcluster
from core.app import create_app
from core.settings import Settings
from core.stack import Stack

from .fuzz_support import Endpoint, FuzzClient, endpoints, requests_for
from .handoff_support import gateway_settings

ENDPOINTS = endpoints(create_app(Settings()))
EXAMPLES_PER_ENDPOINT = 12


@pytest.fixture(scope="module")
async def fuzz(stack: Stack) -> AsyncIterator[FuzzClient]:
    # The platform's outbound database, as the run command gives the gateway (without one outbound routes answer 503).
    previous = os.environ.get("OUTBOUND_DATABASE_URL")
    os.environ["OUTBOUND_DATABASE_URL"] = pgcluster.outbound_url(stack.ports["postgres"])
    try:
        server = TestServer(create_app(gateway_settings(stack, "fuzz", bot_timeout_seconds=4.0)))
    finally:
        if previous is None:
            os.environ.pop("OUTBOUND_DATABASE_URL", None)
        else:
            os.environ["OUTBOUND_DATABASE_URL"] = previous
    await server.start_server()
    client = FuzzClient(str(server.make_url("")).rstrip("/"))
    await client.sign_in()
    yield client
    await client.close()
    await server.close()


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: f"{e.method} {e.template}")
@settings(
    max_examples=EXAMPLES_PER_ENDPOINT,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_hostile_requests_never_get_a_server_error(
    fuzz: FuzzClient, endpoint: Endpoint, data: st.DataObject
) -> None:
    request = data.draw(requests_for(endpoint))
    status = await fuzz.send(request)
    assert status < 500 or fuzz.deliberate(status, request), f"{status} for {request}"
