"""Triage over HTTP: priority, labels and snooze of a conversation; reassignment, bulk actions, saved views.

Operators triage their own conversations; supervisors any, and only they reassign, act in bulk (every
conversation of a bulk action gets an audit record naming the supervisor) and keep the label list.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from core import staff_http
from core.banking import insert_audit_record
from core.keys import DB_KEY, HANDOFF_KEY
from core.staff import Role, StaffSession
from core.teams import PRIORITIES, TeamsError, configured_teams
from handoff import conversations, events, inbox, operators, snooze, triage
from handoff.assignment import AssignmentError
from handoff.conversations import WITH_OPERATOR, Conversation, ConversationState, Resolution
from handoff.events import Event

_MAX_BULK = 100
_MAX_VIEWS = 30
_MAX_VIEW_NAME_CHARS = 60


def _coded(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": message, "code": code}, status=status)


async def _session(request: web.Request, *roles: Role) -> StaffSession:
    return await staff_http.require_staff(request, request.app[DB_KEY], *(roles or (Role.OPERATOR, Role.SUPERVISOR)))


def _now() -> datetime:
    return datetime.now(UTC)


def _actor(session: StaffSession) -> str:
    return f"operator:{session.user.login}"


async def _triageable(request: web.Request, session: StaffSession) -> Conversation | web.Response:
    """The conversation, when this staff member may triage it: its assignee, or a supervisor."""
    conversation = await conversations.get_conversation(request.app[DB_KEY], request.match_info["conversation_id"])
    if conversation is None:
        return _coded(404, "not_found", "No such conversation.")
    if conversation.state is ConversationState.CLOSED:
        return _coded(409, "closed", "The conversation is closed.")
    if not session.user.has(Role.SUPERVISOR) and conversation.assignee_id != session.user.login:
        return _coded(409, "not_yours", "This conversation is not assigned to you.")
    return conversation


async def options(request: web.Request) -> web.Response:
    """What the console's filters and triage controls offer: priorities, teams, labels, my saved views."""
    session = await _session(request)
    db = request.app[DB_KEY]
    views = [
        {"id": d["_id"], "name": d["name"], "view": d.get("view", "open"), "filters": d.get("filters") or {}}
        async for d in db.saved_views.find({"owner": session.user.login}).sort("name", 1)
    ]
    return web.json_response(
        {
            "priorities": list(PRIORITIES),
            "teams": [{"name": t.name, "titles": dict(t.titles)} for t in configured_teams()],
            "labels": await triage.list_labels(db),
            "operators": [{"id": o.id, "display_name": o.display_name} for o in await operators.list_operators(db)],
            "views": views,
        }
    )


async def set_priority(request: web.Request) -> web.Response:
    """Change a conversation's priority level; the queue order follows it."""
    session = await _session(request)
    conversation = await _triageable(request, session)
    if isinstance(conversation, web.Response):
        return conversation
    body = await staff_http.json_body(request)
    try:
        level = triage.parse_level(body.get("priority"))
    except triage.TriageError as err:
        return _coded(400, err.code, str(err))
    db, bus = request.app[DB_KEY], request.app[HANDOFF_KEY].bus
    await triage.set_fields(db, conversation.id, {"priority": triage.rank(level)})
    await bus.emit(
        Event(
            events.CONVERSATION_PRIORITY_CHANGED,
            conversation.id,
            _actor(session),
            _now(),
            {"priority": level, "was": triage.level(conversation.priority)},
        )
    )
    return web.json_response({"priority": level})


async def set_labels(request: web.Request) -> web.Response:
    """Replace a conversation's labels with labels from the supervisors' list."""
    session = await _session(request)
    conversation = await _triageable(request, session)
    if isinstance(conversation, web.Response):
        return conversation
    raw = (await staff_http.json_body(request)).get("labels")
    if not isinstance(raw, list) or len(raw) > triage.MAX_LABELS_PER_CONVERSATION:
        return _coded(400, "bad_label", f"'labels' must be a list of at most {triage.MAX_LABELS_PER_CONVERSATION}.")
    try:
        names = sorted({triage.parse_label_name(name) for name in raw})
    except triage.TriageError as err:
        return _coded(400, err.code, str(err))
    db = request.app[DB_KEY]
    unknown = set(names) - await triage.known_labels(db, names)
    if unknown:
        return _coded(
            400, "unknown_label", f"Unknown labels (a supervisor creates them): {', '.join(sorted(unknown))}."
        )
    await triage.set_fields(db, conversation.id, {"labels": names})
    await request.app[HANDOFF_KEY].bus.emit(
        Event(events.CONVERSATION_LABELS_CHANGED, conversation.id, _actor(session), _now(), {"labels": names})
    )
    return web.json_response({"labels": names})


async def set_snooze(request: web.Request) -> web.Response:
    """Snooze until `until` (ISO time) or, with `until_reply`, until the customer writes."""
    session = await _session(request)
    conversation = await _triageable(request, session)
    if isinstance(conversation, web.Response):
        return conversation
    body = await staff_http.json_body(request)
    now = _now()
    until: datetime | None = None
    if body.get("until_reply") is not True:
        raw = body.get("until")
        try:
            until = datetime.fromisoformat(str(raw)) if isinstance(raw, str) else None
        except ValueError:
            until = None
        if until is None or until.tzinfo is None or until <= now:
            return _coded(400, "bad_snooze", "Give 'until' as a future ISO time with a zone, or 'until_reply': true.")
    await snooze.snooze(
        request.app[DB_KEY], request.app[HANDOFF_KEY].bus, conversation.id, until=until, by=_actor(session), now=now
    )
    return web.json_response({"until": until.isoformat() if until else None, "until_reply": until is None})


async def end_snooze(request: web.Request) -> web.Response:
    """Bring a snoozed conversation back now."""
    session = await _session(request)
    conversation = await _triageable(request, session)
    if isinstance(conversation, web.Response):
        return conversation
    woken = await snooze.wake(
        request.app[DB_KEY], request.app[HANDOFF_KEY].bus, conversation.id, by=_actor(session), now=_now()
    )
    return web.json_response({"woken": woken})


async def reassign(request: web.Request) -> web.Response:
    """A supervisor gives a conversation to an operator (`to_operator_id`) or back to its team's queue (null)."""
    session = await _session(request, Role.SUPERVISOR)
    db, services = request.app[DB_KEY], request.app[HANDOFF_KEY]
    conversation = await conversations.get_conversation(db, request.match_info["conversation_id"])
    if conversation is None:
        return _coded(404, "not_found", "No such conversation.")
    target = (await staff_http.json_body(request)).get("to_operator_id")
    if target is not None and not isinstance(target, str):
        return _coded(400, "bad_request", "'to_operator_id' must be an operator's login or null.")
    try:
        if conversation.state is ConversationState.ASSIGNED and conversation.assignee_id is not None:
            if target == conversation.assignee_id:
                return web.json_response(conversation.to_dict())
            moved = await services.assignment.transfer(
                conversation.id,
                from_operator_id=conversation.assignee_id,
                to_operator_id=target,
                to_team=None if target else conversation.team,
                note="",
            )
        elif conversation.state is ConversationState.QUEUED and target:
            moved = await services.assignment.assign_to(target, conversation.id, actor=_actor(session))
        else:
            return _coded(409, "conflict", "Only queued or assigned conversations can be reassigned.")
    except AssignmentError as err:
        return _coded(409, "capacity" if "capacity" in str(err) else "conflict", str(err))
    await insert_audit_record(
        db.audit_log,
        {
            "action": "conversation.reassign",
            "actor": f"supervisor:{session.user.login}",
            "at": _now(),
            "conversation_id": conversation.id,
            "customer_id": conversation.customer_id,
            "from_operator_id": conversation.assignee_id,
            "to_operator_id": target,
            "result": "done",
        },
    )
    return web.json_response(moved.to_dict())


async def bulk(request: web.Request) -> web.Response:
    """Close or transfer several conversations at once (supervisors; each one audited)."""
    session = await _session(request, Role.SUPERVISOR)
    db = request.app[DB_KEY]
    body = await staff_http.json_body(request)
    ids, action = body.get("ids"), body.get("action")
    if not isinstance(ids, list) or not ids or len(ids) > _MAX_BULK or not all(isinstance(i, str) for i in ids):
        return _coded(400, "bad_request", f"'ids' must list 1-{_MAX_BULK} conversation ids.")
    if action not in ("close", "transfer"):
        return _coded(400, "bad_request", "'action' must be close or transfer.")
    resolution = Resolution.OTHER
    to_team: str | None = None
    if action == "close":
        try:
            resolution = Resolution(str(body.get("resolution", Resolution.OTHER.value)))
        except ValueError:
            return _coded(400, "bad_request", f"'resolution' must be one of: {', '.join(r.value for r in Resolution)}.")
    else:
        try:
            to_team = configured_teams().require(body.get("to_team")).name
        except TeamsError as err:
            return _coded(400, "unknown_team", str(err))
    done: list[str] = []
    skipped: list[str] = []
    for conversation_id in dict.fromkeys(ids):
        outcome = await _bulk_one(request, session, conversation_id, action, resolution, to_team)
        await insert_audit_record(
            db.audit_log,
            {
                "action": f"conversation.bulk_{action}",
                "actor": f"supervisor:{session.user.login}",
                "at": _now(),
                "conversation_id": conversation_id,
                "result": "done" if outcome else "skipped",
                **({"resolution": resolution.value} if action == "close" else {"to_team": to_team}),
            },
        )
        (done if outcome else skipped).append(conversation_id)
    return web.json_response({"done": done, "skipped": skipped})


async def _bulk_one(
    request: web.Request,
    session: StaffSession,
    conversation_id: str,
    action: str,
    resolution: Resolution,
    to_team: str | None,
) -> bool:
    db, services = request.app[DB_KEY], request.app[HANDOFF_KEY]
    conversation = await conversations.get_conversation(db, conversation_id)
    if conversation is None or conversation.state not in WITH_OPERATOR:
        return False
    if action == "close":
        closed = await conversations.close(
            db,
            services.bus,
            conversation.id,
            resolution=resolution,
            operator_id=None,
            actor=_actor(session),
            now=_now(),
        )
        if closed is not None and conversation.assignee_id:
            await services.assignment.release(conversation.assignee_id, conversation.id)
        return closed is not None
    if conversation.state is ConversationState.ASSIGNED and conversation.assignee_id:
        try:
            await services.assignment.transfer(
                conversation.id,
                from_operator_id=conversation.assignee_id,
                to_operator_id=None,
                to_team=to_team,
                note="",
            )
        except AssignmentError:
            return False
        return True
    return await triage.set_fields(db, conversation.id, {"team": to_team})


async def save_view(request: web.Request) -> web.Response:
    """Save the current view and filters under a name, for this staff member."""
    session = await _session(request)
    db = request.app[DB_KEY]
    body = await staff_http.json_body(request)
    name = body.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > _MAX_VIEW_NAME_CHARS:
        return _coded(400, "bad_view_name", f"'name' must be 1-{_MAX_VIEW_NAME_CHARS} characters.")
    try:
        view = inbox.View(str(body.get("view", "open")))
        filters = inbox.Filters.parse(body.get("filters") if isinstance(body.get("filters"), dict) else {})
    except ValueError as err:
        return _coded(400, "bad_filter", str(err))
    if await db.saved_views.count_documents({"owner": session.user.login}) >= _MAX_VIEWS:
        return _coded(409, "too_many_views", f"At most {_MAX_VIEWS} saved views; delete one first.")
    saved: dict[str, Any] = {
        "_id": uuid.uuid4().hex,
        "owner": session.user.login,
        "name": name.strip(),
        "view": view.value,
        "filters": filters.to_dict(),
        "created_at": _now(),
    }
    await db.saved_views.insert_one(dict(saved))
    return web.json_response(
        {"id": saved["_id"], "name": saved["name"], "view": saved["view"], "filters": saved["filters"]}
    )


async def delete_view(request: web.Request) -> web.Response:
    """Delete one of my saved views."""
    session = await _session(request)
    result = await request.app[DB_KEY].saved_views.delete_one(
        {"_id": request.match_info["view_id"], "owner": session.user.login}
    )
    return web.json_response({"deleted": result.deleted_count == 1})


async def create_label(request: web.Request) -> web.Response:
    """Supervisors add a label to the list operators pick from."""
    session = await _session(request, Role.SUPERVISOR)
    try:
        name = triage.parse_label_name((await staff_http.json_body(request)).get("name"))
    except triage.TriageError as err:
        return _coded(400, err.code, str(err))
    db = request.app[DB_KEY]
    if await db.labels.find_one({"_id": name}) is None:
        await db.labels.update_one(
            {"_id": name}, {"$setOnInsert": {"created_by": session.user.login, "created_at": _now()}}, upsert=True
        )
    return web.json_response({"labels": await triage.list_labels(db)})


async def delete_label(request: web.Request) -> web.Response:
    """Supervisors remove a label from the list (conversations keep it in their history)."""
    await _session(request, Role.SUPERVISOR)
    db = request.app[DB_KEY]
    await db.labels.delete_one({"_id": request.match_info["name"]})
    return web.json_response({"labels": await triage.list_labels(db)})


def setup_routes(app: web.Application) -> None:
    """Every triage route, named."""
    add = app.router
    base = "/api/console/conversations/{conversation_id}"
    add.add_get("/api/console/triage", options, name="console_triage")
    add.add_post(base + "/priority", set_priority, name="console_priority")
    add.add_post(base + "/labels", set_labels, name="console_labels")
    add.add_post(base + "/snooze", set_snooze, name="console_snooze")
    add.add_delete(base + "/snooze", end_snooze, name="console_end_snooze")
    add.add_post(base + "/reassign", reassign, name="console_reassign")
    add.add_post("/api/console/bulk", bulk, name="console_bulk")
    add.add_post("/api/console/views", save_view, name="console_save_view")
    add.add_delete("/api/console/views/{view_id}", delete_view, name="console_delete_view")
    add.add_post("/api/supervisor/labels", create_label, name="supervisor_create_label")
    add.add_delete("/api/supervisor/labels/{name}", delete_label, name="supervisor_delete_label")
