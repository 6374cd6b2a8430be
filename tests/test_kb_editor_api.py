"""A content editor signs in, edits and publishes; others cannot; the public search sees the change."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from core.app import create_app
from core.settings import Settings
from handoff.setup import DEMO_STAFF_PASSWORD
from knowledge_base.setup import DEMO_EDITOR_LOGIN, DEMO_EDITOR_PASSWORD

pytest_plugins = ("tests.kb_support",)


async def _signed_in(client: TestClient[Any, Any], login: str, password: str) -> dict[str, Any]:
    resp = await client.post("/api/kb/sign-in", json={"login": login, "password": password})
    assert resp.status == 200, await resp.text()
    body: dict[str, Any] = await resp.json()
    return body


async def test_editor_story_and_the_rules_around_it(aiohttp_client, kb_settings: Settings) -> None:  # type: ignore[no-untyped-def]
    client: TestClient[Any, Any] = await aiohttp_client(create_app(kb_settings))

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
    # The article is published: the edit waits for Publish, and customers still get the old answer.
    assert saved_body["pending"]["answer"]["ru"] == "Новый ПИН задаётся в приложении <b>за минуту</b>."
    assert saved_body["answer"] == article["answer"] and saved_body["status"] == "published"

    # A colleague who loaded the old version is told to reload.
    stale = await client.put("/api/kb/articles/pin_forgotten", json=dict(edited, tags=["x"]), headers=headers)
    assert stale.status == 409
    assert "Reload" in (await stale.json())["error"]

    history = await (await client.get("/api/kb/articles/pin_forgotten/history")).json()
    assert [(h["version"], h["pending"]) for h in history["history"]] == [
        (saved_body["version"], True),
        (article["version"], False),
    ]
    # Rolling back to the published version leaves nothing pending.
    rolled = await client.post(
        "/api/kb/articles/pin_forgotten/rollback",
        json={"version": saved_body["version"], "to_version": article["version"]},
        headers=headers,
    )
    rolled_body = await rolled.json()
    assert rolled_body["answer"] == article["answer"] and rolled_body["pending"] is None

    # Another edit, then Discard: the pending text is dropped, the answer never changed.
    again = await client.put(
        "/api/kb/articles/pin_forgotten", json=dict(edited, version=rolled_body["version"]), headers=headers
    )
    again_body = await again.json()
    discard_url = "/api/kb/articles/pin_forgotten/discard"
    discarded = await client.post(discard_url, json={"version": again_body["version"]}, headers=headers)
    discarded_body = await discarded.json()
    assert discarded_body["pending"] is None and discarded_body["answer"] == article["answer"]
    nothing = await client.post(discard_url, json={"version": discarded_body["version"]}, headers=headers)
    assert nothing.status == 409 and "no unpublished changes" in (await nothing.json())["error"]

    # Edit and publish: now the new answer is the article's answer.
    final = await client.put(
        "/api/kb/articles/pin_forgotten", json=dict(edited, version=discarded_body["version"]), headers=headers
    )
    published = await client.post(
        "/api/kb/articles/pin_forgotten/publish", json={"version": (await final.json())["version"]}, headers=headers
    )
    published_body = await published.json()
    assert published_body["answer"]["ru"] == "Новый ПИН задаётся в приложении <b>за минуту</b>."
    assert published_body["pending"] is None

    exported = await client.get("/api/kb/export", params={"format": "csv"})
    assert exported.status == 200 and "pin_forgotten" in await exported.text()

    page = await client.get("/kb/editor")
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
