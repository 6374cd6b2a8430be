"""Per-message language detection (Russian or English)."""

from __future__ import annotations

import re
from typing import Literal

Language = Literal["ru", "en"]
SUPPORTED_LANGUAGES: tuple[Language, ...] = ("ru", "en")
DEFAULT_LANGUAGE: Language = "ru"

_CYRILLIC_RE = re.compile(r"[а-яё]", re.IGNORECASE)
_LATIN_RE = re.compile(r"[a-z]", re.IGNORECASE)
_CYRILLIC_WORD_RE = re.compile(r"[а-яё]+", re.IGNORECASE)
_LATIN_WORD_RE = re.compile(r"[a-z]+", re.IGNORECASE)
# A conversation changes language only when the customer writes at least this many words in the
# other one: Russian customers type "ok", "Visa", "SMS", "Mastercard" in Russian conversations all
# the time, and one such word must not switch the replies to English.
WORDS_TO_SWITCH = 2


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


def conversation_language(text: str, current: Language | None) -> Language | None:
    """The language to reply in: the conversation's own until the customer clearly writes in the other.

    The first message with letters sets it (as detect_language). Afterwards it changes only when the
    message has at least WORDS_TO_SWITCH words in the other script and more of them than words in
    the current one, so "ok", "Visa", "SMS 1234", digits or a payload keep it, and "yes please
    connect me" or "ок спасибо" in the matching conversation, too.
    """
    if current is None or text.startswith("/"):
        return detect_language(text) if current is None else current
    words = {"ru": len(_CYRILLIC_WORD_RE.findall(text)), "en": len(_LATIN_WORD_RE.findall(text))}
    other: Language = "en" if current == "ru" else "ru"
    if words[other] >= WORDS_TO_SWITCH and words[other] > words[current]:
        return other
    return current


# A short message that names a language asks for it: "in russian please", "english?", "по-английски
# можно?", "давайте на русском". Longer messages that mention a language are about something else
# ("how much is that in russian rubles", "переведи на английский слово кошка").
_ASKS_FOR: dict[Language, re.Pattern[str]] = {
    "ru": re.compile(r"\b(по-?\s?русски|на русском|russian)\b", re.IGNORECASE),
    "en": re.compile(r"\b(по-?\s?английски|на английском|english)\b", re.IGNORECASE),
}
_MAX_WORDS_OF_A_REQUEST = 6


def requested_language(text: str) -> Language | None:
    """The language a short message asks for by name, or None.

    The script the customer writes in decides otherwise (conversation_language), but "in russian
    please" is written in English and asks for Russian: the request wins.
    """
    if len(text.split()) > _MAX_WORDS_OF_A_REQUEST:
        return None
    asked = [language for language, pattern in _ASKS_FOR.items() if pattern.search(text)]
    return asked[0] if len(asked) == 1 else None


def parse_language(value: object) -> Language | None:
    """Return a supported language code from an untrusted value, or None."""
    if isinstance(value, str):
        code = value.strip().lower()[:2]
        if code == "ru":
            return "ru"
        if code == "en":
            return "en"
    return None
