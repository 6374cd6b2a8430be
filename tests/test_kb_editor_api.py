"""A content editor signs in, edits and publishes; others cannot; the public search sees the change."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from core.app import create_app
from core.settings import Settings
from handoff.setup import DEMO_STAFF_PASSWORD
from knowledge_base.setup import DEMO_EDITOR_LOGIN, DEMO_EDITOR_PASSWORD

pytest_plugins = ("tests.kb_support",)


async def _signed_in(client: TestClient, login: str, password: str) -> dict[str, Any]:
    resp = await client.post("/api/kb/sign-in", json={"login": login, "password": password})
    assert resp.status == 200, await resp.text()
    body: dict[str, Any] = await resp.json()
    return body


async def test_editor_story_and_the_rules_around_it(aiohttp_client, kb_settings: Settings) -> None:  # type: ignore[no-untyped-def]
    client: TestClient = await aiohttp_client(create_app(kb_settings))

    # Anybody may search published articles.
    found = await (await client.get("/api/kb/search", params={"q": "забыл пин", "lang": "ru", "limit": "3"})).json()
    assert found["results"][0]["id"] == "pin_forgotten"
    assert set(found["results"][0]) == {"id", "title", "score"}
    odd = await client.get("/api/kb/search", params={"q": '{"$ne": null}', "lang": "en"})
    assert odd.status == 200

    # An operator cannot sign in to the editor, and nobody edits without signing in.
    refused = await client.post("/api/kb/sign-in", json={"login": "olga", "password": DEMO_STAFF_PASSWORD})
    assert refused.status == 401
    assert (await client.put("/api/kb/articles/pin_forgotten", json={})).status == 401

    me = await _signed_in(client, DEMO_EDITOR_LOGIN, DEMO_EDITOR_PASSWORD)
    article = await (await client.get("/api/kb/articles/pin_forgotten")).json()
    edited = dict(
        article, answer={"ru": "Новый ПИН задаётся в приложении <b>за минуту</b>.", "en": "Set it in the app."}
    )

    # Without the CSRF token the save is refused.
    assert (await client.put("/api/kb/articles/pin_forgotten", json=edited)).status == 403

    headers = {"X-CSRF-Token": me["csrf"]}
    saved = await client.put("/api/kb/articles/pin_forgotten", json=edited, headers=headers)
    assert saved.status == 200
    saved_body = await saved.json()
    assert saved_body["answer"]["ru"] == "Новый ПИН задаётся в приложении <b>за минуту</b>."

    # A colleague who loaded the old version is told to reload.
    stale = await client.put("/api/kb/articles/pin_forgotten", json=dict(edited, tags=["x"]), headers=headers)
    assert stale.status == 409
    assert "Reload" in (await stale.json())["error"]

    history = await (await client.get("/api/kb/articles/pin_forgotten/history")).json()
    assert [h["version"] for h in history["history"]] == [saved_body["version"], article["version"]]
    rolled = await client.post(
        "/api/kb/articles/pin_forgotten/rollback",
        json={"version": saved_body["version"], "to_version": article["version"]},
        headers=headers,
    )
    assert (await rolled.json())["answer"] == article["answer"]

    exported = await client.get("/api/kb/export", params={"format": "csv"})
    assert exported.status == 200 and "pin_forgotten" in await exported.text()

    page = await client.get("/kb/editor")
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
