"""Staff sign-in over HTTP, shared by every staff page (KB editor, operator console): session cookie, roles, CSRF."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from core import signin_guard, staff
from core.db import Database
from core.json_body import read_json_object
from core.keys import SETTINGS_KEY
from core.settings import PRODUCTION
from core.staff import Role, StaffSession, StaffUser

# The same limits for every staff page: the counters are per account and address, not per page.
SIGN_IN_POLICY = signin_guard.SignInPolicy()
MAX_LOGIN_CHARS = 64
MAX_PASSWORD_CHARS = 1024


def json_error(status: type[web.HTTPException], message: str) -> web.HTTPException:
    """An HTTP error whose body is {"error": message}."""
    return status(text=json.dumps({"error": message}), content_type="application/json")


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object, or a 400 that says what is wrong with it (core.json_body's limits)."""
    return await read_json_object(request)


async def require_staff(request: web.Request, db: Database, *roles: Role) -> StaffSession:
    """The signed-in staff member holding one of `roles`; state-changing requests must carry the CSRF header.

    Raises:
        web.HTTPUnauthorized: nobody is signed in (or the session expired).
        web.HTTPForbidden: the role does not allow this, or the CSRF token is missing or wrong.
    """
    token = request.cookies.get(staff.SESSION_COOKIE)
    session = await staff.load_session(db, token, now=datetime.now(UTC)) if token else None
    if session is None:
        raise json_error(web.HTTPUnauthorized, "Sign in first.")
    if roles and not session.user.has(*roles):
        raise json_error(web.HTTPForbidden, "Your role does not allow this.")
    if request.method not in {"GET", "HEAD"} and not staff.csrf_matches(
        session, request.headers.get(staff.CSRF_HEADER)
    ):
        raise json_error(web.HTTPForbidden, "Missing or wrong CSRF token; reload the page.")
    return session


def session_payload(session: StaffSession) -> dict[str, object]:
    """What a page needs after sign-in: who, which roles, and the CSRF token to send back."""
    return {
        "login": session.user.login,
        "display_name": session.user.display_name,
        "roles": sorted(r.value for r in session.user.roles),
        "csrf": session.csrf,
    }


def refuse_cross_site_sign_in(request: web.Request) -> None:
    """Sign-in only as JSON from the platform's own pages (no login CSRF).

    Another site's form can post text/plain, urlencoded or multipart without asking; a JSON body needs
    a CORS preflight the gateway never grants. The browser's Origin and Sec-Fetch-Site say where a
    request comes from: another site is refused even with a JSON type.

    Raises:
        web.HTTPUnsupportedMediaType: the body is not declared as JSON.
        web.HTTPForbidden: the request comes from another site.
    """
    if request.content_type != "application/json":
        raise json_error(web.HTTPUnsupportedMediaType, "Send the sign-in as JSON (Content-Type: application/json).")
    origin = request.headers.get("Origin")
    # Host only: behind a TLS-terminating proxy the scheme the gateway sees is not the page's.
    foreign = origin is not None and urlsplit(origin).netloc != request.host
    if request.headers.get("Sec-Fetch-Site") == "cross-site" or foreign:
        raise json_error(web.HTTPForbidden, "Sign in from the platform's own page.")


async def sign_in(
    request: web.Request,
    db: Database,
    *roles: Role,
    secure_cookie: bool,
    payload: Callable[[StaffSession], Awaitable[dict[str, Any]]] | None = None,
) -> web.Response:
    """Check login and password, require one of `roles`, open a session (HttpOnly, SameSite=Strict cookie).

    The same 401 answers a wrong password and a missing role, so the page reveals nothing about accounts.
    `payload` builds the page's answer (default: `session_payload`).
    """
    refuse_cross_site_sign_in(request)
    body = await json_body(request)
    login, password = body.get("login"), body.get("password")
    if not isinstance(login, str) or not isinstance(password, str):
        raise json_error(web.HTTPBadRequest, "'login' and 'password' are required.")
    if len(login) > MAX_LOGIN_CHARS or len(password) > MAX_PASSWORD_CHARS:
        # The login is stored in the sign-in audit; a password of 200 KiB is argon2 work for nothing.
        raise json_error(
            web.HTTPBadRequest,
            f"'login' has at most {MAX_LOGIN_CHARS} characters and 'password' at most {MAX_PASSWORD_CHARS}.",
        )
    address = request.remote or "unknown"
    page = request.match_info.route.name or request.path
    now = datetime.now(UTC)
    try:
        attempt = await signin_guard.begin(db, login, address, now=now, policy=SIGN_IN_POLICY)
    except signin_guard.SignInLocked as locked:
        await signin_guard.audit(
            db, login=login, address=address, page=page, outcome=signin_guard.Outcome.REFUSED_LOCKED, now=now
        )
        wait = max(1, round(locked.retry_after_seconds))
        return web.json_response(
            {"error": str(locked), "retry_after": wait}, status=429, headers={"Retry-After": str(wait)}
        )
    user: StaffUser | None = await staff.authenticate(db, login, password)
    succeeded = user is not None and (not roles or user.has(*roles))
    finished_at = datetime.now(UTC)  # lockouts run from the end of the check, which may have queued
    await signin_guard.finish(
        db, login, address, succeeded=succeeded, now=finished_at, policy=SIGN_IN_POLICY, attempt=attempt
    )
    if user is None or not succeeded:
        await signin_guard.audit(
            db, login=login, address=address, page=page, outcome=signin_guard.Outcome.FAILED, now=now
        )
        return web.json_response({"error": "Wrong login or password, or no access to this page."}, status=401)
    if request.app[SETTINGS_KEY].env == PRODUCTION and (reason := staff.weak_password(password)):
        # A password set before the rules (or by hand in the database): right, but not good enough any more.
        await signin_guard.audit(
            db, login=login, address=address, page=page, outcome=signin_guard.Outcome.FAILED, now=now
        )
        message = f"This password cannot be used ({reason}); ask an administrator to set a new one."
        return web.json_response({"error": message, "code": "weak_password"}, status=403)
    session = await staff.start_session(db, user, now=datetime.now(UTC))
    response = web.json_response(await payload(session) if payload else session_payload(session))
    response.set_cookie(
        staff.SESSION_COOKIE,
        session.token,
        httponly=True,
        samesite="Strict",
        secure=secure_cookie,
        max_age=staff.SESSION_TTL_SECONDS,
        path="/",
    )
    return response


async def sign_out(request: web.Request, db: Database) -> web.Response:
    """End the session and clear the cookie."""
    session = await require_staff(request, db)
    await staff.end_session(db, session.token)
    response = web.json_response({"ok": True})
    response.del_cookie(staff.SESSION_COOKIE, path="/")
    return response
