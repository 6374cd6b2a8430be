"""The gateway's error middleware and the security headers every response carries."""

from __future__ import annotations

import json
import logging
from http import HTTPStatus
from typing import Any

import pymongo
from aiohttp import hdrs, web, web_protocol
from aiohttp.typedefs import Handler
from pymongo.errors import ConnectionFailure, PyMongoError

from core.json_body import BadInput, bad_request, check_text
from core.keys import SETTINGS_KEY

logger = logging.getLogger(__name__)

CSP = "Content-Security-Policy"
# Pages that bring no policy of their own (static copies of staff pages among them): no inline
# script, nothing loaded from elsewhere, never inside a frame.
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# JSON, CSV, scripts, errors: nothing in them may run or load anything, whoever opens them.
DATA_CSP = "default-src 'none'; frame-ancestors 'none'"
# The customer's chat may sit in a frame on the bank's own site (CHAT_FRAME_ANCESTORS); staff pages never.
_EMBEDDABLE_ROUTES = frozenset({"webchat_page"})
# No identifier of ours comes near it; it is also the longest file name the file system takes (NAME_MAX).
_MAX_PATH_PART_BYTES = 255
# aiohttp announces "aiohttp/<version>" otherwise: a free hint at which published bugs apply.
SERVER_NAME = "contact-center"
# A staff action waits this long for the database at most (a transition's own writes are bounded by 10 s).
STAFF_ACTION_SECONDS = 12.0
_STAFF_API_PREFIXES = ("/api/console/", "/api/supervisor/")
_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
DATABASE_UNAVAILABLE = "The database did not answer in time; nothing may have changed. Try again in a moment."
# Responses that may hold customer data wherever they are served (exports included).
_DATA_TYPES = frozenset({"application/json", "text/csv"})


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Log unexpected errors and answer a generic 500; never echo the request back."""
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except PyMongoError as err:
        if not _database_unreachable(err):
            logger.exception("Unhandled error on %s %s", request.method, request.path)
            return web.json_response({"error": "Internal error; the team has been notified."}, status=500)
        # The real reason, at once: the caller may try again; a transition that failed gave its claim back.
        logger.error("The database did not answer %s %s in time: %s", request.method, request.path, err)
        return web.json_response(
            {"error": DATABASE_UNAVAILABLE, "code": "database_unavailable", "retryable": True},
            status=503,
            headers={"Retry-After": "2"},
        )
    except Exception:
        logger.exception("Unhandled error on %s %s", request.method, request.path)
        return web.json_response({"error": "Internal error; the team has been notified."}, status=500)


def _database_unreachable(err: PyMongoError) -> bool:
    return bool(err.timeout) or isinstance(err, ConnectionFailure)


@web.middleware
async def staff_action_deadline(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Fail a staff action (closing, transferring, replying...) when the database does not answer in time.

    After STAFF_ACTION_SECONDS instead of after the whole outage; reads and live sockets are not bounded here.
    """
    if request.method in _READ_METHODS or not request.path.startswith(_STAFF_API_PREFIXES):
        return await handler(request)
    with pymongo.timeout(STAFF_ACTION_SECONDS):
        return await handler(request)


@web.middleware
async def url_guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse paths and query strings whose decoded text cannot be stored or looked up (400, not a 500 later)."""
    try:
        for text in (request.path, *request.match_info.values(), *request.query.keys(), *request.query.values()):
            check_text(text, "The address")
    except BadInput as err:
        raise bad_request(str(err)) from err
    if any(len(part.encode("utf-8", "surrogatepass")) > _MAX_PATH_PART_BYTES for part in request.path.split("/")):
        # Static routes hand the part to the file system, which fails with ENAMETOOLONG (a 500 in aiohttp).
        raise bad_request(f"A part of the address is longer than {_MAX_PATH_PART_BYTES} bytes.")
    return await handler(request)


def _frame_ancestors(request: web.Request) -> str:
    route = request.match_info.route.name if request.match_info.route else None
    if route in _EMBEDDABLE_ROUTES:
        return request.app[SETTINGS_KEY].chat_frame_ancestors
    return "'none'"


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """CSP with frame-ancestors, nosniff and no server version on every response (static files and errors too).

    A signal rather than a middleware: it also sees static files, 404s and websocket handshakes.
    """
    headers = response.headers
    headers["X-Content-Type-Options"] = "nosniff"
    if request.path.startswith("/api/") or (response.content_type or "") in _DATA_TYPES:
        # Answers of the API carry customers' names, balances and messages: no browser or proxy keeps a copy.
        headers.setdefault(hdrs.CACHE_CONTROL, "no-store")
    headers[hdrs.SERVER] = SERVER_NAME
    headers.setdefault("Referrer-Policy", "no-referrer")
    policy = headers.get(CSP)
    if policy is None:
        is_html = (response.content_type or "").startswith("text/html")
        policy = PAGE_CSP if is_html else DATA_CSP
    frame_ancestors = _frame_ancestors(request)
    if "frame-ancestors" not in policy:
        policy = f"{policy}; frame-ancestors {frame_ancestors}"
    headers[CSP] = policy
    if frame_ancestors == "'none'":
        headers["X-Frame-Options"] = "DENY"  # for browsers that predate frame-ancestors


# Headers of an answer the application never saw (no route, so no on_response_prepare signal).
_LOW_LEVEL_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    hdrs.SERVER: SERVER_NAME,
    "Referrer-Policy": "no-referrer",
    CSP: DATA_CSP,
    "X-Frame-Options": "DENY",
    hdrs.CACHE_CONTROL: "no-store",
}
_aiohttp_handle_error = web_protocol.RequestHandler.handle_error


def _low_level_error(
    handler: web_protocol.RequestHandler,
    request: Any,
    status: int = 500,
    exc: BaseException | None = None,
    message: str | None = None,
) -> web.StreamResponse:
    """Aiohttp's own answer to a request it cannot parse (bad request line, bad header, body over a limit).

    aiohttp writes "400, message: Bad status line ..." as text/plain, echoes the request, names
    itself in the Server header and bypasses the app's signal that adds the security headers.
    The answer here is the same short JSON error every endpoint gives, with the same headers.
    """
    response = _aiohttp_handle_error(handler, request, status, exc, message)
    if isinstance(response, web.Response):
        reason = (
            "Internal error; the team has been notified."
            if status >= 500
            else "The request cannot be read (request line, headers or body are malformed)."
        )
        response.content_type = "application/json"
        response.text = json.dumps({"error": reason, "status": HTTPStatus(status).phrase})
        response.headers.update(_LOW_LEVEL_HEADERS)
    return response


def install_low_level_error_answers() -> None:
    """Route aiohttp's protocol-level errors through `_low_level_error` (once per process)."""
    web_protocol.RequestHandler.handle_error = _low_level_error  # type: ignore[method-assign,assignment]


def setup_middlewares(app: web.Application) -> None:
    """Install the middlewares in order, and the headers every response carries."""
    install_low_level_error_answers()
    app.middlewares.append(error_middleware)
    app.middlewares.append(url_guard)
    app.middlewares.append(staff_action_deadline)
    app.on_response_prepare.append(security_headers)
