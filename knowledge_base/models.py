"""The FAQ article: per-language questions and answers, a voice answer, status and version."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

LANGUAGES = ("ru", "en")
_ID = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,63}$")
# Long enough for any real FAQ answer, short enough that a paste accident is refused.
MAX_FIELD_CHARS = 5000
MAX_QUESTIONS_PER_LANGUAGE = 50
CONTENT_FIELDS = ("title", "questions", "answer", "voice_answer", "tags", "escalate")


class ArticleStatus(StrEnum):
    """Only published articles are searched; archived ones stay for history and rollback."""

    DRAFT = "draft"
    PUBLISHED = "published"
    ARCHIVED = "archived"


class ArticleError(ValueError):
    """The article's data is not acceptable; the message says which field and why.

    `code` and `params` let the editor say the same in its own language ("error.<code>" texts).
    """

    def __init__(self, message: str, code: str = "invalid", **params: object) -> None:
        super().__init__(message)
        self.code = code
        self.params = params


@dataclass(frozen=True)
class Article:
    """One FAQ entry as stored and as searched."""

    id: str
    title: dict[str, str]
    questions: dict[str, list[str]]
    answer: dict[str, str]
    voice_answer: dict[str, str] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    escalate: bool = False
    status: ArticleStatus = ArticleStatus.DRAFT
    version: int = 0
    updated_by: str = ""
    updated_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    # Saved edits of a published article that are not live yet: the bot keeps answering with the
    # published content until the editor presses Publish (None: nothing pending).
    pending: dict[str, Any] | None = None

    def text(self, name: str, language: str) -> str:
        """A per-language text field (title, answer, voice_answer), falling back to the other language."""
        values: dict[str, str] = getattr(self, name)
        return values.get(language) or next((v for v in values.values() if v), "")

    def to_doc(self) -> dict[str, Any]:
        """The MongoDB document (the id is the _id)."""
        return {
            "_id": self.id,
            "title": self.title,
            "questions": self.questions,
            "answer": self.answer,
            "voice_answer": self.voice_answer,
            "tags": self.tags,
            "escalate": self.escalate,
            "status": self.status.value,
            "version": self.version,
            "updated_by": self.updated_by,
            "updated_at": self.updated_at,
            "pending": self.pending,
        }

    def content(self) -> dict[str, Any]:
        """The editable fields only (what a version snapshot and an export hold)."""
        doc = self.to_doc()
        return {k: doc[k] for k in CONTENT_FIELDS}

    def working_content(self) -> dict[str, Any]:
        """What the editor works on: the pending edit if there is one, else the content."""
        return self.pending if self.pending is not None else self.content()

    def with_changes(self, **changes: Any) -> Article:
        """A copy with some fields replaced."""
        return replace(self, **changes)


def _texts(raw: Any, name: str, *, required: bool) -> dict[str, str]:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ArticleError(f"'{name}' must be an object with 'ru' and 'en' texts.", "field_object", field=name)
    result: dict[str, str] = {}
    for lang in LANGUAGES:
        value = raw.get(lang, "")
        if not isinstance(value, str):
            raise ArticleError(f"'{name}.{lang}' must be text.", "field_text", field=name, lang=lang)
        value = value.strip()
        if len(value) > MAX_FIELD_CHARS:
            raise ArticleError(
                f"'{name}.{lang}' is longer than {MAX_FIELD_CHARS} characters; shorten it.",
                "field_too_long",
                field=name,
                lang=lang,
                max=MAX_FIELD_CHARS,
            )
        if value:
            result[lang] = value
    if required and not result:
        raise ArticleError(f"'{name}' needs a text in at least one language (ru or en).", "field_empty", field=name)
    return result


def _questions(raw: Any) -> dict[str, list[str]]:
    if not isinstance(raw, dict):
        raise ArticleError("'questions' must be an object with 'ru' and 'en' lists.", "questions_object")
    result: dict[str, list[str]] = {}
    for lang in LANGUAGES:
        items = raw.get(lang) or []
        if isinstance(items, str):
            items = [line for line in items.splitlines()]
        if not isinstance(items, list) or not all(isinstance(q, str) for q in items):
            raise ArticleError(f"'questions.{lang}' must be a list of texts.", "questions_list", lang=lang)
        cleaned = list(dict.fromkeys(q.strip() for q in items if q.strip()))
        if len(cleaned) > MAX_QUESTIONS_PER_LANGUAGE or any(len(q) > MAX_FIELD_CHARS for q in cleaned):
            raise ArticleError(
                f"'questions.{lang}': at most {MAX_QUESTIONS_PER_LANGUAGE} questions, each short.",
                "questions_too_many",
                lang=lang,
                max=MAX_QUESTIONS_PER_LANGUAGE,
            )
        if cleaned:
            result[lang] = cleaned
    if not result:
        raise ArticleError("'questions' needs at least one question in ru or en.", "questions_empty")
    return result


def article_from_input(raw: Any, *, article_id: str | None = None) -> Article:
    """Validate editor or import input (a dict, as JSON or YAML gives it) into an Article.

    Args:
        raw: The fields; unknown keys are ignored; status/version are not taken from here.
        article_id: The id from the URL, overriding any id in the body.

    Raises:
        ArticleError: with a message naming the field to fix.
    """
    if not isinstance(raw, dict):
        raise ArticleError("The article must be a JSON object.", "article_object")
    new_id = article_id if article_id is not None else raw.get("id")
    if not isinstance(new_id, str) or not _ID.match(new_id):
        raise ArticleError(
            "'id' must be 1-64 lower-case letters, digits, '_' or '-', starting with a letter or digit.", "bad_id"
        )
    tags = raw.get("tags") or []
    if isinstance(tags, str):
        tags = [t.strip() for t in tags.split(",")]
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise ArticleError("'tags' must be a list of texts.", "tags_list")
    escalate = raw.get("escalate", False)
    if isinstance(escalate, str):
        escalate = escalate.strip().lower() in {"1", "true", "yes", "да"}
    return Article(
        id=new_id,
        title=_texts(raw.get("title"), "title", required=True),
        questions=_questions(raw.get("questions")),
        answer=_texts(raw.get("answer"), "answer", required=True),
        voice_answer=_texts(raw.get("voice_answer"), "voice_answer", required=False),
        tags=[t.strip()[:64] for t in tags if t.strip()][:30],
        escalate=bool(escalate),
    )


def article_from_doc(doc: dict[str, Any]) -> Article:
    """Rebuild an Article from its MongoDB document."""
    updated_at = doc.get("updated_at") or datetime.now(UTC)
    return Article(
        id=doc["_id"],
        title=dict(doc.get("title") or {}),
        questions={k: list(v) for k, v in (doc.get("questions") or {}).items()},
        answer=dict(doc.get("answer") or {}),
        voice_answer=dict(doc.get("voice_answer") or {}),
        tags=list(doc.get("tags") or []),
        escalate=bool(doc.get("escalate", False)),
        status=ArticleStatus(doc.get("status", "draft")),
        version=int(doc.get("version", 0)),
        updated_by=str(doc.get("updated_by", "")),
        updated_at=updated_at,
        pending=dict(doc["pending"]) if doc.get("pending") else None,
    )
