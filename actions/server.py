"""The action server: rasa_sdk's Sanic app behind the shared token Rasa sends as `?token=`.

rasa_sdk answers anyone who reaches its port; a caller with a hand-made tracker
could run any action. Run this module instead of `python -m rasa_sdk`; it takes
the same arguments:

    python -m actions.server --actions actions --port 5055

Every request except `GET /health` (the readiness probe) must carry
`?token=<ACTION_SERVER_TOKEN>` (Rasa adds it from `action_endpoint.token` in
bot/endpoints.yml). Without it: 401, and no action runs. Errors get a generic 500
body: rasa_sdk's own handler echoes the request body (the whole tracker) back.
"""

from __future__ import annotations

import argparse
import ctypes
import hmac
import logging
import os
import signal
import sys
from functools import partial
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess
from rasa_sdk import utils
from rasa_sdk.constants import APPLICATION_ROOT_LOGGER_NAME
from rasa_sdk.endpoint import create_app_for_serve, create_argument_parser
from rasa_sdk.executor import ActionExecutor
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import BaseHTTPResponse, HTTPResponse
from sanic.worker.loader import AppLoader

from core.metrics import ACTIONS
from core.settings import Settings

logger = logging.getLogger(__name__)

# The readiness probe (core/stack.py, monitoring) carries no secret and reveals nothing.
_OPEN_PATHS = frozenset({"/health"})
_PR_SET_PDEATHSIG = 1


def token_matches(presented: str | None, expected: str) -> bool:
    """Constant-time comparison of the presented token with the configured one."""
    return presented is not None and hmac.compare_digest(presented.encode("utf-8"), expected.encode("utf-8"))


def guard(app: Sanic[Any, Any], token: str) -> Sanic[Any, Any]:
    """Refuse every request without the token, and answer errors without echoing the request."""

    async def require_token(request: Request) -> HTTPResponse | None:
        if request.path in _OPEN_PATHS or token_matches(request.args.get("token"), token):
            return None
        logger.warning("Refused %s %s: no valid action server token", request.method, request.path)
        return response.json({"error": "A valid ?token= is required (ACTION_SERVER_TOKEN)."}, status=401)

    async def generic_error(request: Request, resp: BaseHTTPResponse) -> HTTPResponse | None:
        # rasa_sdk's exception handler (which Sanic will not let us replace) logged the error already.
        if resp.status >= 500:
            return response.json({"error": "The action server failed; see its log."}, status=resp.status)
        return None

    app.register_middleware(require_token, "request")
    app.register_middleware(generic_error, "response")
    return app


def die_with_parent() -> None:
    """Ask Linux to kill this process when its parent dies (PR_SET_PDEATHSIG), so no worker outlives its server.

    A Sanic worker orphaned by a SIGKILL of the main process kept the port, and every restart by the
    supervisor failed with "Address already in use" until it gave up.
    """
    if sys.platform != "linux":
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        logger.warning("Could not tie the action server worker to its parent: errno %s", ctypes.get_errno())
    if os.getppid() == 1:
        os._exit(1)  # the parent died before the line above: nothing would stop this worker any more


async def metrics(request: Request) -> HTTPResponse:
    """Prometheus metrics of this worker (the knowledge base's decisions for the bot, process figures).

    With PROMETHEUS_MULTIPROC_DIR set (scripts/run with several processes) every worker's samples are summed.
    """
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry = REGISTRY
    return response.raw(generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})


def create_guarded_app(
    executor: ActionExecutor, token: str, endpoints: str, *, worker_process: bool = False
) -> Sanic[Any, Any]:
    """rasa_sdk's app for one worker, guarded; module level so Sanic can pickle it into workers."""
    app = create_app_for_serve(executor, cors_origins=None, endpoints=endpoints)
    app.add_route(metrics, "/metrics", methods=["GET"])  # behind the same ?token= as the actions
    if worker_process:

        async def tie_worker_to_main(app: Sanic[Any, Any]) -> None:
            die_with_parent()

        app.register_listener(tie_worker_to_main, "before_server_start")
    return guard(app, token)


class CountingExecutor(ActionExecutor):
    """rasa_sdk's executor, counting the actions it runs (/metrics: which calls a turn costs)."""

    async def run(self, action_call: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        """Count the action, then run it."""
        ACTIONS.labels(str(action_call.get("next_action"))).inc()
        return await super().run(action_call, *args, **kwargs)


def serve(args: argparse.Namespace, settings: Settings) -> None:
    """Register the actions and serve them on SANIC_HOST (127.0.0.1 unless set) and the given port."""
    utils.configure_colored_logging(args.loglevel)  # type: ignore[no-untyped-call]
    utils.configure_file_logging(
        logging.getLogger(APPLICATION_ROOT_LOGGER_NAME), args.log_file, args.loglevel, args.logging_config_file
    )
    utils.update_sanic_log_level()
    executor = CountingExecutor()
    executor.register_package(args.actions_module or args.actions)
    # Loopback unless deployed otherwise: Rasa is the only client.
    host, workers = os.environ.get("SANIC_HOST", "127.0.0.1"), utils.number_of_sanic_workers()
    factory = partial(create_guarded_app, executor, settings.action_server_token, args.endpoints)
    if workers == 1:
        # One process: a kill of the server is a kill of everything it runs, and a restart finds its port free.
        app = factory()
        app.prepare(host=host, port=args.port, single_process=True, motd=False)
        Sanic.serve_single(primary=app)
        return
    # Several workers: each dies with the main process (die_with_parent), as supervisord's killasgroup stops them.
    loader = AppLoader(factory=partial(factory, worker_process=True))
    app = loader.load()
    app.prepare(host=host, port=args.port, workers=workers)
    Sanic.serve(primary=app, app_loader=loader)


def main() -> None:
    """Parse rasa_sdk's arguments and serve."""
    parser = create_argument_parser()  # type: ignore[no-untyped-call]
    serve(parser.parse_args(), Settings.from_env())


if __name__ == "__main__":
    main()
