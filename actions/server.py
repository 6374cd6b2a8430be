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
import hmac
import logging
import os
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

from core.settings import Settings

logger = logging.getLogger(__name__)

# The readiness probe (core/stack.py, monitoring) carries no secret and reveals nothing.
_OPEN_PATHS = frozenset({"/health"})


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


def create_guarded_app(executor: ActionExecutor, token: str, endpoints: str) -> Sanic[Any, Any]:
    """rasa_sdk's app for one worker, guarded; module level so Sanic can pickle it into workers."""
    app = create_app_for_serve(executor, cors_origins=None, endpoints=endpoints)
    app.add_route(metrics, "/metrics", methods=["GET"])  # behind the same ?token= as the actions
    return guard(app, token)


def serve(args: argparse.Namespace, settings: Settings) -> None:
    """Register the actions and serve them on SANIC_HOST (127.0.0.1 unless set) and the given port."""
    utils.configure_colored_logging(args.loglevel)  # type: ignore[no-untyped-call]
    utils.configure_file_logging(
        logging.getLogger(APPLICATION_ROOT_LOGGER_NAME), args.log_file, args.loglevel, args.logging_config_file
    )
    utils.update_sanic_log_level()
    executor = ActionExecutor()
    executor.register_package(args.actions_module or args.actions)
    loader = AppLoader(factory=partial(create_guarded_app, executor, settings.action_server_token, args.endpoints))
    app = loader.load()
    # Loopback unless deployed otherwise: Rasa is the only client.
    app.prepare(host=os.environ.get("SANIC_HOST", "127.0.0.1"), port=args.port, workers=utils.number_of_sanic_workers())
    Sanic.serve(primary=app, app_loader=loader)


def main() -> None:
    """Parse rasa_sdk's arguments and serve."""
    parser = create_argument_parser()  # type: ignore[no-untyped-call]
    serve(parser.parse_args(), Settings.from_env())


if __name__ == "__main__":
    main()
