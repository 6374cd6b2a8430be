"""FAQ knowledge base: store, search and editor (see issue 3)."""

from __future__ import annotations

from core.db import Database
from knowledge_base.search import Hit


async def suggest(db: Database, text: str, language: str) -> list[Hit]:
    """Ranked articles for the operator console's context panel (empty when no KB runs in this process)."""
    from knowledge_base.setup import RUNNING

    kb = RUNNING.get(id(db))
    if kb is None:
        return []
    return (await kb.query(text, language, 3)).hits
