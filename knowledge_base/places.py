"""Foreign places said as "abroad": a trip to any country reads like the articles' "за границей".

Customers name the country ("еду в грузию, карта будет работать?", "going to spain next week"),
articles say "за границей" / "abroad": one article cannot list two hundred countries, and a
sentence model scores "грузия" far from "за границу" (the right article came first, but with the
score of a question the KB has no article for). So before searching, a country name, with the
preposition before it, becomes the words the articles use: "в грузию" → "за границу", "to spain"
→ "abroad". The names are CLDR's (babel, already a dependency) in Russian and English, with the
everyday names CLDR does not list (Америка, Англия, Европа, Turkey, ...). Russian case endings are
matched on the name's base ("грузи" + "ю"), never by a stemmer: Snowball cuts "грузию" to "груз"
(cargo). Russia itself is home, not abroad; names that are also common words ("Мали", "Того",
"Jersey", "Chad") are left out. Cities are CLDR's too: the city of every time zone outside Russia
(about 390: "в лиссабон", "to toronto"), in Russian from CLDR's names and in English from the
zone's own name; cities that are also words or first names ("Газа" → "газ", "Восток", "Easter",
"Wake", "Sofia") and Petersburg, Indiana, are left out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from babel import Locale
from babel.core import get_global

_WORD = re.compile(r"[0-9a-zа-яё’'\-]+", re.IGNORECASE)
# Home, and names that are also everyday words.
_NOT_ABROAD = {
    "ru": {"россия", "мали", "того", "псевдоакценты", "псевдо-bidi", "сарк", "мэн", "кндр"},
    "en": {"russia", "jersey", "chad", "mali", "togo", "pseudo-accents", "pseudo-bidi", "sark", "man", "us"},
}
_EXTRA = {
    "ru": (
        "америка", "сша", "штаты", "англия", "британия", "голландия", "европа", "азия", "африка", "прибалтика",
        "эмираты", "корея", "тайланд", "белоруссия", "кыргызстан", "киргизстан", "молдавия", "шотландия",
        "абхазия", "дубай", "бали", "пхукет", "стамбул", "анталья", "ереван", "тбилиси", "батуми", "минск",
        "алматы", "ташкент", "бишкек", "баку", "париж", "лондон", "рим", "берлин", "прага", "пекин", "шанхай",
    ),
    "en": (
        "america", "usa", "the us", "the states", "uk", "england", "britain", "great britain", "scotland", "wales",
        "holland", "europe", "asia", "africa", "turkey", "emirates", "uae", "korea", "dubai", "bali", "phuket",
        "istanbul", "antalya", "yerevan", "tbilisi", "batumi", "minsk", "almaty", "tashkent", "bishkek", "baku",
        "paris", "london", "rome", "berlin", "prague", "beijing", "shanghai", "new york",
    ),
}  # fmt: skip
# Time-zone cities that are also everyday words or first names (or name a place at home).
_NOT_ABROAD_CITIES = {
    "ru": {
        "газа", "восток", "центр", "ном", "нокс", "дарвин", "кейси", "дейвис", "палмер", "стэнли", "софия",
        "сальвадор", "доминика", "маврикий", "реджайна", "резольют", "уэйк", "питерсберг", "симферополь", "туле",
    },
    "en": {
        "easter", "wake", "center", "resolute", "christmas", "regina", "nome", "knox", "casey", "davis", "palmer",
        "stanley", "darwin", "beulah", "oral", "reunion", "petersburg", "vostok", "canary", "midway", "sofia",
        "phoenix", "simferopol", "mahe", "chuuk", "cocos", "cayman", "comoro", "faroe", "marengo",
    },
}  # fmt: skip
_ISLANDS = ("о-в ", "о-ва ", "острова ")
# Russian noun endings after a name's base (nominative's final vowel, й or ь dropped): "грузи|ю", "кита|е".
_ENDINGS = frozenset("а я у ю е и ы ой ей ом ем ию ия ии ью ь ах ях ам ям ами ями".split())
_ABBREVIATIONS = {"сша", "оаэ"}
_RU_PREPOSITIONS = {"в", "во", "на", "по", "из", "с", "со"}
_EN_PREPOSITIONS = {"to", "in", "into", "at", "around", "across", "from", "for", "visiting"}


@dataclass(frozen=True)
class _Name:
    words: tuple[str, ...]  # lower case; for Russian each word's base
    invariant: tuple[bool, ...]  # Russian words that take no endings ("перу", "сша", "тбилиси")


def _base(word: str) -> tuple[str, bool]:
    """A Russian name word's base and whether it is indeclinable."""
    if word in _ABBREVIATIONS or word[-1] in "оиуэ" or not word[-1].isalpha() or not any("а" <= c <= "я" for c in word):
        return word, True
    if word[-1] in "аяйь":
        return word[:-1], False
    return word, False


@lru_cache(maxsize=1)
def _names() -> dict[str, list[_Name]]:
    """Every foreign country's name, keyed by its first word's base, longest first."""
    found: dict[str, list[_Name]] = {}
    for language in ("ru", "en"):
        territories = Locale(language).territories
        raw = {name.lower().replace("ё", "е") for code, name in territories.items() if code.isalpha()}
        raw = {name for name in raw if name not in _NOT_ABROAD[language] and len(name) > 2}
        raw |= set(_EXTRA[language]) | _cities(language)
        names: list[_Name] = []
        for name in raw:
            parts = tuple(w for w in _WORD.findall(name) if w not in {"&", "и", "and", "о-в", "о-ва"})
            if not parts:
                continue
            if language == "ru":
                bases = [_base(w) for w in parts]
                names.append(_Name(tuple(b for b, _ in bases), tuple(i for _, i in bases)))
            else:
                names.append(_Name(parts, tuple(True for _ in parts)))
        for name in sorted(names, key=lambda n: -len(n.words)):
            found.setdefault(name.words[0], []).append(name)
    return found


def _cities(language: str) -> set[str]:
    """The city of every time zone outside Russia, as CLDR names it in `language` (lower case)."""
    territories = get_global("zone_territories")
    abroad = [zone for zone, territory in territories.items() if "/" in zone and territory not in ("RU", "001", "ZZ")]
    if language == "ru":
        zones = Locale("ru").time_zones
        named = {str(zones.get(zone, {}).get("city") or "").split(",")[0] for zone in abroad}
    else:
        named = {zone.rsplit("/", 1)[-1].replace("_", " ") for zone in abroad}
    cities = {name.lower().replace("ё", "е") for name in named if name}
    left_out = _NOT_ABROAD_CITIES[language] | _NOT_ABROAD[language]
    return {c for c in cities if c not in left_out and not c.startswith(_ISLANDS) and len(c) > 2}


def _matches(name: _Name, words: list[str], at: int) -> bool:
    if at + len(name.words) > len(words):
        return False
    for offset, (base, invariant) in enumerate(zip(name.words, name.invariant, strict=True)):
        word = words[at + offset]
        if word == base:
            continue
        if invariant or not word.startswith(base) or word[len(base) :] not in _ENDINGS:
            return False
    return True


_PHRASES = {
    "ru": {"to": "за границу", "in": "за границей", "from": "из-за границы"},
    "en": {"to": "abroad", "in": "abroad", "from": "from abroad"},
}


def as_abroad(text: str, language: str) -> str:
    """The text with every foreign country (and its preposition) said as "abroad" in `language`.

    Args:
        text: A customer's question (or an article's question: both sides are read alike).
        language: "ru" or "en": the words put in. Names are looked for in both languages.

    Returns:
        The text, unchanged when it names no foreign country.
    """
    lowered = text.lower().replace("ё", "е")
    names = _names()
    if not any(w[: len(w) - cut] in names for w in _WORD.findall(lowered) for cut in range(min(4, len(w)))):
        return text  # the common case, checked first: most texts name no place
    spans = [(m.start(), m.end(), m.group()) for m in _WORD.finditer(lowered)]
    if not spans:
        return text
    words = [w for _, _, w in spans]
    phrases = _PHRASES.get(language, _PHRASES["ru"])
    out: list[str] = []
    cursor = 0
    i = 0
    while i < len(words):
        word = words[i]
        # The first word is its name's base plus at most a three-letter ending: four look-ups, not a scan.
        candidates = [n for cut in range(min(4, len(word))) for n in names.get(word[: len(word) - cut], ())]
        hit = next((n for n in candidates if _matches(n, words, i)), None)
        if hit is None:
            i += 1
            continue
        start = spans[i][0]
        last = i + len(hit.words) - 1
        first = i - 1 if i > 0 and words[i - 1] == "the" and spans[i - 1][0] >= cursor else i
        if first < i:
            start = spans[first][0]
        preposition = words[first - 1] if first > 0 else ""
        if preposition in _RU_PREPOSITIONS | _EN_PREPOSITIONS and spans[first - 1][0] >= cursor:
            start = spans[first - 1][0]
        if preposition in {"из", "с", "со", "from"}:
            phrase = phrases["from"]
        elif preposition in {"в", "во", "на", "to", "into", "visiting"} and (
            words[last] == hit.words[-1] or words[last][-1] in "ую" or preposition in {"to", "into", "visiting"}
        ):
            phrase = phrases["to"]
        else:
            phrase = phrases["in"]
        out.append(text[cursor:start])
        out.append(phrase)
        cursor = spans[last][1]
        i = last + 1
    if not out:
        return text
    out.append(text[cursor:])
    return "".join(out)
