"""The front page at `/`.

In local runs a page that leads to every part of the platform with the demo accounts; in production `/` is
the customers' door, so it redirects to the web chat.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from connectors.webchat import DEMO_CUSTOMERS
from core.keys import DB_KEY, SETTINGS_KEY
from handoff.console import built_page
from handoff.setup import DEMO_STAFF_LOGINS, DEMO_STAFF_PASSWORD
from knowledge_base.setup import DEMO_EDITOR_LOGIN, DEMO_EDITOR_PASSWORD

# Which staff role opens which page.
_PAGE_ROLES = {"console": ("operator", "supervisor"), "supervisor": ("supervisor",), "editor": ("content_editor",)}
_PAGE_HREFS = {"chat": "/chat", "console": "/console", "supervisor": "/supervisor", "editor": "/kb/editor"}


async def front_page(request: web.Request) -> web.StreamResponse:
    """The front page (local runs), or a redirect to the web chat."""
    if request.app[SETTINGS_KEY].env != "local":
        raise web.HTTPFound("/chat")
    return built_page("home")


async def home_api(request: web.Request) -> web.Response:
    """The pages and, when this gateway seeded them, the demo accounts that open each one."""
    settings = request.app[SETTINGS_KEY]
    if settings.env != "local":
        return web.json_response({"error": "The front page's list exists in local runs only."}, status=404)
    staff: list[dict[str, Any]] = []
    if settings.demo_staff:
        logins = [*DEMO_STAFF_LOGINS, DEMO_EDITOR_LOGIN]
        found = {d["_id"]: d async for d in request.app[DB_KEY].staff.find({"_id": {"$in": logins}})}
        for login in logins:
            if login in found:
                doc = found[login]
                staff.append(
                    {
                        "login": login,
                        "name": doc.get("display_name") or login,
                        "roles": sorted(doc.get("roles") or []),
                        "password": "editor" if login == DEMO_EDITOR_LOGIN else "staff",
                    }
                )
    pages: list[dict[str, Any]] = [
        {
            "id": "chat",
            "href": _PAGE_HREFS["chat"],
            "accounts": [{"login": key, "name": name} for key, name in DEMO_CUSTOMERS.items()]
            if settings.demo_sign_in
            else [],
        }
    ]
    for page, roles in _PAGE_ROLES.items():
        accounts = [a for a in staff if any(r in roles for r in a["roles"])]
        pages.append({"id": page, "href": _PAGE_HREFS[page], "accounts": accounts})
    passwords = {"staff": DEMO_STAFF_PASSWORD, "editor": DEMO_EDITOR_PASSWORD} if settings.demo_staff else {}
    return web.json_response({"demo": bool(staff), "pages": pages, "passwords": passwords})


def setup_routes(app: web.Application) -> None:
    """`/` and the list it shows."""
    app.router.add_get("/", front_page, name="front_page")
    app.router.add_get("/api/home", home_api, name="home_api")
