"""The supervisor page over HTTP: the page, live view, figures (JSON and CSV), join and take over."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiohttp import web

from core import staff_http
from core.banking import insert_audit_record
from core.db import find_each
from core.keys import DB_KEY, HANDOFF_KEY, SETTINGS_KEY
from core.masking import mask_sensitive, staff_notice
from core.staff import Role, StaffSession
from core.staff_http import json_error
from handoff import events, operators, queue, reporting, reports, supervision, verify_limits
from handoff.console import built_page
from handoff.supervision import NotJoined, NotLive, Supervision

# The figures read every reporting row of the period; a quarter keeps one request bounded.
_MAX_PERIOD_DAYS = 93
_MAX_TEXT_CHARS = 4000
_MAX_SUBJECT_CHARS = 200


async def _supervisor(request: web.Request) -> StaffSession:
    return await staff_http.require_staff(request, request.app[DB_KEY], Role.SUPERVISOR)


def _supervision(request: web.Request) -> Supervision:
    services = request.app[HANDOFF_KEY]
    return Supervision(request.app[DB_KEY], services.bus, services.assignment, services.desk, services.clock)


async def supervisor_page(request: web.Request) -> web.StreamResponse:
    """The supervisor's single page (built from web/supervisor/); ?conversation=<id> opens one conversation."""
    return built_page("supervisor")


async def live(request: web.Request) -> web.Response:
    """Queues, operators (supervisors are not operators with capacity) and every open conversation."""
    await _supervisor(request)
    db = request.app[DB_KEY]
    now = datetime.now(UTC)
    supervisors = await supervision.supervisor_logins(db)
    return web.json_response(
        {
            "at": now.isoformat(),
            "queues": [f.to_dict() for f in await queue.live_figures(db, now)],
            "operators": [o.to_dict() for o in await operators.list_operators(db) if o.id not in supervisors],
            "conversations": await _with_clocks(request, await supervision.open_conversations(db, now), now),
            "breached_today": await _breached_count(request, now),
            "verification_locks": await verify_limits.active_alerts(db, now),
        }
    )


async def _with_clocks(
    request: web.Request, rows: list[supervision.LiveConversation], now: datetime
) -> list[dict[str, Any]]:
    """Each open conversation with its service-level clock: a breach shows in the supervisor's live list."""
    levels, db = request.app[HANDOFF_KEY].levels, request.app[DB_KEY]
    ids = [row.conversation.id for row in rows]
    docs = await find_each(db.conversations, "_id", ids, projection={"transitions": 0}) if levels else []
    clocks = await levels.clocks(db, docs, now) if levels is not None else {}
    out = []
    for row in rows:
        clock = clocks.get(row.conversation.id)
        out.append({**row.to_dict(), "sla": clock.to_dict() if clock else None})
    return out


async def _breached_count(request: web.Request, now: datetime) -> int:
    """Breaches announced in the last 24 hours (the live list marks the ones still waiting)."""
    return await request.app[DB_KEY].events.count_documents(
        {"name": events.SLA_BREACHED, "at": {"$gte": now - timedelta(days=1)}}
    )


def _zone(request: web.Request) -> ZoneInfo:
    name = request.query.get("tz") or request.app[SETTINGS_KEY].operator_timezone
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise json_error(web.HTTPBadRequest, "'tz' must be an IANA time zone, e.g. Europe/Moscow.") from err


def _period(request: web.Request) -> tuple[datetime, datetime]:
    now = datetime.now(UTC)
    try:
        start = datetime.fromisoformat(request.query["from"]) if "from" in request.query else now - timedelta(days=1)
        end = datetime.fromisoformat(request.query["to"]) if "to" in request.query else now + timedelta(seconds=1)
    except ValueError as err:
        raise json_error(
            web.HTTPBadRequest, "'from' and 'to' must be ISO 8601 times, e.g. 2026-03-01T00:00:00+03:00."
        ) from err
    start = start if start.tzinfo else start.replace(tzinfo=UTC)
    end = end if end.tzinfo else end.replace(tzinfo=UTC)
    if end <= start:
        raise json_error(web.HTTPBadRequest, "'to' must be later than 'from'.")
    if end - start > timedelta(days=_MAX_PERIOD_DAYS):
        raise json_error(web.HTTPBadRequest, f"The period may be at most {_MAX_PERIOD_DAYS} days.")
    return start, end


async def reports_view(request: web.Request) -> web.Response:
    """Reports of a period (`from`, `to`, `tz`) beside the previous period of equal length."""
    await _supervisor(request)
    start, end = _period(request)
    found = await reports.report(request.app[DB_KEY], start, end, _zone(request))
    return web.json_response(found.to_dict())


async def _figures(request: web.Request) -> reporting.Figures:
    start, end = _period(request)
    bucket = request.query.get("bucket")
    if bucket not in (None, "hour", "day"):
        raise json_error(web.HTTPBadRequest, "'bucket' must be hour or day.")
    return await reporting.figures(request.app[DB_KEY], start, end, zone=_zone(request), bucket=bucket)


async def figures(request: web.Request) -> web.Response:
    """Figures for `?from=&to=` (default: the last 24 hours), per operator and per hour or day, as JSON."""
    await _supervisor(request)
    return web.json_response((await _figures(request)).to_dict())


async def figures_csv(request: web.Request) -> web.Response:
    """The same figures as a CSV download; rating comments carry the address of their conversation."""
    await _supervisor(request)
    found = await _figures(request)
    base = f"{request.scheme}://{request.host}"
    link = str(request.app.router["supervisor_page"].url_for().with_query(conversation="")).removesuffix("=")
    return web.Response(
        text=found.to_csv(lambda conversation_id: f"{base}{link}={conversation_id}"),
        content_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="figures.csv"'},
    )


def _text(body: dict[str, Any]) -> str:
    value = body.get("text", "")
    if not isinstance(value, str) or not value.strip() or len(value) > _MAX_TEXT_CHARS:
        raise json_error(web.HTTPBadRequest, f"'text' must be a non-empty text of at most {_MAX_TEXT_CHARS}.")
    return value.strip()


async def join(request: web.Request) -> web.Response:
    """Join a live conversation beside its operator."""
    session = await _supervisor(request)
    try:
        joined = await _supervision(request).join(
            session.user.login, session.user.display_name, request.match_info["conversation_id"]
        )
    except NotLive as err:
        return web.json_response({"error": str(err), "code": "not_live"}, status=409)
    return web.json_response(joined.to_dict())


async def say(request: web.Request) -> web.Response:
    """Write to the customer of a joined conversation."""
    session = await _supervisor(request)
    text = mask_sensitive(_text(await staff_http.json_body(request)))  # as operators' replies (handoff/console.py)
    try:
        stored = await _supervision(request).say(
            session.user.login, session.user.display_name, request.match_info["conversation_id"], text.text
        )
    except NotLive as err:
        return web.json_response({"error": str(err), "code": "not_live"}, status=409)
    except NotJoined as err:
        return web.json_response({"error": str(err), "code": "not_joined"}, status=409)
    return web.json_response(stored.to_dict() | staff_notice(text))


async def take_over(request: web.Request) -> web.Response:
    """Take a conversation over from its operator (or from the queue)."""
    session = await _supervisor(request)
    try:
        taken = await _supervision(request).take_over(
            session.user.login, session.user.display_name, request.match_info["conversation_id"]
        )
    except NotLive as err:
        return web.json_response({"error": str(err), "code": "not_live"}, status=409)
    return web.json_response(taken.to_dict())


async def verification_locks(request: web.Request) -> web.Response:
    """Customers whose card-digit checks are locked and operators whose checks are stopped, newest first."""
    await _supervisor(request)
    return web.json_response({"locks": await verify_limits.active_alerts(request.app[DB_KEY], datetime.now(UTC))})


async def lift_verification_lock(request: web.Request) -> web.Response:
    """Lift a lock (`{"subject": "customer:<id>" | "operator:<login>"}`), e.g. after the customer came to a branch.

    Audited with the supervisor as the actor; the subject's count starts afresh.
    """
    session = await _supervisor(request)
    subject = (await staff_http.json_body(request)).get("subject")
    if (
        not isinstance(subject, str)
        or len(subject) > _MAX_SUBJECT_CHARS
        or not subject.startswith((verify_limits.CUSTOMER_PREFIX, verify_limits.OPERATOR_PREFIX))
    ):
        raise json_error(web.HTTPBadRequest, "'subject' must be 'customer:<id>' or 'operator:<login>'.")
    db, now = request.app[DB_KEY], datetime.now(UTC)
    actor = f"supervisor:{session.user.login}"
    standing = await verify_limits.lift(db, subject, by=actor, now=now)
    customer_id = subject.removeprefix(verify_limits.CUSTOMER_PREFIX) if subject.startswith("customer:") else None
    await insert_audit_record(
        db.audit_log,
        {"action": "identity.lock_lifted", "actor": actor, "subject": subject, "customer_id": customer_id, "at": now},
    )
    return web.json_response({"subject": subject, "locked": standing.locked, "attempts_left": standing.attempts_left})


def setup_routes(app: web.Application) -> None:
    """Every route of the supervisor page, named."""
    add = app.router
    add.add_get("/supervisor", supervisor_page, name="supervisor_page")
    add.add_get("/api/supervisor/live", live, name="supervisor_live")
    add.add_get("/api/supervisor/figures", figures, name="supervisor_figures")
    add.add_get("/api/supervisor/reports", reports_view, name="supervisor_reports")
    add.add_get("/api/supervisor/figures.csv", figures_csv, name="supervisor_figures_csv")
    add.add_get("/api/supervisor/verification-locks", verification_locks, name="supervisor_verification_locks")
    add.add_post(
        "/api/supervisor/verification-locks/lift", lift_verification_lock, name="supervisor_lift_verification_lock"
    )
    base = "/api/supervisor/conversations/{conversation_id}"
    add.add_post(base + "/join", join, name="supervisor_join")
    add.add_post(base + "/say", say, name="supervisor_say")
    add.add_post(base + "/take-over", take_over, name="supervisor_take_over")
