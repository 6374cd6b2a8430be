"""Staff sessions a copy of the database cannot use, and a sign-in another site cannot submit.

Issue 19, finding 13: session and CSRF tokens were stored in clear as document ids (a read of the
database was a sign-in as anyone on shift), and the sign-in took a text/plain body, which any site's
form can post (login CSRF: the victim works in the attacker's account and types customers' data into it).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import aiohttp
import pytest
from pymongo import AsyncMongoClient

from core.stack import Stack
from handoff.setup import DEMO_STAFF_PASSWORD

SIGN_IN = "/api/console/sign-in"
CREDENTIALS = {"login": "kate", "password": DEMO_STAFF_PASSWORD}


async def session_documents(stack: Stack) -> list[dict[str, Any]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.mongodb_uri)
    try:
        return [doc async for doc in client[stack.mongodb_db].staff_sessions.find({})]
    finally:
        await client.close()


async def test_the_database_keeps_neither_the_session_token_nor_the_csrf_token(stack: Stack) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.post(stack.gateway_url + SIGN_IN, json=CREDENTIALS) as resp:
            assert resp.status == 200, await resp.text()
            token = resp.cookies["cc_staff"].value
            csrf = (await resp.json())["csrf"]
        stored = json.dumps(await session_documents(stack), default=str)
        assert token not in stored and csrf not in stored
        assert hashlib.sha256(token.encode()).hexdigest() in stored

        # The page still works: after a reload it gets the same CSRF token and changes things with it.
        async with http.get(stack.gateway_url + "/api/console/me") as resp:
            assert resp.status == 200 and (await resp.json())["csrf"] == csrf
        url = stack.gateway_url + "/api/console/status"
        async with http.post(url, json={"status": "offline"}, headers={"X-CSRF-Token": "wrong"}) as resp:
            assert resp.status == 403
        async with http.post(url, json={"status": "offline"}, headers={"X-CSRF-Token": csrf}) as resp:
            assert resp.status == 200, await resp.text()

        # Signing out removes the hashed session: the cookie no longer opens anything.
        async with http.post(stack.gateway_url + "/api/console/sign-out", headers={"X-CSRF-Token": csrf}) as resp:
            assert resp.status == 200
    async with (
        aiohttp.ClientSession(cookies={"cc_staff": token}) as replay,
        replay.get(stack.gateway_url + "/api/console/me") as resp,
    ):
        assert resp.status == 401


@pytest.mark.parametrize("path", [SIGN_IN, "/api/kb/sign-in"])
@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/plain", json.dumps(CREDENTIALS)),  # what <form enctype="text/plain"> sends, no preflight
        ("application/x-www-form-urlencoded", "login=kate&password=" + DEMO_STAFF_PASSWORD),
        ("multipart/form-data; boundary=x", '--x\r\nContent-Disposition: form-data; name="login"\r\n\r\nkate\r\n--x--'),
    ],
    ids=["text-plain", "urlencoded", "multipart"],
)
async def test_a_sign_in_that_a_form_on_another_site_could_send_is_refused(
    stack: Stack, path: str, content_type: str, body: str
) -> None:
    headers = {"Content-Type": content_type}
    async with (
        aiohttp.ClientSession() as http,
        http.post(stack.gateway_url + path, data=body.encode(), headers=headers) as resp,
    ):
        assert resp.status == 415
        assert "as JSON" in (await resp.json())["error"]
        assert "cc_staff" not in resp.cookies


@pytest.mark.parametrize(
    "headers",
    [{"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}, {"Origin": "null"}],
    ids=["other-origin", "cross-site-fetch", "opaque-origin"],
)
async def test_a_json_sign_in_from_another_site_is_refused(stack: Stack, headers: dict[str, str]) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.post(stack.gateway_url + SIGN_IN, json=CREDENTIALS, headers=headers) as resp,
    ):
        assert resp.status == 403
        assert "cc_staff" not in resp.cookies


async def test_the_platforms_own_page_signs_in_with_its_origin(stack: Stack) -> None:
    origin = {"Origin": stack.gateway_url, "Sec-Fetch-Site": "same-origin"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(stack.gateway_url + SIGN_IN, json=CREDENTIALS, headers=origin) as resp,
    ):
        assert resp.status == 200, await resp.text()


@pytest.mark.parametrize(
    "credentials",
    [{"login": "k" * 65, "password": "x"}, {"login": "kate", "password": "p" * 200_000}],
    ids=["long-login", "huge-password"],
)
async def test_oversized_credentials_are_refused_before_any_work(stack: Stack, credentials: dict[str, str]) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.post(stack.gateway_url + SIGN_IN, json=credentials) as resp,
    ):
        assert resp.status in (400, 413)
        assert "cc_staff" not in resp.cookies
