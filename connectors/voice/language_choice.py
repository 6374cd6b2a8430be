"""The caller's choice of language: heard in words ("English, please"), and remembered for their number.

The recognizer listens in the call's language, so a choice of the other one comes
back in whichever script it heard: "English" from an en-US recognizer, "инглиш"
from a ru-RU one. Both spellings of each language's name are accepted, but only in
a short answer, so "I need my English statement" is a request, not a choice.
"""

from __future__ import annotations

import re
from datetime import datetime

from core.db import Database, upsert_by_id
from core.language import Language, parse_language

# Stems of each language's name as either recognizer may write it.
_NAMES: dict[Language, tuple[str, ...]] = {
    "en": ("english", "inglish", "englis", "инглиш", "английск", "по-английски", "поанглийски"),
    "ru": ("russian", "russki", "russkiy", "russky", "русск", "по-русски", "порусски", "рашн"),
}
# Words the recognizer may wrap around a name: "English, please", "по-русски, пожалуйста".
_FILLER = frozenset(
    {"please", "in", "speak", "i", "language", "плиз", "пожалуйста", "на", "язык", "языке", "давайте", "можно", "хочу"}
)
_WORD_RE = re.compile(r"[\w-]+", re.UNICODE)
# Names offered to the recognizer as hints while the choice is open.
SPEECH_HINTS: dict[Language, str] = {"en": "English", "ru": "Russian"}


def language_named(speech: str) -> Language | None:
    """The language a short answer names ("English, please" -> "en"), else None."""
    words = _WORD_RE.findall(speech.lower())
    named: set[Language] = set()
    for word in words:
        found = [lang for lang, stems in _NAMES.items() if any(word.startswith(stem) for stem in stems)]
        if found:
            named.update(found)
        elif word not in _FILLER:
            return None
    return named.pop() if len(named) == 1 else None


async def remembered_language(db: Database, phone: str | None) -> Language | None:
    """The language this number chose on its last call, offered first on the next."""
    if not phone:
        return None
    doc = await db.voice_callers.find_one({"_id": phone}, {"language": 1})
    return parse_language(doc.get("language")) if doc else None


async def remember_language(db: Database, phone: str | None, language: Language, now: datetime) -> None:
    """Keep the number's latest choice (the number only: nothing else about the caller)."""
    if phone:
        await upsert_by_id(db.voice_callers, phone, {"$set": {"language": language, "chosen_at": now}})
