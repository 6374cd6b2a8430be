"""Canned responses managed by supervisors in the browser: list, create, edit, delete, preview.

Each response has a language and optionally a team (only that team's conversations offer it). Its text may
use the variables in `VARIABLES`; the preview fills them for a known customer and for a guest, so the
supervisor sees that an empty name leaves no gap, and names any variable the console cannot fill.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from core import staff_http
from core.keys import DB_KEY
from core.staff import Role, StaffSession
from core.teams import configured_teams
from handoff import canned

# What the console fills in: the customer's first name (none for a guest) and the operator's name.
VARIABLES = ("name", "operator")
LANGUAGES = ("ru", "en")
_MAX_TITLE_CHARS = 80
_MAX_TEXT_CHARS = 2000
_SAMPLE_NAMES = {"ru": "Иван", "en": "John"}


def _coded(status: int, code: str, message: str, **params: object) -> web.Response:
    return web.json_response({"error": message, "code": code, "params": params}, status=status)


async def _supervisor(request: web.Request) -> StaffSession:
    return await staff_http.require_staff(request, request.app[DB_KEY], Role.SUPERVISOR)


def unknown_variables(text: str) -> list[str]:
    """Variables in a template that the console cannot fill."""
    return sorted({name for name in re.findall(r"\{(\w+)\}", text) if name not in VARIABLES})


def _checked(body: dict[str, Any]) -> dict[str, Any] | web.Response:
    title, text, language, team = body.get("title"), body.get("text"), body.get("language"), body.get("team")
    if not isinstance(title, str) or not title.strip() or len(title) > _MAX_TITLE_CHARS:
        return _coded(400, "bad_title", f"'title' must be 1-{_MAX_TITLE_CHARS} characters.", max=_MAX_TITLE_CHARS)
    if not isinstance(text, str) or not text.strip() or len(text) > _MAX_TEXT_CHARS:
        return _coded(400, "bad_text", f"'text' must be 1-{_MAX_TEXT_CHARS} characters.", max=_MAX_TEXT_CHARS)
    if language not in LANGUAGES:
        return _coded(400, "bad_language", "'language' must be ru or en.")
    if team not in (None, "") and team not in configured_teams():
        return _coded(400, "unknown_team", f"Unknown team; choose one of: {', '.join(configured_teams().names)}.")
    unknown = unknown_variables(text)
    if unknown:
        listed = ", ".join("{" + v + "}" for v in unknown)
        return _coded(400, "unknown_variables", f"Unknown variables: {listed}.", variables=listed)
    return {"title": title.strip(), "text": text.strip(), "language": language, "team": team or None}


def _out(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": doc["_id"],
        "title": doc["title"],
        "text": doc["text"],
        "language": doc["language"],
        "team": doc.get("team"),
        "updated_by": doc.get("updated_by"),
    }


async def list_all(request: web.Request) -> web.Response:
    """Every canned response, by language and title."""
    await _supervisor(request)
    docs = await request.app[DB_KEY].canned_responses.find({}).sort([("language", 1), ("title", 1)]).to_list()
    return web.json_response({"canned": [_out(d) for d in docs], "variables": list(VARIABLES)})


async def create(request: web.Request) -> web.Response:
    """Add a canned response."""
    session = await _supervisor(request)
    fields = _checked(await staff_http.json_body(request))
    if isinstance(fields, web.Response):
        return fields
    doc = {"_id": uuid.uuid4().hex, **fields, "updated_by": session.user.login, "updated_at": datetime.now(UTC)}
    await request.app[DB_KEY].canned_responses.insert_one(dict(doc))
    return web.json_response(_out(doc), status=201)


async def update(request: web.Request) -> web.Response:
    """Edit a canned response."""
    session = await _supervisor(request)
    fields = _checked(await staff_http.json_body(request))
    if isinstance(fields, web.Response):
        return fields
    db = request.app[DB_KEY]
    changes = {**fields, "updated_by": session.user.login, "updated_at": datetime.now(UTC)}
    result = await db.canned_responses.update_one({"_id": request.match_info["canned_id"]}, {"$set": changes})
    if result.matched_count == 0:
        return _coded(404, "not_found", "No such canned response.")
    return web.json_response(_out({"_id": request.match_info["canned_id"], **changes}))


async def delete(request: web.Request) -> web.Response:
    """Remove a canned response."""
    await _supervisor(request)
    result = await request.app[DB_KEY].canned_responses.delete_one({"_id": request.match_info["canned_id"]})
    return web.json_response({"deleted": result.deleted_count == 1})


async def preview(request: web.Request) -> web.Response:
    """The text as a known customer and as a guest would read it, and the variables nobody fills."""
    session = await _supervisor(request)
    body = await staff_http.json_body(request)
    text, language = body.get("text"), body.get("language")
    if not isinstance(text, str) or len(text) > _MAX_TEXT_CHARS or language not in LANGUAGES:
        return _coded(400, "bad_text", "Give 'text' and 'language' (ru or en).", max=_MAX_TEXT_CHARS)
    operator = session.user.display_name
    return web.json_response(
        {
            "sample_name": _SAMPLE_NAMES[language],
            "customer": canned.render(text, {"name": _SAMPLE_NAMES[language], "operator": operator}, language),
            "guest": canned.render(text, {"name": None, "operator": operator}, language),
            "unknown_variables": unknown_variables(text),
        }
    )


def setup_routes(app: web.Application) -> None:
    """The supervisors' canned-response routes, named."""
    add = app.router
    add.add_get("/api/supervisor/canned", list_all, name="supervisor_canned")
    add.add_post("/api/supervisor/canned", create, name="supervisor_canned_create")
    add.add_post("/api/supervisor/canned/preview", preview, name="supervisor_canned_preview")
    add.add_put("/api/supervisor/canned/{canned_id}", update, name="supervisor_canned_update")
    add.add_delete("/api/supervisor/canned/{canned_id}", delete, name="supervisor_canned_delete")
