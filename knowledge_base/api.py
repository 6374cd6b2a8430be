"""The knowledge base over HTTP: public search, the editor's JSON API behind the content_editor role, and its page."""

from __future__ import annotations

import csv
import json
import logging
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from core import json_body, staff_http
from core.keys import DB_KEY, KB_KEY, SETTINGS_KEY
from core.staff import Role, StaffSession
from core.staff_http import json_error
from knowledge_base import seed, store
from knowledge_base.models import LANGUAGES, Article, ArticleError, ArticleStatus, article_from_input

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
# Imports are whole KB files; 2 MiB holds thousands of articles.
_MAX_IMPORT_BYTES = 2 * 1024 * 1024
# No inline script may run, so even an escaping bug could not execute article or customer text.
_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "connect-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


def _now() -> datetime:
    return datetime.now(UTC)


async def _editor(request: web.Request) -> StaffSession:
    return await staff_http.require_staff(request, request.app[DB_KEY], Role.CONTENT_EDITOR)


def _int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise json_error(web.HTTPBadRequest, f"'{name}' must be an integer (the version you loaded).")
    return value


def _lang(value: str | None) -> str:
    if value not in LANGUAGES:
        raise json_error(web.HTTPBadRequest, "'lang' must be ru or en.")
    return value


def _article_json(article: Article) -> dict[str, Any]:
    doc = article.to_doc()
    doc["id"] = doc.pop("_id")
    doc["updated_at"] = article.updated_at.isoformat()
    return doc


async def _run(coro: Any) -> Any:
    """Translate the store's domain errors into HTTP answers."""
    try:
        return await coro
    except store.ArticleNotFound as err:
        raise json_error(web.HTTPNotFound, str(err)) from err
    except store.VersionConflict as err:
        raise json_error(web.HTTPConflict, str(err)) from err
    except (store.ArticleExists, store.NothingPending) as err:
        raise json_error(web.HTTPConflict, str(err)) from err
    except ArticleError as err:
        # The code and its values let the editor say it in the page's language; `error` stays for other clients.
        body = {"error": str(err), "code": err.code, "params": err.params}
        raise web.HTTPBadRequest(text=json.dumps(body), content_type="application/json") from err


async def editor_page(request: web.Request) -> web.FileResponse:
    """The editor's single page (it signs in through the API)."""
    return web.FileResponse(STATIC_DIR / "editor.html", headers=_PAGE_HEADERS)


async def sign_in(request: web.Request) -> web.Response:
    """Sign in with the content_editor role."""
    secure = request.app[SETTINGS_KEY].env != "local"
    return await staff_http.sign_in(request, request.app[DB_KEY], Role.CONTENT_EDITOR, secure_cookie=secure)


async def sign_out(request: web.Request) -> web.Response:
    """End the session."""
    return await staff_http.sign_out(request, request.app[DB_KEY])


async def me(request: web.Request) -> web.Response:
    """Who is signed in and the CSRF token."""
    return web.json_response(staff_http.session_payload(await _editor(request)))


async def search(request: web.Request) -> web.Response:
    """Public search over published articles: {"results": [{"id", "title", "score"}]} best first."""
    text = request.query.get("q", "")
    lang = _lang(request.query.get("lang", "ru"))
    try:
        limit = max(1, min(int(request.query.get("limit", "5")), 50))
    except ValueError as err:
        raise json_error(web.HTTPBadRequest, "'limit' must be an integer from 1 to 50.") from err
    result = await request.app[KB_KEY].query(text, lang, limit)
    return web.json_response(
        {
            "results": [{"id": h.id, "title": h.title, "score": h.score} for h in result.hits],
            "decision": result.decision.value,
        }
    )


async def try_question(request: web.Request) -> web.Response:
    """The editor's "try a question": ranked articles with every score and the bot's decision."""
    await _editor(request)
    lang = _lang(request.query.get("lang", "ru"))
    kb = request.app[KB_KEY]
    result = await kb.query(request.query.get("q", ""), lang, 10)
    return web.json_response(
        {
            "results": [asdict(h) for h in result.hits],
            "decision": result.decision.value,
            # The calibrated decision's probabilities (docs/content.md, "Reading the scores").
            "confidence": result.confidence,
            "relevance": result.relevance,
            "alternatives": [h.id for h in result.alternatives],
            "thresholds": asdict(kb.config.thresholds),
            "weights": asdict(kb.config.weights),
            "index_version": kb.index.version,
        }
    )


async def list_articles(request: web.Request) -> web.Response:
    """Articles, filtered by status, tag and text."""
    await _editor(request)
    raw_status = request.query.get("status") or None
    if raw_status is not None and raw_status not in {s.value for s in ArticleStatus}:
        raise json_error(web.HTTPBadRequest, "'status' must be draft, published or archived.")
    articles = await store.list_articles(
        request.app[DB_KEY],
        status=ArticleStatus(raw_status) if raw_status else None,
        tag=request.query.get("tag") or None,
        text=request.query.get("q") or None,
    )
    votes = await store.helpfulness(request.app[DB_KEY], [a.id for a in articles])
    return web.json_response(
        {"articles": [_article_json(a) | {"helpfulness": _helpfulness_json(votes.get(a.id))} for a in articles]}
    )


def _helpfulness_json(votes: store.Helpfulness | None) -> dict[str, Any]:
    """Customers' "Помогло / Не помогло" votes on the article's answers (issue 20)."""
    votes = votes or store.Helpfulness(helpful=0, not_helpful=0)
    return {"helpful": votes.helpful, "not_helpful": votes.not_helpful, "share": votes.share}


async def get_article(request: web.Request) -> web.Response:
    """One article (editor view: any status)."""
    await _editor(request)
    article = await _run(store.get_article(request.app[DB_KEY], request.match_info["article_id"]))
    return web.json_response(_article_json(article))


async def create_article(request: web.Request) -> web.Response:
    """Create an article as a draft."""
    session = await _editor(request)
    body = await staff_http.json_body(request)
    article = await _run(_create(request, body, session))
    return web.json_response(_article_json(article), status=201)


async def _create(request: web.Request, body: dict[str, Any], session: StaffSession) -> Article:
    article = article_from_input(body)
    return await store.create_article(request.app[DB_KEY], article, by=session.user.login, now=_now())


async def update_article(request: web.Request) -> web.Response:
    """Save an edit; the body carries the version the editor loaded (409 when someone saved in between)."""
    session = await _editor(request)
    body = await staff_http.json_body(request)
    expected = _int(body.get("version"), "version")
    article_id = request.match_info["article_id"]

    async def save() -> Article:
        article = article_from_input(body, article_id=article_id)
        return await store.save_article(
            request.app[DB_KEY], article, expected_version=expected, by=session.user.login, now=_now()
        )

    return web.json_response(_article_json(await _run(save())))


async def _change_status(request: web.Request, status: ArticleStatus, action: str) -> web.Response:
    session = await _editor(request)
    body = await staff_http.json_body(request)
    expected = _int(body.get("version"), "version")
    changed = store.change_status(
        request.app[DB_KEY],
        request.match_info["article_id"],
        status,
        expected_version=expected,
        by=session.user.login,
        now=_now(),
        action=action,
    )
    return web.json_response(_article_json(await _run(changed)))


async def publish(request: web.Request) -> web.Response:
    """Publish (pending changes included): the bot answers with this text within seconds."""
    return await _change_status(request, ArticleStatus.PUBLISHED, "publish")


async def archive(request: web.Request) -> web.Response:
    """Archive: the bot stops using the article; its history stays."""
    return await _change_status(request, ArticleStatus.ARCHIVED, "archive")


async def discard_changes(request: web.Request) -> web.Response:
    """Drop a published article's unpublished changes; the bot's answer never changed."""
    session = await _editor(request)
    body = await staff_http.json_body(request)
    discarded = store.discard_pending(
        request.app[DB_KEY],
        request.match_info["article_id"],
        expected_version=_int(body.get("version"), "version"),
        by=session.user.login,
        now=_now(),
    )
    return web.json_response(_article_json(await _run(discarded)))


async def article_history(request: web.Request) -> web.Response:
    """Every version: who, when, what changed."""
    await _editor(request)
    entries = await store.history(request.app[DB_KEY], request.match_info["article_id"])
    return web.json_response(
        {"history": [asdict(e) | {"at": e.at.isoformat()} for e in entries]},
    )


async def article_version(request: web.Request) -> web.Response:
    """The content of one past version (preview before a rollback)."""
    await _editor(request)
    version = json_body.required_int(request.match_info["version"], "version", minimum=1)
    snapshot = await _run(store.version_snapshot(request.app[DB_KEY], request.match_info["article_id"], version))
    return web.json_response(snapshot)


async def rollback(request: web.Request) -> web.Response:
    """Make an old version's content the newest version (history is never rewritten).

    For a published article this is a pending change like any edit: Publish makes it live.
    """
    session = await _editor(request)
    body = await staff_http.json_body(request)
    expected = _int(body.get("version"), "version")
    target = _int(body.get("to_version"), "to_version")
    db = request.app[DB_KEY]
    article_id = request.match_info["article_id"]

    async def roll() -> Article:
        snapshot = await store.version_snapshot(db, article_id, target)
        article = article_from_input(snapshot, article_id=article_id)
        return await store.save_article(
            db, article, expected_version=expected, by=session.user.login, now=_now(), action=f"rollback to v{target}"
        )

    return web.json_response(_article_json(await _run(roll())))


async def export(request: web.Request) -> web.Response:
    """All articles as YAML (the seed's format) or CSV."""
    await _editor(request)
    articles = await store.list_articles(request.app[DB_KEY])
    if request.query.get("format", "yaml") == "csv":
        return web.Response(
            text=seed.to_csv(articles),
            content_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="kb.csv"'},
        )
    return web.Response(
        text=seed.to_yaml(articles),
        content_type="application/yaml",
        headers={"Content-Disposition": 'attachment; filename="kb.yaml"'},
    )


async def import_articles(request: web.Request) -> web.Response:
    """Import YAML or CSV: new ids become drafts, changes to existing ones wait for Publish, unchanged are skipped."""
    session = await _editor(request)
    # Streamed past the app's 256 KiB body limit; one read() returns only what has arrived so far.
    raw = bytearray()
    while chunk := await request.content.read(64 * 1024):
        raw += chunk
        if len(raw) > _MAX_IMPORT_BYTES:
            raise web.HTTPRequestEntityTooLarge(
                max_size=_MAX_IMPORT_BYTES,
                actual_size=len(raw),
                text=json.dumps({"error": "The file is larger than 2 MiB; split it."}),
                content_type="application/json",
            )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise json_error(web.HTTPBadRequest, "The file must be UTF-8 text.") from err
    fmt = request.query.get("format", "yaml")

    async def do_import() -> dict[str, int]:
        try:
            articles = seed.articles_from_csv(text) if fmt == "csv" else seed.articles_from_yaml(text)
            for article in articles:
                json_body.check_strings(article.to_doc())  # YAML's "\ud800" escapes give lone surrogates
        except csv.Error as err:
            # Fields over the csv module's limit (128 KiB) and broken quoting end here.
            raise json_error(web.HTTPBadRequest, f"The CSV file cannot be read: {err}.") from err
        except json_body.BadInput as err:
            raise json_error(web.HTTPBadRequest, str(err)) from err
        except RecursionError as err:
            # PyYAML composes nested collections recursively ("[[[[..." thousands deep, found by bench/fuzz.py).
            raise json_error(web.HTTPBadRequest, "The file nests lists or maps too deeply.") from err
        except ArticleError:
            raise
        except ValueError as err:
            # A YAML integer over Python's 4,300-digit conversion limit (found by the fuzz test).
            raise json_error(web.HTTPBadRequest, f"The file holds a value that cannot be read: {err}.") from err
        return await store.import_articles(
            request.app[DB_KEY], articles, by=session.user.login, now=_now(), publish=False
        )

    return web.json_response(await _run(do_import()))


async def unanswered(request: web.Request) -> web.Response:
    """The inbox of questions the bot could not answer."""
    await _editor(request)
    items = await store.list_unanswered(request.app[DB_KEY])
    return web.json_response(
        {
            "unanswered": [
                asdict(u) | {"first_at": u.first_at.isoformat(), "last_at": u.last_at.isoformat()} for u in items
            ]
        }
    )


async def resolve_unanswered(request: web.Request) -> web.Response:
    """Close an inbox item: optionally add its text as a question of an existing article first."""
    session = await _editor(request)
    body = await staff_http.json_body(request)
    key = request.match_info["key"]
    if not store.is_unanswered_key(key):
        raise json_error(web.HTTPNotFound, "No such unanswered question.")
    article_id = body.get("article_id")
    if not isinstance(article_id, str):
        raise json_error(web.HTTPBadRequest, "'article_id' is required.")
    db = request.app[DB_KEY]
    question = body.get("add_question")

    async def resolve() -> None:
        article = await store.get_article(db, article_id)
        if isinstance(question, str) and question.strip():
            lang = _lang(body.get("lang", "ru"))
            working = article.working_content()
            questions = dict(working["questions"])
            questions[lang] = [*questions.get(lang, []), question.strip()]
            changed = article_from_input(working | {"questions": questions}, article_id=article_id)
            await store.save_article(
                db,
                changed,
                expected_version=_int(body.get("version"), "version"),
                by=session.user.login,
                now=_now(),
                action="add question from inbox",
            )
        await store.resolve_unanswered(db, key, by=session.user.login, article_id=article_id, now=_now())

    await _run(resolve())
    return web.json_response({"ok": True})


def setup_routes(app: web.Application) -> None:
    """Every route of the knowledge base, named."""
    add = app.router
    add.add_get("/kb/editor", editor_page, name="kb_editor_page")
    add.add_static("/kb/static", STATIC_DIR, name="kb_static")
    add.add_get("/api/kb/search", search, name="kb_search")
    add.add_post("/api/kb/sign-in", sign_in, name="kb_sign_in")
    add.add_post("/api/kb/sign-out", sign_out, name="kb_sign_out")
    add.add_get("/api/kb/me", me, name="kb_me")
    add.add_get("/api/kb/try", try_question, name="kb_try")
    add.add_get("/api/kb/articles", list_articles, name="kb_articles")
    add.add_post("/api/kb/articles", create_article, name="kb_article_create")
    add.add_get("/api/kb/articles/{article_id}", get_article, name="kb_article")
    add.add_put("/api/kb/articles/{article_id}", update_article, name="kb_article_update")
    add.add_post("/api/kb/articles/{article_id}/publish", publish, name="kb_article_publish")
    add.add_post("/api/kb/articles/{article_id}/archive", archive, name="kb_article_archive")
    add.add_post("/api/kb/articles/{article_id}/discard", discard_changes, name="kb_article_discard")
    add.add_get("/api/kb/articles/{article_id}/history", article_history, name="kb_article_history")
    add.add_get("/api/kb/articles/{article_id}/versions/{version}", article_version, name="kb_article_version")
    add.add_post("/api/kb/articles/{article_id}/rollback", rollback, name="kb_article_rollback")
    add.add_get("/api/kb/export", export, name="kb_export")
    add.add_post("/api/kb/import", import_articles, name="kb_import")
    add.add_get("/api/kb/unanswered", unanswered, name="kb_unanswered")
    add.add_post("/api/kb/unanswered/{key}/resolve", resolve_unanswered, name="kb_unanswered_resolve")
