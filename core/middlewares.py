"""The gateway's one error middleware."""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.typedefs import Handler

logger = logging.getLogger(__name__)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Log unexpected errors and answer a generic 500; never echo the request back."""
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except Exception:
        logger.exception("Unhandled error on %s %s", request.method, request.path)
        return web.json_response({"error": "Internal error; the team has been notified."}, status=500)


def setup_middlewares(app: web.Application) -> None:
    """Install the middlewares in order."""
    app.middlewares.append(error_middleware)
