"""The operator console and supervisor view over HTTP: pages, JSON API, live websocket, CSV export."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from core import json_body, staff_http
from core.banking import create_banking_backend, insert_audit_record
from core.keys import DB_KEY, HANDOFF_KEY, SETTINGS_KEY
from core.masking import MaskResult, mask_sensitive, staff_notice
from core.staff import Role, StaffSession
from core.staff_http import json_error
from core.teams import TeamsError, configured_teams
from handoff import callbacks, canned, context, conversations, inbox, operators, queue, verification
from handoff.assignment import AlreadyTaken, AssignmentError, CapacityReached, UnknownOperator
from handoff.bus import last_event_seq
from handoff.conversations import Conversation, ConversationState, Resolution
from handoff.desk import NotYours
from handoff.operators import OperatorStatus

logger = logging.getLogger(__name__)

# The built staff pages (web/, bundled by `node web/build.mjs`, which scripts/setup runs).
WEB_DIST = Path(__file__).resolve().parent.parent / "web" / "dist"
# Operator texts are short chat messages; a limit stops accidental pastes of whole documents.
_MAX_OPERATOR_TEXT_CHARS = 4000


async def _session(request: web.Request, *roles: Role) -> StaffSession:
    """The signed-in operator or supervisor (see `staff_http.require_staff`)."""
    return await staff_http.require_staff(request, request.app[DB_KEY], *roles)


def _text(body: dict[str, Any], key: str, *, required: bool = True) -> str:
    value = body.get(key, "")
    if not isinstance(value, str) or (required and not value.strip()) or len(value) > _MAX_OPERATOR_TEXT_CHARS:
        raise json_error(web.HTTPBadRequest, f"'{key}' must be a non-empty text of at most {_MAX_OPERATOR_TEXT_CHARS}.")
    return value.strip()


def _operator_text(body: dict[str, Any], key: str, *, required: bool = True) -> MaskResult:
    """The operator's text with card numbers and codes masked: they reach no customer, storage or log."""
    return mask_sensitive(_text(body, key, required=required))


def built_page(page: str) -> web.StreamResponse:
    """A staff page built from web/<page>/, or a clear 503 when the front-end was never built."""
    index = WEB_DIST / page / "index.html"
    if not index.is_file():
        return web.Response(
            status=503,
            text=f"The {page} page is not built: run ./scripts/setup (it runs npm ci and node web/build.mjs).",
        )
    return web.FileResponse(index, headers=_PAGE_HEADERS)


async def console_page(request: web.Request) -> web.StreamResponse:
    """The console's single page (it signs in through the API); /console/c/<id> opens one conversation."""
    return built_page("console")


def _coded(status: int, code: str, message: str) -> web.Response:
    """An error the page shows in its own language by `code`; `error` is the English text for other clients."""
    return web.json_response({"error": message, "code": code}, status=status)


def _assignment_error(err: AssignmentError) -> web.Response:
    if isinstance(err, NotYours):
        code = "not_yours"
    elif isinstance(err, CapacityReached):
        code = "capacity"
    elif isinstance(err, UnknownOperator):
        code = "unknown_operator"
    elif isinstance(err, AlreadyTaken):
        code = "already_taken"
    else:
        code = "conflict"
    return _coded(409, code, str(err))


# No inline script is allowed to run, so even an escaping bug could not execute customer text.
_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "connect-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


async def sign_in(request: web.Request) -> web.Response:
    """Sign in with the operator or supervisor role; the answer carries the operator's state and CSRF token."""
    return await staff_http.sign_in(
        request,
        request.app[DB_KEY],
        Role.OPERATOR,
        Role.SUPERVISOR,
        secure_cookie=request.app[SETTINGS_KEY].env != "local",
        payload=lambda session: _me(request, session),
    )


async def sign_out(request: web.Request) -> web.Response:
    """End the session."""
    return await staff_http.sign_out(request, request.app[DB_KEY])


async def _me(request: web.Request, session: StaffSession) -> dict[str, Any]:
    operator = await operators.get_operator(request.app[DB_KEY], session.user.login)
    return {
        "login": session.user.login,
        "display_name": session.user.display_name,
        "roles": sorted(r.value for r in session.user.roles),
        "csrf": session.csrf,
        "operator": operator.to_dict() if operator else None,
    }


async def me(request: web.Request) -> web.Response:
    """Who is signed in, their operator profile and the CSRF token."""
    return web.json_response(await _me(request, await _session(request)))


async def set_status(request: web.Request) -> web.Response:
    """Online / away / offline."""
    session = await _session(request, Role.OPERATOR)
    body = await staff_http.json_body(request)
    try:
        status = OperatorStatus(str(body.get("status")))
    except ValueError as err:
        raise json_error(web.HTTPBadRequest, "'status' must be online, away or offline.") from err
    services = request.app[HANDOFF_KEY]
    operator = await operators.set_status(
        request.app[DB_KEY], services.bus, session.user.login, status, now=services.clock()
    )
    if operator is None:
        raise json_error(web.HTTPNotFound, "You have no operator profile; ask a supervisor.")
    return web.json_response(operator.to_dict())


async def queue_view(request: web.Request) -> web.Response:
    """The queue this operator may serve, my conversations, and open callback tasks."""
    session = await _session(request, Role.OPERATOR, Role.SUPERVISOR)
    db = request.app[DB_KEY]
    operator = await operators.get_operator(db, session.user.login)
    waiting = await queue.waiting_for(db, operator) if operator else await queue.waiting(db)
    mine = await conversations.list_by_state(db, ConversationState.ASSIGNED, assignee_id=session.user.login)
    return web.json_response(
        {
            "queue": [c.to_dict() for c in waiting],
            "mine": [c.to_dict() for c in mine],
            "callbacks": await callbacks.open_tasks(db),
            "last_event_seq": await _last_seq(request),
        }
    )


async def _last_seq(request: web.Request) -> int:
    return await last_event_seq(request.app[DB_KEY])


async def conversation_view(request: web.Request) -> web.Response:
    """The full context of one conversation; showing a customer's bank data (balances, cards) is audited."""
    session = await _session(request, Role.OPERATOR, Role.SUPERVISOR)
    services = request.app[HANDOFF_KEY]
    found = await context.build_context(
        request.app[DB_KEY],
        request.match_info["conversation_id"],
        tracker_client=services.tracker_client,
        profile_source=services.profile_source,
        kb_search=services.kb_search,
    )
    if found is None:
        return _coded(404, "not_found", "No such conversation.")
    if found.get("profile"):
        conversation = found.get("conversation") or {}
        await insert_audit_record(
            request.app[DB_KEY].audit_log,
            {
                "action": "bank_data.viewed",
                "actor": f"{_staff_kind(session)}:{session.user.login}",
                "at": datetime.now(UTC),
                "channel": conversation.get("channel"),
                "conversation_id": request.match_info["conversation_id"],
                "customer_id": conversation.get("customer_id"),
                "result": "shown",
            },
        )
    return web.json_response(found)


def _staff_kind(session: StaffSession) -> str:
    """The actor's kind in audit records (operator or supervisor), as the rest of the log names them."""
    return "supervisor" if Role.SUPERVISOR in session.user.roles else "operator"


async def inbox_view(request: web.Request) -> web.Response:
    """`?view=queue|mine|open|closed&q=`: the inbox's rows (a query searches every state) and tab counts."""
    session = await _session(request, Role.OPERATOR, Role.SUPERVISOR)
    db = request.app[DB_KEY]
    try:
        view = inbox.View(request.query.get("view", inbox.View.MINE.value))
    except ValueError:
        return _coded(400, "bad_view", "'view' must be queue, mine, open, snoozed or closed.")
    try:
        filters = inbox.Filters.parse(request.query)
    except ValueError as err:
        return _coded(400, "bad_filter", str(err))
    operator = await operators.get_operator(db, session.user.login)
    rows = await inbox.rows(
        db,
        view,
        session.user.login,
        operator,
        request.query.get("q", ""),
        filters=filters,
        levels=request.app[HANDOFF_KEY].levels,
    )
    return web.json_response(
        {
            "view": view.value,
            "rows": [r.to_dict() for r in rows],
            **(await inbox.summary(db, session.user.login, operator)).to_dict(),
            "last_event_seq": await _last_seq(request),
        }
    )


async def inbox_row(request: web.Request) -> web.Response:
    """One conversation's inbox row: a message updates its row without re-reading the whole view."""
    session = await _session(request, Role.OPERATOR, Role.SUPERVISOR)
    found = await inbox.one_row(
        request.app[DB_KEY], request.match_info["conversation_id"], session.user.login, request.app[HANDOFF_KEY].levels
    )
    if found is None:
        return _coded(404, "not_found", "No such conversation.")
    return web.json_response(found.to_dict())


async def accept(request: web.Request) -> web.Response:
    """The assignee accepts (the console calls it on opening an assigned conversation)."""
    session = await _session(request, Role.OPERATOR)
    try:
        first = await request.app[HANDOFF_KEY].desk.accept(session.user.login, request.match_info["conversation_id"])
    except AssignmentError as err:
        return _assignment_error(err)
    return web.json_response({"accepted": True, "first": first})


async def mark_read(request: web.Request) -> web.Response:
    """The operator has seen the conversation up to `seq`: its unread count drops."""
    session = await _session(request, Role.OPERATOR, Role.SUPERVISOR)
    seq = (await staff_http.json_body(request)).get("seq")
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        return _coded(400, "bad_request", "'seq' must be a non-negative integer.")
    await inbox.mark_read(request.app[DB_KEY], session.user.login, request.match_info["conversation_id"], seq)
    return web.json_response({"seq": seq})


async def operator_typing(request: web.Request) -> web.Response:
    """The operator types a reply: the customer's channel may show it."""
    session = await _session(request, Role.OPERATOR)
    try:
        await request.app[HANDOFF_KEY].desk.typing(session.user.login, request.match_info["conversation_id"])
    except AssignmentError as err:
        return _assignment_error(err)
    return web.json_response({"ok": True})


async def _owned_for_bank(request: web.Request) -> tuple[StaffSession, Conversation, verification.Verification]:
    session = await _session(request, Role.OPERATOR)
    db = request.app[DB_KEY]
    conversation = await conversations.get_conversation(db, request.match_info["conversation_id"])
    if (
        conversation is None
        or conversation.state is not ConversationState.ASSIGNED
        or conversation.assignee_id != session.user.login
    ):
        raise web.HTTPConflict(
            text='{"error": "This conversation is not assigned to you.", "code": "not_yours"}',
            content_type="application/json",
        )
    backend = create_banking_backend(request.app[SETTINGS_KEY], db)
    return session, conversation, verification.Verification(db, request.app[HANDOFF_KEY].bus, backend)


async def offer_sign_in(request: web.Request) -> web.Response:
    """Send the web-chat customer a sign-in button (audited)."""
    session, conversation, verifier = await _owned_for_bank(request)
    try:
        await verifier.send_sign_in_link(conversation, session.user.login, datetime.now(UTC))
    except verification.VerificationError as err:
        return _coded(400, err.code, str(err))
    return web.json_response({"sent": True})


async def verify_digits(request: web.Request) -> web.Response:
    """Verify by the account's phone number and a card's last four digits (audited, either way)."""
    session, conversation, verifier = await _owned_for_bank(request)
    body = await staff_http.json_body(request)
    phone, last4 = body.get("phone"), body.get("last4")
    if not isinstance(phone, str) or not isinstance(last4, str):
        return _coded(400, "bad_digits", "Give 'phone' and 'last4' as text.")
    try:
        customer_id = await verifier.verify_by_card_digits(
            conversation, session.user.login, phone=phone, last4=last4.strip(), now=datetime.now(UTC)
        )
    except verification.VerificationError as err:
        status = _VERIFY_STATUS.get(err.code, 400)
        # `params` fill the console's own text ("2 attempts left", "locked until 06.12 18:15").
        params = {"attempts_left": err.details.get("attempts_left"), "until": err.details.get("until")}
        answer = {"error": str(err), "code": err.code, "params": params, **err.details}
        return web.json_response(answer, status=status)
    return web.json_response({"customer_id": customer_id})


# A locked customer is "try later" (429); a stopped operator may not check anyone (403).
_VERIFY_STATUS = {"verification_locked": 429, "verification_stopped": 403, "conversation_taken": 409}


async def block_card(request: web.Request) -> web.Response:
    """Block one of the verified customer's cards by its last four digits (audited by the bank backend)."""
    session, conversation, verifier = await _owned_for_bank(request)
    try:
        result = await verifier.block_card(conversation, session.user.login, request.match_info["last4"])
    except verification.VerificationError as err:
        return _coded(400, err.code, str(err))
    card = result.card
    return web.json_response(
        {
            "result": result.status.value,
            "card": {"card": card.display_name, "status": card.status.value} if card else None,
        }
    )


async def take(request: web.Request) -> web.Response:
    """Take a conversation from the queue; 409 "already taken" if someone was first."""
    session = await _session(request, Role.OPERATOR)
    services = request.app[HANDOFF_KEY]
    try:
        taken = await services.assignment.take(session.user.login, request.match_info["conversation_id"])
        # Taking is accepting: the customer hears that an operator joined.
        await services.desk.accept(session.user.login, taken.id)
    except AssignmentError as err:
        return _assignment_error(err)
    return web.json_response(taken.to_dict())


async def reply(request: web.Request) -> web.Response:
    """Send a reply to the customer."""
    session = await _session(request, Role.OPERATOR)
    text = _operator_text(await staff_http.json_body(request), "text")
    try:
        message = await request.app[HANDOFF_KEY].desk.reply(
            session.user.login, request.match_info["conversation_id"], text.text
        )
    except NotYours as err:
        return _assignment_error(err)
    return web.json_response(message.to_dict() | staff_notice(text))


async def note(request: web.Request) -> web.Response:
    """Add a private note (never sent to the customer)."""
    session = await _session(request, Role.OPERATOR)
    text = _operator_text(await staff_http.json_body(request), "text")
    try:
        stored = await request.app[HANDOFF_KEY].desk.add_note(
            session.user.login, request.match_info["conversation_id"], text.text
        )
    except NotYours as err:
        return _assignment_error(err)
    return web.json_response(stored | staff_notice(text))


async def transfer(request: web.Request) -> web.Response:
    """Transfer to a colleague (`to_operator_id`) or a team queue (`to_team`) with a note."""
    session = await _session(request, Role.OPERATOR)
    body = await staff_http.json_body(request)
    to_operator, to_team = body.get("to_operator_id"), body.get("to_team")
    if not isinstance(to_operator, str | None) or not isinstance(to_team, str | None) or not (to_operator or to_team):
        raise json_error(web.HTTPBadRequest, "Give 'to_operator_id' or 'to_team'.")
    if to_team:
        # Only a configured team has a queue someone serves; anything else would strand the conversation.
        try:
            configured_teams().require(to_team)
        except TeamsError as err:
            return _coded(400, "unknown_team", str(err))
    note_text = _operator_text(body, "note", required=False)
    try:
        moved = await request.app[HANDOFF_KEY].desk.transfer(
            session.user.login,
            request.match_info["conversation_id"],
            to_operator_id=to_operator or None,
            to_team=to_team or None,
            note=note_text.text,
        )
    except CapacityReached as err:
        return _coded(409, "colleague_full", str(err))
    except AssignmentError as err:
        return _assignment_error(err)
    return web.json_response(moved.to_dict() | staff_notice(note_text))


async def teams_list(request: web.Request) -> web.Response:
    """The configured teams (core/teams.yml): the transfer picker's choices, with their names in both languages."""
    await _session(request, Role.OPERATOR, Role.SUPERVISOR)
    return web.json_response({"teams": configured_teams().to_list()})


async def return_to_bot(request: web.Request) -> web.Response:
    """Give the conversation back to the bot."""
    session = await _session(request, Role.OPERATOR)
    try:
        returned = await request.app[HANDOFF_KEY].desk.return_to_bot(
            session.user.login, request.match_info["conversation_id"]
        )
    except NotYours as err:
        return _assignment_error(err)
    return web.json_response(returned.to_dict())


async def close(request: web.Request) -> web.Response:
    """Close with a resolution code."""
    session = await _session(request, Role.OPERATOR)
    body = await staff_http.json_body(request)
    try:
        resolution = Resolution(str(body.get("resolution")))
    except ValueError as err:
        codes = ", ".join(r.value for r in Resolution)
        raise json_error(web.HTTPBadRequest, f"'resolution' must be one of: {codes}.") from err
    try:
        closed = await request.app[HANDOFF_KEY].desk.close(
            session.user.login, request.match_info["conversation_id"], resolution
        )
    except NotYours as err:
        return _assignment_error(err)
    return web.json_response(closed.to_dict())


async def canned_list(request: web.Request) -> web.Response:
    """Canned responses for a language."""
    await _session(request, Role.OPERATOR, Role.SUPERVISOR)
    language = request.query.get("language")
    return web.json_response({"canned": await canned.list_for(request.app[DB_KEY], language)})


async def canned_for_conversation(request: web.Request) -> web.Response:
    """The conversation's canned responses, filled in for it.

    With the customer's first name (none for a guest: `canned.render` drops it cleanly) and the
    signed-in operator's name.
    """
    session = await _session(request, Role.OPERATOR, Role.SUPERVISOR)
    db, services = request.app[DB_KEY], request.app[HANDOFF_KEY]
    conversation = await conversations.get_conversation(db, request.match_info["conversation_id"])
    if conversation is None:
        raise json_error(web.HTTPNotFound, "No such conversation.")
    name: str | None = None
    if conversation.customer_id and services.profile_source is not None:
        profile = await services.profile_source(conversation.customer_id)
        name = canned.first_name(((profile or {}).get("customer") or {}).get("full_name"))
    variables = {"name": name, "operator": session.user.display_name}
    rendered = await canned.rendered_for(db, conversation.language or "ru", variables, conversation.team)
    return web.json_response({"canned": rendered})


async def operators_list(request: web.Request) -> web.Response:
    """Colleagues with status and load; `?for=transfer` leaves out oneself and supervisors (not transfer targets)."""
    session = await _session(request, Role.OPERATOR, Role.SUPERVISOR)
    db = request.app[DB_KEY]
    found = await operators.list_operators(db)
    if request.query.get("for") == "transfer":
        supervisors = {d["_id"] async for d in db.staff.find({"roles": Role.SUPERVISOR.value}, {"_id": 1})}
        found = [o for o in found if o.id != session.user.login and o.id not in supervisors]
    return web.json_response({"operators": [o.to_dict() for o in found]})


async def callback_done(request: web.Request) -> web.Response:
    """Mark a callback task as done."""
    session = await _session(request, Role.OPERATOR)
    try:
        outcome = callbacks.Outcome(str((await staff_http.json_body(request)).get("outcome")))
    except ValueError:
        codes = ", ".join(o.value for o in callbacks.Outcome)
        return _coded(400, "bad_outcome", f"'outcome' must be one of: {codes}.")
    done = await callbacks.complete_task(
        request.app[DB_KEY],
        request.match_info["task_id"],
        operator_id=session.user.login,
        outcome=outcome,
        now=datetime.now(UTC),
    )
    if not done:
        return _coded(409, "task_done", "This task is not open any more.")
    return web.json_response({"done": True, "outcome": outcome.value})


async def live_socket(request: web.Request) -> web.WebSocketResponse:
    """The console's live feed; `?after=<seq>` replays what was missed while disconnected."""
    session = await _session(request, Role.OPERATOR, Role.SUPERVISOR)
    origin = request.headers.get("Origin")
    if origin is not None and origin != f"{request.scheme}://{request.host}":
        # Browsers send cookies with cross-site websocket handshakes; the origin check is the CSRF defence here.
        raise json_error(web.HTTPForbidden, "Cross-origin console connections are refused.")
    after = json_body.parse_int(request.query.get("after"), "after")
    socket = web.WebSocketResponse(heartbeat=20)
    await socket.prepare(request)
    await request.app[HANDOFF_KEY].hub.serve(socket, session.user.login, after)
    return socket


def setup_routes(app: web.Application) -> None:
    """Every route of the console and the supervisor view, named."""
    add = app.router
    add.add_get("/console", console_page, name="console_page")
    add.add_get("/console/c/{conversation_id}", console_page, name="console_conversation_page")
    WEB_DIST.mkdir(parents=True, exist_ok=True)  # aiohttp needs the folder; built_page says when it is empty
    add.add_static("/ui", WEB_DIST, name="web_dist")
    add.add_get("/api/console/inbox", inbox_view, name="console_inbox")
    add.add_get("/api/console/inbox/rows/{conversation_id}", inbox_row, name="console_inbox_row")
    add.add_post("/api/console/sign-in", sign_in, name="console_sign_in")
    add.add_post("/api/console/sign-out", sign_out, name="console_sign_out")
    add.add_get("/api/console/me", me, name="console_me")
    add.add_post("/api/console/status", set_status, name="console_status")
    add.add_get("/api/console/queue", queue_view, name="console_queue")
    add.add_get("/api/console/operators", operators_list, name="console_operators")
    add.add_get("/api/console/canned", canned_list, name="console_canned")
    add.add_get("/api/console/teams", teams_list, name="console_teams")
    add.add_get("/api/console/live", live_socket, name="console_live")
    add.add_post("/api/console/callbacks/{task_id}/done", callback_done, name="console_callback_done")
    base = "/api/console/conversations/{conversation_id}"
    add.add_get(base, conversation_view, name="console_conversation")
    add.add_get(base + "/canned", canned_for_conversation, name="console_conversation_canned")
    add.add_post(base + "/take", take, name="console_take")
    add.add_post(base + "/accept", accept, name="console_accept")
    add.add_post(base + "/read", mark_read, name="console_read")
    add.add_post(base + "/typing", operator_typing, name="console_typing")
    add.add_post(base + "/offer-sign-in", offer_sign_in, name="console_offer_sign_in")
    add.add_post(base + "/verify-digits", verify_digits, name="console_verify_digits")
    add.add_post(base + "/cards/{last4}/block", block_card, name="console_block_card")
    add.add_post(base + "/reply", reply, name="console_reply")
    add.add_post(base + "/notes", note, name="console_note")
    add.add_post(base + "/transfer", transfer, name="console_transfer")
    add.add_post(base + "/return-to-bot", return_to_bot, name="console_return_to_bot")
    add.add_post(base + "/close", close, name="console_close")
