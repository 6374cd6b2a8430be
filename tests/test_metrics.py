"""An operations team scrapes the platform and searches its logs.

After a customer's conversation (a question for the bot, then a request for a person) the gateway's
/metrics shows the counters moved: messages by channel, bot turns timed, the handoff by its reason, the
queue; the action server's /metrics counts the knowledge base's decisions for the bot. With LOG_FORMAT=json
every log line is one JSON object naming its request and conversation, card numbers masked.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import re
import subprocess
import sys
import uuid
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from core.keys import SETTINGS_KEY
from core.log import REQUEST_ID, JsonFormatter, MaskingFilter, bind_conversation
from core.metrics_http import metrics_allowed
from core.settings import LOCAL_ACTION_SERVER_TOKEN, Settings
from core.stack import Stack
from tests.rest_support import rest_message

ROOT = Path(__file__).resolve().parents[1]
_SAMPLE = re.compile(r"^(?P<name>[a-z_]+)(?:\{(?P<labels>[^}]*)\})? (?P<value>[-+0-9.eE]+|NaN)$")


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Prometheus text format as {(name, labels): value}."""
    found = {}
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match:
            labels = frozenset(re.findall(r'(\w+)="([^"]*)"', match["labels"] or ""))
            found[(match["name"], labels)] = float(match["value"])
    return found


def value(scraped: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    """One sample, 0 when absent (a counter that never moved has no labelled sample yet)."""
    return scraped.get((name, frozenset(labels.items())), 0.0)


async def scrape(http: aiohttp.ClientSession, url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    async with http.get(url) as resp:
        assert resp.status == 200, await resp.text()
        assert resp.headers["Content-Type"].startswith("text/plain")
        return samples(await resp.text())


async def test_counters_move_after_a_conversation(stack: Stack, http: aiohttp.ClientSession) -> None:
    gateway = f"{stack.gateway_url}/metrics"
    actions = f"http://127.0.0.1:{stack.ports['actions']}/metrics?token={LOCAL_ACTION_SERVER_TOKEN}"
    before, bot_before = await scrape(http, gateway), await scrape(http, actions)

    sender = f"metrics-{uuid.uuid4().hex[:8]}"
    await rest_message(http, stack.gateway_url, sender, "как активировать карту?")
    turn = await rest_message(http, stack.gateway_url, sender, "соедините с оператором, пожалуйста")
    assert turn["state"] in {"queued", "assigned"}, turn
    async with http.get(f"{stack.gateway_url}/api/kb/search", params={"q": "потерял карту"}) as resp:
        assert resp.status == 200

    for _ in range(20):  # the handoff is counted by a bus listener, a moment after the answer
        after, bot_after = await scrape(http, gateway), await scrape(http, actions)
        if value(after, "cc_handoffs_total", reason="customer_request") > value(
            before, "cc_handoffs_total", reason="customer_request"
        ):
            break
        await asyncio.sleep(0.25)
    assert value(after, "cc_messages_total", channel="rest") >= value(before, "cc_messages_total", channel="rest") + 2
    assert value(after, "cc_bot_turn_seconds_count") >= value(before, "cc_bot_turn_seconds_count") + 2
    assert value(after, "cc_handoffs_total", reason="customer_request") >= (
        value(before, "cc_handoffs_total", reason="customer_request") + 1
    )
    searched = sum(
        value(after, "cc_kb_decisions_total", decision=d, language="ru") for d in ("answer", "clarify", "miss")
    )
    searched_before = sum(
        value(before, "cc_kb_decisions_total", decision=d, language="ru") for d in ("answer", "clarify", "miss")
    )
    assert searched >= searched_before + 1
    assert value(after, "cc_http_requests_total", route="rest_messages", status="200") >= 2
    # Live figures come from the database: every operator status is reported, queued conversations by group.
    assert {"offline", "online", "away"} <= {dict(labels)["status"] for name, labels in after if name == "cc_operators"}
    assert any(name == "cc_queue_length" for name, _ in after) or turn["state"] == "assigned"
    # The bot's knowledge-base decision was taken in the action server, which counts it.
    answered = sum(value(bot_after, "cc_kb_decisions_total", decision=d, language="ru") for d in ("answer", "clarify"))
    answered_before = sum(
        value(bot_before, "cc_kb_decisions_total", decision=d, language="ru") for d in ("answer", "clarify")
    )
    assert answered >= answered_before + 1


async def test_the_action_servers_metrics_need_its_token(stack: Stack, http: aiohttp.ClientSession) -> None:
    async with http.get(f"http://127.0.0.1:{stack.ports['actions']}/metrics") as resp:
        assert resp.status == 401


async def test_every_answer_carries_a_request_id(stack: Stack, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{stack.gateway_url}/healthz", headers={"X-Request-Id": "trace-123"}) as resp:
        assert resp.headers["X-Request-Id"] == "trace-123"
    async with http.get(f"{stack.gateway_url}/api/console/me") as resp:
        assert resp.status == 401
        assert re.fullmatch(r"[0-9a-f]{16}", resp.headers["X-Request-Id"])


@pytest.fixture
def json_log() -> io.StringIO:
    """A logger writing JSON lines as LOG_FORMAT=json makes the root logger do."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(MaskingFilter())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("tests.json_log")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return stream


def test_json_log_lines_name_the_request_and_conversation_and_mask_cards(json_log: io.StringIO) -> None:
    token = REQUEST_ID.set("req-42")
    undo = bind_conversation("conv-7")
    try:
        logging.getLogger("tests.json_log").warning("customer wrote %s", "карта 4276 3800 1234 5678, cvv 123")
        try:
            raise ValueError("card 4276380012345678 refused")
        except ValueError:
            logging.getLogger("tests.json_log").exception("failed")
    finally:
        undo()
        REQUEST_ID.reset(token)
    first, second = (json.loads(line) for line in json_log.getvalue().splitlines())
    assert first["request_id"] == "req-42" and first["conversation_id"] == "conv-7"
    assert first["level"] == "WARNING" and first["logger"] == "tests.json_log"
    assert "4276" not in first["message"] and "5678" in first["message"] and "123" not in first["message"]
    assert "ValueError" in second["exception"] and "4276380012345678" not in second["exception"]


def test_several_gateway_processes_are_counted_together(tmp_path: Path) -> None:
    """With PROMETHEUS_MULTIPROC_DIR (scripts/run sets it for several gateways) any process's scrape sums them all."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    count = "from core import metrics; metrics.MESSAGES.labels('telegram').inc(); metrics.BOT_TURN_SECONDS.observe(0.2)"
    for _ in range(2):  # two gateway processes, one after the other (each leaves its samples in the folder)
        subprocess.run([sys.executable, "-c", count], env=env, check=True, timeout=60)
    scrape = (
        "from prometheus_client import CollectorRegistry, generate_latest, multiprocess; "
        "r = CollectorRegistry(); multiprocess.MultiProcessCollector(r); print(generate_latest(r).decode())"
    )
    text = subprocess.run([sys.executable, "-c", scrape], env=env, check=True, capture_output=True, text=True).stdout
    scraped = samples(text)
    assert value(scraped, "cc_messages_total", channel="telegram") == 2
    assert value(scraped, "cc_bot_turn_seconds_count") == 2


@pytest.mark.parametrize(
    ("env", "token", "remote", "authorization", "allowed"),
    [
        ("local", "", "93.184.216.34", None, True),
        ("production", "", "93.184.216.34", None, False),
        ("production", "", "10.0.0.5", None, True),
        ("production", "", "127.0.0.1", None, True),
        ("production", "", "127.0.0.1", "forwarded", False),
        ("production", "s3cret-token", "10.0.0.5", None, False),
        ("production", "s3cret-token", "93.184.216.34", "Bearer s3cret-token", True),
        ("local", "s3cret-token", "127.0.0.1", "Bearer wrong", False),
    ],
)
def test_metrics_are_for_the_monitoring_system_only_in_production(
    env: str, token: str, remote: str, authorization: str | None, allowed: bool
) -> None:
    app = web.Application()
    app[SETTINGS_KEY] = replace(Settings(), env=env, metrics_token=token)
    headers = {"X-Forwarded-For": "93.184.216.34"} if authorization == "forwarded" else {}
    if authorization and authorization != "forwarded":
        headers["Authorization"] = authorization
    request = make_mocked_request("GET", "/metrics", headers=headers, app=app, transport=_Peer(remote))
    assert metrics_allowed(request) is allowed


class _Peer:
    """A transport that reports the scraper's address, as aiohttp reads request.remote from it."""

    def __init__(self, address: str) -> None:
        self.address = address

    def get_extra_info(self, name: str, default: object = None) -> object:
        return (self.address, 40000) if name == "peername" else default
