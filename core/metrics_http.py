"""GET /metrics on the gateway, the listener that counts handoffs and queue waits, and per-request metrics.

In production /metrics needs `Authorization: Bearer <METRICS_TOKEN>`, or without a token answers only
loopback and private addresses (a scraper inside the network); local runs answer anyone.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

from aiohttp import web
from aiohttp.typedefs import Handler
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from core import metrics
from core.keys import BUS_KEY, DB_KEY, SETTINGS_KEY
from core.log import REQUEST_ID, bind_conversation
from core.settings import PRODUCTION
from handoff import operators, queue
from handoff.events import Event

logger = logging.getLogger(__name__)

MULTIPROCESS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"


class _Snapshot(Collector):
    """Figures read from the database at scrape time: the same in every gateway process."""

    def __init__(self, figures: list[queue.QueueFigure], staff: list[operators.Operator]) -> None:
        self._figures = figures
        self._staff = staff

    def collect(self) -> Iterator[GaugeMetricFamily]:
        length = GaugeMetricFamily(
            "cc_queue_length", "Conversations waiting for an operator.", labels=["language", "team"]
        )
        oldest = GaugeMetricFamily(
            "cc_queue_oldest_wait_seconds",
            "How long the longest-waiting conversation has waited.",
            labels=["language", "team"],
        )
        for figure in self._figures:
            labels = [figure.language or "", figure.team or ""]
            length.add_metric(labels, figure.length)
            oldest.add_metric(labels, figure.oldest_wait_seconds)
        online = GaugeMetricFamily("cc_operators", "Operators by status.", labels=["status"])
        load = GaugeMetricFamily(
            "cc_operator_conversations", "Conversations operators hold, by operator status.", labels=["status"]
        )
        for status in operators.OperatorStatus:
            holding = [o for o in self._staff if o.status is status]
            online.add_metric([status.value], len(holding))
            load.add_metric([status.value], sum(o.active for o in holding))
        yield from (length, oldest, online, load)


def metrics_allowed(request: web.Request) -> bool:
    """Whether this caller may read the metrics: the token when one is set, else local runs or internal addresses."""
    settings = request.app[SETTINGS_KEY]
    token = settings.metrics_token
    if token:
        presented = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        return hmac.compare_digest(presented.encode(), token.encode())
    if settings.env != PRODUCTION:
        return True
    if "X-Forwarded-For" in request.headers or "Forwarded" in request.headers:
        return False  # came through the public reverse proxy, which itself connects from an internal address
    try:
        address = ipaddress.ip_address(request.remote or "")
    except ValueError:
        return False
    return address.is_loopback or address.is_private


async def metrics_endpoint(request: web.Request) -> web.Response:
    """Every counter and histogram of the platform (all gateway processes), and the database's live figures."""
    if not metrics_allowed(request):
        return web.json_response(
            {"error": "Metrics need 'Authorization: Bearer <METRICS_TOKEN>' or a request from an internal address."},
            status=403,
        )
    db = request.app[DB_KEY]
    snapshot = CollectorRegistry()
    snapshot.register(_Snapshot(await queue.live_figures(db, datetime.now(UTC)), await operators.list_operators(db)))
    if os.environ.get(MULTIPROCESS_DIR_ENV):
        counted = CollectorRegistry()
        multiprocess.MultiProcessCollector(counted)  # type: ignore[no-untyped-call]
    else:
        counted = REGISTRY
    body = generate_latest(counted) + generate_latest(snapshot)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


class MetricsListener:
    """Counts handoffs and queue waits once, in the process where the transition happened (a local listener)."""

    async def conversation_bot_handoff(self, event: Event) -> None:
        """A conversation went from the bot to the queue."""
        metrics.HANDOFFS.labels(str(event.data.get("reason") or "other")).inc()

    async def conversation_assigned(self, event: Event) -> None:
        """An operator got a queued conversation: how long it waited."""
        waited = event.data.get("waited_seconds")
        if isinstance(waited, int | float):
            metrics.QUEUE_WAIT_SECONDS.observe(float(waited))


async def _listen(app: web.Application) -> AsyncIterator[None]:
    app[BUS_KEY].subscribe(MetricsListener(), local_only=True)
    yield


@web.middleware
async def request_context(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A request id (the caller's X-Request-Id or a new one) and the conversation in each log line; route metrics."""
    request_id = request.headers.get("X-Request-Id", "")[:64] or os.urandom(8).hex()
    token = REQUEST_ID.set(request_id)
    conversation = request.match_info.get("conversation_id")
    unbind = bind_conversation(conversation) if conversation else None
    route = request.match_info.route.name or "unnamed"
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        if not response.prepared:
            response.headers["X-Request-Id"] = request_id
        return response
    except web.HTTPException as err:
        status = err.status
        err.headers["X-Request-Id"] = request_id
        raise
    finally:
        if status >= 500:
            metrics.ERRORS.labels("http_500" if status == 500 else f"http_{status}").inc()
        metrics.HTTP_REQUESTS.labels(route, str(status)).inc()
        if status != 101:
            metrics.HTTP_SECONDS.labels(route).observe(time.perf_counter() - started)
        if unbind is not None:
            unbind()
        REQUEST_ID.reset(token)


def setup_metrics(app: web.Application) -> None:
    """The /metrics route, the handoff listener and the request middleware (outermost, so it sees every status)."""
    app.router.add_get("/metrics", metrics_endpoint, name="metrics")
    app.cleanup_ctx.append(_listen)
    app.middlewares.insert(0, request_context)
