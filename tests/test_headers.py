"""Every page and every JSON answer of the running gateway carries CSP with frame-ancestors and nosniff, and no version.

Staff pages must not run inside someone else's frame or without their policy, also where a copy of
the HTML lies among static files; the customer chat may be framed only by the configured origins.
"""

from __future__ import annotations

import aiohttp
import pytest

from core.settings import LOCAL_REST_API_KEY
from core.stack import Stack

STAFF_PAGES = ["/console", "/supervisor", "/kb/editor", "/ui/console/index.html", "/kb/static/editor.html"]
JSON_ANSWERS = ["/health", "/api/kb/search?q=баланс", "/api/console/me", "/chat/config", "/no/such/page"]


async def headers_of(stack: Stack, path: str, method: str = "GET") -> tuple[int, dict[str, str]]:
    async with aiohttp.ClientSession() as http, http.request(method, stack.gateway_url + path) as resp:
        await resp.read()
        return resp.status, dict(resp.headers)


def directives(policy: str) -> dict[str, str]:
    """A CSP header as {directive: sources}."""
    pairs = (part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
    return {name: (rest[0] if rest else "") for name, *rest in pairs}


@pytest.mark.parametrize("path", STAFF_PAGES)
async def test_staff_pages_and_their_static_copies_refuse_frames_and_inline_script(stack: Stack, path: str) -> None:
    status, headers = await headers_of(stack, path)
    assert status < 500 or status == 503, status  # 503: the front-end was not built; the headers still count
    policy = directives(headers["Content-Security-Policy"])
    assert policy["frame-ancestors"] == "'none'"
    assert "'unsafe-inline'" not in policy.get("script-src", policy.get("default-src", ""))
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize("path", JSON_ANSWERS)
async def test_json_answers_and_errors_are_never_sniffed_framed_or_run(stack: Stack, path: str) -> None:
    _, headers = await headers_of(stack, path)
    assert headers["X-Content-Type-Options"] == "nosniff"
    policy = directives(headers["Content-Security-Policy"])
    assert policy["default-src"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"


async def test_the_customer_chat_may_be_framed_only_by_its_own_site(stack: Stack) -> None:
    _, headers = await headers_of(stack, "/chat")
    policy = directives(headers["Content-Security-Policy"])
    assert policy["frame-ancestors"] == "'self'"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "X-Frame-Options" not in headers


@pytest.mark.parametrize("path", ["/health", "/chat", "/ui/console/app.js", "/no/such/page"])
async def test_no_answer_names_the_server_software_or_its_version(stack: Stack, path: str) -> None:
    _, headers = await headers_of(stack, path)
    assert "aiohttp" not in headers.get("Server", "").lower()
    assert "python" not in headers.get("Server", "").lower()


@pytest.mark.parametrize(
    "path", ["/api/kb/search?q=баланс", "/api/console/me", "/api/supervisor/figures", "/chat/config"]
)
async def test_json_answers_are_never_kept_by_a_browser_or_proxy(stack: Stack, path: str) -> None:
    _, headers = await headers_of(stack, path)
    assert headers["Cache-Control"] == "no-store"


async def test_a_customers_turn_with_their_balance_is_never_cached(stack: Stack) -> None:
    body = {"sender": "no-store-check", "text": "баланс"}
    auth = {"Authorization": f"Bearer {LOCAL_REST_API_KEY}"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(stack.gateway_url + "/api/channels/rest/messages", json=body, headers=auth) as resp,
    ):
        assert resp.status == 200, await resp.text()
        assert resp.headers["Cache-Control"] == "no-store"
