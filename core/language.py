"""Per-message language detection (Russian or English)."""

from __future__ import annotations

import re
from typing import Literal

Language = Literal["ru", "en"]
SUPPORTED_LANGUAGES: tuple[Language, ...] = ("ru", "en")
DEFAULT_LANGUAGE: Language = "ru"

_CYRILLIC_RE = re.compile(r"[а-яё]", re.IGNORECASE)
_LATIN_RE = re.compile(r"[a-z]", re.IGNORECASE)


def detect_language(text: str) -> Language | None:
    """Return the language of a message, or None when it has no letters to tell by.

    Counting letters is enough to tell Russian from English and, unlike a
    statistical detector, it is right on one-word messages such as "да" or "ok".
    Button payloads ("/affirm") carry no language.
    """
    if text.startswith("/"):
        return None
    cyrillic = len(_CYRILLIC_RE.findall(text))
    latin = len(_LATIN_RE.findall(text))
    if cyrillic == 0 and latin == 0:
        return None
    return "ru" if cyrillic >= latin else "en"


def parse_language(value: object) -> Language | None:
    """Return a supported language code from an untrusted value, or None."""
    if isinstance(value, str):
        code = value.strip().lower()[:2]
        if code == "ru":
            return "ru"
        if code == "en":
            return "en"
    return None
