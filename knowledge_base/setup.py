"""Wiring of the knowledge base into the gateway: indexes, first seed import, demo editor account, the index, routes."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import weakref
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import web

from core import staff
from core.db import Database
from core.keys import DB_KEY, KB_KEY, SETTINGS_KEY
from core.staff import Role
from knowledge_base import api, store
from knowledge_base.config import default_model
from knowledge_base.embeddings import load_encoder
from knowledge_base.models import Article
from knowledge_base.seed import DEFAULT_SEED, articles_from_yaml
from knowledge_base.service import CachingEncoder, KnowledgeBase

logger = logging.getLogger(__name__)

# Documented demo account for local runs (README, "Knowledge base editor"); never created elsewhere.
DEMO_EDITOR_LOGIN = "editor"
DEMO_EDITOR_PASSWORD = "local-dev-editor-password"  # noqa: S105 -- documented local default

# The operator console asks `knowledge_base.suggest(db, ...)`; this maps each database to its process's KB.
RUNNING: weakref.WeakValueDictionary[int, KnowledgeBase] = weakref.WeakValueDictionary()


@functools.cache
def process_encoder(spec: str) -> CachingEncoder | None:
    """The model loaded once per process, with one embedding cache for every app the process builds.

    A gateway process builds one app; the test suite builds dozens, and each would load the
    model and embed the seed again.
    """
    encoder = load_encoder(spec)
    return CachingEncoder(encoder) if encoder is not None else None


def _read_seed(path: Path) -> tuple[str, list[Article]] | None:
    """The seed file's digest and articles; None without a seed file."""
    if not path.is_file():
        return None
    raw = path.read_bytes()
    return hashlib.sha256(raw).hexdigest(), articles_from_yaml(raw.decode("utf-8"))


async def seed_or_upgrade(db: Database, path: Path = DEFAULT_SEED) -> None:
    """Import the shipped seed into an empty KB, or bring an earlier seed's articles up to this one.

    An editor's work is kept: see store.upgrade_from_seed. Editors' own imports are explicit (the editor's
    Import) and update by id.
    """
    read = await asyncio.to_thread(_read_seed, path)
    if read is None:
        return
    digest, articles = read
    now = datetime.now(UTC)
    if await db.kb_articles.count_documents({}, limit=1) == 0:
        counts = await store.import_articles(db, articles, by=store.SEED_BY, now=now)
        logger.info("Imported the KB seed: %s", counts)
    counts = await store.upgrade_from_seed(db, articles, digest=digest, now=now)
    if counts["created"] or counts["upgraded"] or counts["proposed"] or counts["kept"]:
        logger.info("Upgraded the KB to the shipped seed: %s", counts)


async def kb_context(app: web.Application) -> AsyncIterator[None]:
    """Load the embedding model once, build the first index and keep the KB for the app's lifetime."""
    settings, db = app[SETTINGS_KEY], app[DB_KEY]
    await store.ensure_indexes(db)
    await staff.ensure_indexes(db)
    await seed_or_upgrade(db)
    if settings.demo_staff:
        await staff.ensure_staff(
            db, DEMO_EDITOR_LOGIN, DEMO_EDITOR_PASSWORD, display_name="Елена (контент)", roles=(Role.CONTENT_EDITOR,)
        )
    kb = KnowledgeBase(db, process_encoder(default_model()))
    await kb.refresh(force=True)
    app[KB_KEY] = kb
    RUNNING[id(db)] = kb
    yield
    RUNNING.pop(id(db), None)


def setup_knowledge_base(app: web.Application) -> None:
    """Add the KB's cleanup context (after the MongoDB one) and routes."""
    app.cleanup_ctx.append(kb_context)
    api.setup_routes(app)
