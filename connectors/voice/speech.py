"""Rendering for the ear: bot and operator text turned into what a voice prompt can say."""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from decimal import Decimal

from num2words import num2words

from core.language import Language

# Card endings are read digit by digit and never longer than this: the rest of a number is not spoken.
CARD_DIGITS_SPOKEN = 4
_RU_MONTHS_GENITIVE = (
    "января", "февраля", "марта", "апреля", "мая", "июня",
    "июля", "августа", "сентября", "октября", "ноября", "декабря",
)  # fmt: skip
_EN_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
_EN_MONTHS_SHORT = {name[:3].lower(): number for number, name in enumerate(_EN_MONTHS, start=1)}
_SPACES = "[ \u00a0\u202f]"
# "12 345,67 ₽", "-1 245,60 ₽", "+5 000,00 ₽" (Babel ru_RU, with non-breaking spaces).
_RU_AMOUNT_RE = re.compile(
    rf"(?P<sign>[+\-−]?)(?P<number>\d{{1,3}}(?:{_SPACES}\d{{3}})*(?:,\d{{1,2}})?){_SPACES}?(?:₽|руб\.?)"
)
# "RUB 12,345.67", "-RUB 412.00", "12 345 ₽" in English texts is caught by the Russian pattern.
_EN_AMOUNT_RE = re.compile(rf"(?P<sign>[+\-−]?)(?:RUB|₽){_SPACES}?(?P<number>\d{{1,3}}(?:,\d{{3}})*(?:\.\d{{1,2}})?)")
# "•••• 1234", "**** 1234", "*1234" and longer masked numbers: only the last four digits are spoken.
_CARD_RE = re.compile(r"(?:[•*]{1,4}|x{4})\s?(?P<digits>\d{4,})", re.IGNORECASE)
_RU_DATE_RE = re.compile(r"\b(?P<d>\d{1,2})\.(?P<m>\d{1,2})\.(?P<y>\d{4})\b")
_EN_DATE_RE = re.compile(
    r"\b(?P<d>\d{1,2}) (?P<m>Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]* (?P<y>\d{4})\b", re.IGNORECASE
)
_HOTLINE_RE = re.compile(r"\b8[ \-]?800[ \-]?\d{3}[ \-]?\d{2}[ \-]?\d{2}\b")
_MARKDOWN_LINK_RE = re.compile(r"\[(?P<label>[^\]]+)\]\((?P<url>[^)]+)\)")
_URL_RE = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_MARKUP_RE = re.compile(r"[*_`#~>|]+|<[^>]+>")
_NUMBER_RE = re.compile(r"(?<![\w.,])\d{1,9}(?![\w]|[.,]\d)")
_BULLET_RE = re.compile(r"^\s*[•\-–—]\s*", re.MULTILINE)
_WHITESPACE_RE = re.compile(r"[ \t\u00a0\u202f]+")
# Removed markup and emoji leave spaces before punctuation: "операции :" -> "операции:".
_SPACE_BEFORE_PUNCTUATION_RE = re.compile(r"\s+([,.:;!?)])")
_SPACE_AFTER_PAREN_RE = re.compile(r"\(\s+")
_SENTENCE_END = (".", "!", "?", ":", ";")
# An English voice cannot read Cyrillic: names such as the "Мир" card system are said transliterated.
_CYRILLIC_WORD_RE = re.compile(r"[А-Яа-яЁё]+")
_LATIN_OF = dict(
    zip(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
        "a b v g d e yo zh z i y k l m n o p r s t u f kh ts ch sh shch _ y _ e yu ya".split(),
        strict=True,
    )
)
_RU_DIGITS = ("ноль", "один", "два", "три", "четыре", "пять", "шесть", "семь", "восемь", "девять")
_EN_DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def digits_one_by_one(digits: str, language: Language) -> str:
    """'5678' -> 'пять шесть семь восемь': how card endings and codes are read."""
    names = _EN_DIGITS if language == "en" else _RU_DIGITS
    return " ".join(names[int(d)] for d in digits if d.isdigit())


def digits_in_pairs(digits: str) -> str:
    """'5678' -> 'пятьдесят шесть семьдесят восемь', '0512' -> 'ноль пять двенадцать': how Russians say codes.

    A pair with a leading zero is read digit by digit, so no digit is lost.
    """
    words = []
    for pair in (digits[i : i + 2] for i in range(0, len(digits), 2)):
        whole = len(pair) == 2 and not pair.startswith("0")
        words.append(str(num2words(int(pair), lang="ru")) if whole else digits_one_by_one(pair, "ru"))
    return " ".join(words)


def transliterate(word: str) -> str:
    """'Мир' -> 'Mir': a Russian name spelled so that an English voice says it."""
    latin = "".join(_LATIN_OF.get(char.lower(), char).replace("_", "") for char in word)
    return latin.capitalize() if word[:1].isupper() else latin


def card_ending(digits: str, language: Language) -> str:
    """'•••• 5678' as speech: at most the last four digits, in pairs in Russian, one by one in English."""
    last = digits[-CARD_DIGITS_SPOKEN:]
    if language == "en":
        return f"ending in {digits_one_by_one(last, language)}"
    return f"с окончанием {digits_in_pairs(last)}"


def amount_in_words(amount: Decimal, language: Language) -> str:
    """12345.67 -> 'двенадцать тысяч триста сорок пять рублей шестьдесят семь копеек'; whole rubles lose the kopecks."""
    lang = "en" if language == "en" else "ru"
    sign = "minus " if amount < 0 and lang == "en" else "минус " if amount < 0 else ""
    value = abs(amount).quantize(Decimal("0.01"))
    # A separator no number word contains, so the ruble part can be cut off when there are no kopecks.
    words: str = num2words(value, lang=lang, to="currency", currency="RUB", separator=" §")
    rubles, _, kopecks = words.partition(" §")
    if value == value.to_integral_value():
        return sign + rubles.replace(",", "")
    joiner = " and" if lang == "en" else ""
    return (sign + rubles + joiner + kopecks).replace(",", "")


def date_in_words(day: date, language: Language) -> str:
    """25.11.2026 -> 'двадцать пятое ноября две тысячи двадцать шестого года' / 'November twenty-fifth, 2026'."""
    if language == "en":
        year: str = num2words(day.year, lang="en", to="year")
        return f"{_EN_MONTHS[day.month - 1]} {num2words(day.day, lang='en', to='ordinal')}, {year}"
    day_words = _ru_ordinal(day.day, neuter=True)
    year_words = _ru_ordinal(day.year, neuter=False)
    return f"{day_words} {_RU_MONTHS_GENITIVE[day.month - 1]} {year_words} года"


def _ru_ordinal(number: int, *, neuter: bool) -> str:
    """Ordinal in the nominative neuter ('двадцать пятое') or the genitive ('две тысячи двадцать шестого')."""
    words: str = num2words(number, lang="ru", to="ordinal")
    head, _, last = words.rpartition(" ")
    if neuter:
        last = last[:-2] + ("ье" if last.endswith("ий") else "ое")
    else:
        last = last[:-2] + ("ьего" if last.endswith("ий") else "ого")
    return f"{head} {last}".strip()


def _parse_amount(number: str, *, decimal_comma: bool) -> Decimal:
    cleaned = re.sub(_SPACES, "", number)
    cleaned = cleaned.replace(",", ".") if decimal_comma else cleaned.replace(",", "")
    return Decimal(cleaned)


def _strip_emoji(text: str) -> str:
    """Drop pictographs, variation selectors and joiners: a voice cannot say them."""
    kept = []
    for char in text:
        category = unicodedata.category(char)
        if category in {"So", "Sk", "Cs", "Co"} or char in "\u200d\ufe0f\ufe0e":
            continue
        kept.append(char)
    return "".join(kept)


def speak_text(text: str, language: Language) -> str:
    """Rewrite one message for text-to-speech.

    Markdown, HTML tags, links and emoji go; amounts and dates become words; card
    endings are read digit by digit; list lines become sentences.
    """
    spoken = _MARKDOWN_LINK_RE.sub(lambda m: m.group("label"), text)
    spoken = _URL_RE.sub("", spoken)
    spoken = _CARD_RE.sub(lambda m: card_ending(m.group("digits"), language), spoken)

    def _amount(match: re.Match[str], *, decimal_comma: bool) -> str:
        value = _parse_amount(match.group("number"), decimal_comma=decimal_comma)
        if match.group("sign") in {"-", "−"}:
            value = -value
        words = amount_in_words(value, language)
        return ("plus " if language == "en" else "плюс ") + words if match.group("sign") == "+" else words

    spoken = _RU_AMOUNT_RE.sub(lambda m: _amount(m, decimal_comma=True), spoken)
    spoken = _EN_AMOUNT_RE.sub(lambda m: _amount(m, decimal_comma=False), spoken)
    spoken = _RU_DATE_RE.sub(
        lambda m: _safe_date(int(m.group("y")), int(m.group("m")), int(m.group("d")), language, m.group(0)), spoken
    )
    spoken = _EN_DATE_RE.sub(
        lambda m: _safe_date(
            int(m.group("y")), _EN_MONTHS_SHORT[m.group("m")[:3].lower()], int(m.group("d")), language, m.group(0)
        ),
        spoken,
    )
    spoken = _HOTLINE_RE.sub(lambda m: _phone_groups(m.group(0), language), spoken)
    spoken = _strip_emoji(spoken)
    if language == "en":
        spoken = _CYRILLIC_WORD_RE.sub(lambda m: transliterate(m.group(0)), spoken)
    spoken = _MARKUP_RE.sub(" ", spoken)
    spoken = _BULLET_RE.sub("", spoken)
    spoken = _NUMBER_RE.sub(lambda m: str(num2words(int(m.group(0)), lang="en" if language == "en" else "ru")), spoken)
    sentences = []
    for line in spoken.splitlines():
        line = _WHITESPACE_RE.sub(" ", line).strip(" ,")
        line = _SPACE_BEFORE_PUNCTUATION_RE.sub(r"\1", _SPACE_AFTER_PAREN_RE.sub("(", line))
        if line:
            sentences.append(line if line.endswith(_SENTENCE_END) else line + ".")
    return " ".join(sentences)


def _safe_date(year: int, month: int, day: int, language: Language, original: str) -> str:
    try:
        return date_in_words(date(year, month, day), language)
    except ValueError:
        return original


def _phone_groups(number: str, language: Language) -> str:
    """'8 800 000-00-00' read in its groups, each digit by digit."""
    groups = [g for g in re.split(r"[ \-]", number) if g]
    return ", ".join(digits_one_by_one(g, language) for g in groups)
