"""Canned responses: shared answers per language with `{name}`-style variables."""

from __future__ import annotations

import re
from typing import Any

from core.db import Database

_VARIABLE_RE = re.compile(r"\{(\w+)\}")

_DEFAULTS: list[dict[str, str]] = [
    {
        "_id": "greeting-ru",
        "language": "ru",
        "title": "Приветствие",
        "text": "Здравствуйте, {name}! Меня зовут {operator}, я помогу вам.",
    },
    {
        "_id": "greeting-en",
        "language": "en",
        "title": "Greeting",
        "text": "Hello {name}! My name is {operator}, I will help you.",
    },
    {
        "_id": "wait-ru",
        "language": "ru",
        "title": "Минуту",
        "text": "{name}, пожалуйста, подождите минуту — я уточняю информацию.",
    },
    {"_id": "wait-en", "language": "en", "title": "One moment", "text": "{name}, please wait a moment while I check."},
    {
        "_id": "block-ru",
        "language": "ru",
        "title": "Карта заблокирована",
        "text": "{name}, карта заблокирована. Перевыпустить её можно в приложении или в отделении.",
    },
    {
        "_id": "block-en",
        "language": "en",
        "title": "Card blocked",
        "text": "{name}, the card is blocked. You can reissue it in the app or at a branch.",
    },
]


async def seed_defaults(db: Database) -> None:
    """Insert the starter set once; edits made by staff are kept."""
    for doc in _DEFAULTS:
        await db.canned_responses.update_one({"_id": doc["_id"]}, {"$setOnInsert": doc}, upsert=True)


async def list_for(db: Database, language: str | None) -> list[dict[str, Any]]:
    """Canned responses in a language (all when None), by title."""
    query = {"language": language} if language else {}
    cursor = db.canned_responses.find(query).sort("title", 1)
    return [
        {"id": doc["_id"], "language": doc["language"], "title": doc["title"], "text": doc["text"]}
        async for doc in cursor
    ]


def render(template: str, variables: dict[str, str]) -> str:
    """Fill `{name}`-style variables; unknown ones stay as typed so the operator notices.

    A plain substitution, not `str.format`, so a template can never reach object attributes.
    """
    return _VARIABLE_RE.sub(lambda match: variables.get(match.group(1), match.group(0)), template)
