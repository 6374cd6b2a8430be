"""Canned responses: shared answers per language with `{name}`-style variables.

A variable without a value (a guest has no name) is never left as an empty hole:
`render` removes it together with the punctuation that only served it
("Здравствуйте, {name}!" -> "Здравствуйте!", "{name}, карта…" -> "Карта…"), and
where the sentence needs a word in its place it puts the language's fallback
("Уважаемый {name}, …" -> "Уважаемый клиент, …"). This works for any template
staff write, not only the starter set.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from core.db import Database, insert_if_missing

_VARIABLE_RE = re.compile(r"\{(\w+)\}")

# Words standing in for a variable that cannot simply be dropped from its sentence.
FALLBACKS: dict[str, dict[str, str]] = {
    "ru": {"name": "клиент"},
    "en": {"name": "customer"},
}

# Private-use characters mark an empty variable ("\ue000<index>\ue002") and a sentence start that lost
# its first word while the template is tidied; they are removed from templates and values first.
_HOLE_START, _HOLE_END, _CAPITAL = "\ue000", "\ue002", "\ue001"
_MARKERS_RE = re.compile("[\ue000-\ue002]")
_HOLE = f"{_HOLE_START}\\d+{_HOLE_END}"
_HOLE_RE = re.compile(f"{_HOLE_START}(\\d+){_HOLE_END}")
_TERMINAL = "!?.…"
# ", {name}!" / ", {name}," / ", {name}" at the end: the comma only served the address.
_AFTER_COMMA_RE = re.compile(rf"[ \t]*,[ \t]*{_HOLE}(?=[ \t]*(?:[{_TERMINAL},;:)]|$))", re.MULTILINE)
# "{name}, карта…" / "{name}! Рады…" at a sentence start: the address and its punctuation go.
_SENTENCE_START_RE = re.compile(rf"(^|(?<=[{_TERMINAL}])[ \t]+){_HOLE}[ \t]*[,{_TERMINAL}]?[ \t]*", re.MULTILINE)
# "Hello {name}!" / "Спасибо {name}." : the space before it goes.
_BEFORE_END_RE = re.compile(rf"[ \t]+{_HOLE}(?=[ \t]*[{_TERMINAL}])")
_CAPITALISE_RE = re.compile(rf"{_CAPITAL}(\W*?)(\w)")
_SPACES_RE = re.compile(r"[ \t]{2,}")
_SPACE_BEFORE_PUNCT_RE = re.compile(r"[ \t]+([,;:!?.…])")

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
    {
        "_id": "thanks-ru",
        "language": "ru",
        "title": "Спасибо за ожидание",
        "text": "Спасибо за ожидание, {name}. Я проверил(а) вашу ситуацию.",
    },
    {
        "_id": "thanks-en",
        "language": "en",
        "title": "Thanks for waiting",
        "text": "Thank you for waiting, {name}. I have looked into your case.",
    },
]


async def seed_defaults(db: Database) -> None:
    """Insert the starter set once; edits made by staff are kept."""
    for doc in _DEFAULTS:
        await insert_if_missing(db.canned_responses, dict(doc))  # two gateways seeding at once: one inserts


async def list_for(db: Database, language: str | None, team: str | None = None) -> list[dict[str, Any]]:
    """Canned responses in a language (all when None), by title; a team's own ones only for that team."""
    query: dict[str, Any] = {"language": language} if language else {}
    query["team"] = {"$in": [None, team]} if team else None
    cursor = db.canned_responses.find(query).sort("title", 1)
    return [
        {"id": doc["_id"], "language": doc["language"], "title": doc["title"], "text": doc["text"]}
        async for doc in cursor
    ]


async def rendered_for(
    db: Database, language: str, variables: Mapping[str, str | None], team: str | None = None
) -> list[dict[str, Any]]:
    """The conversation's canned responses, filled in for it (the template rides along for editing tools).

    Args:
        db: the database.
        language: the conversation's language; its responses are listed and its fallbacks used.
        variables: values for this conversation; None or "" for what is unknown (a guest's name).
        team: the conversation's team: its own responses are offered beside the shared ones.

    Returns:
        Dicts with id, language, title, text (ready to send) and template.
    """
    return [
        {**item, "template": item["text"], "text": render(item["text"], variables, language)}
        for item in await list_for(db, language, team)
    ]


def first_name(full_name: object) -> str | None:
    """How an operator addresses the customer: the first word of the bank's full name ("Иван Петров")."""
    if not isinstance(full_name, str) or not full_name.strip():
        return None
    return full_name.split()[0]


def render(template: str, variables: Mapping[str, str | None], language: str = "ru") -> str:
    """Fill `{name}`-style variables so that an empty one leaves no dangling comma or gap.

    A plain substitution, not `str.format`, so a template can never reach object attributes.
    Variables the template names but `variables` lacks entirely stay as typed, so the operator
    notices them before sending; known variables without a value are dropped cleanly.

    Args:
        template: the canned text.
        variables: values by name; None or blank means "known, but no value here".
        language: picks the fallback words ("клиент" / "customer").

    Returns:
        The text to send.
    """
    text = _MARKERS_RE.sub("", template)
    values = {name: _MARKERS_RE.sub("", value or "").strip() for name, value in variables.items()}
    empty: list[str] = []

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            return match.group(0)
        if values[name]:
            return values[name]
        empty.append(name)
        return f"{_HOLE_START}{len(empty) - 1}{_HOLE_END}"

    text = _VARIABLE_RE.sub(fill, text)
    if not empty:
        return text
    text = _AFTER_COMMA_RE.sub("", text)
    text = _SENTENCE_START_RE.sub(lambda m: m.group(1) + _CAPITAL, text)
    text = _BEFORE_END_RE.sub("", text)
    # A hole left sits inside a phrase ("Уважаемый {name}, …"): it needs a word there, not a gap.
    fallbacks = FALLBACKS.get(language, FALLBACKS["ru"])
    text = _HOLE_RE.sub(lambda m: fallbacks.get(empty[int(m.group(1))], ""), text)
    text = _CAPITALISE_RE.sub(lambda m: m.group(1) + m.group(2).upper(), text)
    text = text.replace(_CAPITAL, "")
    text = _SPACE_BEFORE_PUNCT_RE.sub(r"\1", _SPACES_RE.sub(" ", text))
    return text.strip()
