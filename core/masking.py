"""Masking of card numbers, CVV/CVC codes and PINs before anything is stored, logged or sent to the bot.

The one place that decides what a card number or a secret code looks like: the router masks
customers' messages with it (and sends Rasa only the masked text, so its tracker holds no more),
the console masks operators' replies and notes, the log formatter masks every line.

The text is read through a folded view (`_fold`): every character with a digit value becomes that
ASCII digit (superscripts, full-width, Arabic-Indic...), the rest is NFKC-normalised ("№" reads as
"No"), and invisible characters (zero-width space, joiners, soft hyphen, combining marks, emoji
variation selectors) are dropped. Matches in the view are mapped back to the original characters,
so the rest of the message is stored exactly as written.

Card numbers are found as runs of digit groups joined by whatever people and keyboards put
between digits. Spaces of every width and any run of them, dots, slashes, dashes of every length
and commas join any groups; other punctuation, symbols and emoji (`:`, `#`, `;`, brackets, arrows,
the letter x) join groups of three digits or more, so times ("15:30:45") never chain into a number.
A window of 13-19 digits over whole groups is a card number when it passes the Luhn check, or when
it is written the way cards are printed (one unbroken run, or groups of four): a mistyped card
number is still a card number.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

_PAN_MIN_DIGITS = 13
_PAN_MAX_DIGITS = 19
# Longest run of visible separators between two digit groups that still joins them ("4276 - 1600", "->").
_MAX_GAP_MARKS = 6
# Longest gap of any kind, spaces and line breaks included ("4276          1600").
_MAX_GAP_CHARS = 40
# Groups joined by punctuation other than the usual separators must be this long (times: "15:30").
_MIN_WEAK_GROUP_DIGITS = 3
_MASK_PREFIX = "•••• "

# What may sit between any two digit groups of one card number, beside every Unicode space and dash.
_SEPARATOR_CHARS = frozenset(".,/\\|_*+~'\"`·•‧⁄∕−﹘﹣－．，／")
# Letters people put between groups ("4276x3801"): joined like punctuation.
_SEPARATOR_LETTERS = frozenset("xXхХ")

_DIGIT_RUN_RE = re.compile(r"[0-9]+")


@lru_cache(maxsize=4096)
def _fold_char(char: str) -> str:
    """How masking reads one character: its ASCII digit, nothing (invisible), or its NFKC form."""
    if unicodedata.category(char) in {"Cf", "Mn", "Me"}:
        return ""
    digit = unicodedata.digit(char, None)
    if digit is not None:
        return str(digit)
    return "".join(
        str(unicodedata.digit(c)) if unicodedata.digit(c, None) is not None else c
        for c in unicodedata.normalize("NFKC", char)
    )


def _symbol_as_gap(char: str) -> str:
    """In the secret-code pass, punctuation and symbols between a code word and its digits read as ':'."""
    if char in ".,-•*'’" or not unicodedata.category(char).startswith(("P", "S")):
        return char
    if unicodedata.category(char) == "Pd":
        return char
    return ":"


@dataclass(frozen=True)
class _Folded:
    """A view of a text and, for each of its characters, the index of the original character it came from."""

    text: str
    origin: tuple[int, ...]
    length: int  # of the original text

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original characters behind the view's [start, end)."""
        return self.origin[start], self.origin[end - 1] + 1


def _fold(text: str, *, symbols: bool = False) -> _Folded:
    if text.isascii() and not symbols:
        return _Folded(text, tuple(range(len(text))), len(text))
    pieces: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        folded = char if char.isascii() and char.isalnum() else _fold_char(char)
        if symbols:
            folded = "".join(_symbol_as_gap(c) for c in folded)
        pieces.append(folded)
        origin.extend([index] * len(folded))
    return _Folded("".join(pieces), tuple(origin), len(text))


def _replace(text: str, spans: list[tuple[int, int, str]]) -> str:
    """`text` with each (start, end) replaced by its string; spans sorted and disjoint."""
    pieces: list[str] = []
    position = 0
    for start, end, replacement in spans:
        pieces.append(text[position:start])
        pieces.append(replacement)
        position = end
    pieces.append(text[position:])
    return "".join(pieces)


def _is_separator(char: str) -> bool:
    if char.isspace() or char in _SEPARATOR_CHARS:
        return True
    return unicodedata.category(char) in {"Pd", "Zs", "Zl", "Zp"}


def _is_weak_separator(char: str) -> bool:
    return char in _SEPARATOR_LETTERS or unicodedata.category(char)[0] in {"P", "S"}


def _digits_of(text: str) -> str:
    """ASCII digits of any Unicode digits (full-width "４" and superscript "⁴" are 4s too)."""
    return "".join(_fold_char(c) for c in text if unicodedata.digit(c, None) is not None)


def luhn_valid(digits: str) -> bool:
    """The check digit every payment card number carries."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


# --- secret codes ---------------------------------------------------------------------------------

# Letters that look alike in Latin and Cyrillic: "сvv" with a Cyrillic "с", "PIN" with a Cyrillic "Р",
# "кoд" with a Latin "o" all name the code. Each letter of a code word matches its twins.
_TWINS = {
    "a": "aа", "b": "bвʙ", "c": "cс", "e": "eеё", "h": "hн", "i": "iіı", "k": "kк", "m": "mм", "n": "nп",
    "o": "oо", "p": "pр", "t": "tт", "u": "uи", "v": "vѵν", "x": "xх", "y": "yу",
}  # fmt: skip
for _latin, _chars in list(_TWINS.items()):
    for _char in _chars[1:]:
        if _char.isalpha():
            _TWINS.setdefault(_char, _chars)


def _lookalike(pattern: str) -> str:
    """A regex where every letter outside escapes and classes also matches its look-alike twins."""
    out: list[str] = []
    escaped = in_class = False
    for char in pattern:
        if escaped:
            out.append(char)
            escaped = False
        elif char == "\\":
            out.append(char)
            escaped = True
        elif char == "[":
            in_class = True
            out.append(char)
        elif char == "]":
            in_class = False
            out.append(char)
        elif not in_class and char.lower() in _TWINS:
            out.append(f"[{_TWINS[char.lower()]}]")
        else:
            out.append(char)
    return "".join(out)


def _acronym(letters: str) -> str:
    """An acronym typed with dots, dashes or spaces between its letters: "c.v.v.", "П-И-Н", "c v v"."""
    return r"[.\-\s]?".join(letters) + r"\.?"


# Where the code is printed: "на обороте", "с обратной стороны", "on the back (of the card)".
_BACK_OF_CARD = (
    r"(?:на\s+обороте|на\s+оборотной\s+стороне|с\s+обратной\s+стороны|на\s+обратной\s+стороне|"
    r"сзади|на\s+задней\s+стороне|"
    r"on\s+the\s+(?:back|reverse|rear)(?:\s+side)?|at\s+the\s+back|on\s+(?:the\s+)?back\s+side)"
)
# Words that name a secret code, Russian and English, with or without spaces, hyphens and dots.
_CODE_WORD = _lookalike(
    r"(?:"
    + "|".join(_acronym(word) + "2?" for word in ("cvv", "cvc", "cvn", "ccv", "свв", "цвв", "свс"))
    + "|"
    + "|".join(_acronym(word) for word in ("cid", "csc", "пин"))
    + r"|pin(?:[\s\-]*(?:code|number|no\.?))?|"
    r"security[\s\-]+code|card[\s\-]+verification[\s\-]+(?:code|value|number)|"
    r"(?:sms|verification|confirmation|one[\s\-]time|otp)[\s\-]+(?:code|password)|otp|"
    r"пин(?:[\s\-]*код)?|пинкод|"
    r"(?:секретн|проверочн)\w*[\s\-]+код\w*|"
    r"код(?:[\s\-]*(?:cvv2?|cvc2?|безопасности|подтверждения|с\s+обратной\s+стороны|на\s+обороте))?|"
    r"cvv[\s\-]*код|cvc[\s\-]*код|"
    rf"(?:(?:три|3)\s+)?(?:цифр\w*|числ\w*)\s+{_BACK_OF_CARD}|"
    rf"(?:(?:three|3)[\s\-]+)?(?:digits?|numbers?|code)\s+{_BACK_OF_CARD}|"
    rf"{_BACK_OF_CARD}"
    r")"
)
# Words that may stand between the code word and the digits: "my CVV is 456", "пин от карты: 1234".
_FILLER_WORD = _lookalike(
    r"(?:is|was|are|it's|its|my|the|of|for|on|card|number|no\.?|code|back|reads|says|here|"
    r"это|мой|моя|моей|у|меня|такой|такая|будет|был|равен|номер|код|от|карты|карточки|на|обороте|"
    r"с|обратной|стороны|из|смс|sms|from|вот|там|написано|указан\w*|—|–|-)"
)
# Between the word and the digits: spaces and any punctuation or symbol (read as ':' by `_fold(symbols=True)`).
_GAP = r"[\s:=\-–—.,()\"'«»]*"
# 3-6 digits, a space, dash or dot allowed between them ("1 2 3 4").
_CODE_DIGITS = r"(?P<digits>\d(?:[ \-.]?\d){2,5})(?![\d])"
_NOT_AFTER_LETTER = r"(?<![^\W\d_])"
_NOT_BEFORE_LETTER = r"(?![^\W\d_])"

# "CVV 123", "cvv987", "my CVV is 456", "мой пин 2468", "пин-код: 1234", "код 456 на обороте".
_SECRET_AFTER_RE = re.compile(
    rf"(?P<word>{_NOT_AFTER_LETTER}{_CODE_WORD}{_NOT_BEFORE_LETTER}"
    rf"(?:{_GAP}{_FILLER_WORD}{_NOT_BEFORE_LETTER}){{0,4}}{_GAP})"
    rf"{_CODE_DIGITS}",
    re.IGNORECASE,
)
# "456 — мой cvv", "1234 это пин": the digits before the word.
_SECRET_BEFORE_RE = re.compile(
    rf"(?<![\d])(?<!{_MASK_PREFIX})(?P<digits>\d(?:[ \-.]?\d){{2,5}})"
    rf"(?P<word>{_GAP}(?:{_FILLER_WORD}{_NOT_BEFORE_LETTER}{_GAP}){{0,2}}{_NOT_AFTER_LETTER}{_CODE_WORD}{_NOT_BEFORE_LETTER})",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class MaskResult:
    """Masked text and what was found in it."""

    text: str
    # Kinds found: "card_number", "secret_code".
    found: frozenset[str] = field(default_factory=frozenset)
    # Last four digits of every full card number found, in order.
    card_last4: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        """Whether anything was masked."""
        return bool(self.found)


def staff_notice(*results: MaskResult) -> dict[str, Any]:
    """What a staff member's answer adds when their own text was masked (pages show it by `code`); {} if nothing was.

    Args:
        results: the masking of each text the staff member sent in one request.

    Returns:
        {"masked": [kinds], "notice": {"code": "sensitive_data_masked", "text": English text}} or {}.
    """
    found = sorted(set().union(*(r.found for r in results)))
    if not found:
        return {}
    text = "Card numbers and codes were masked before sending; only the last four digits of a card are kept."
    return {"masked": found, "notice": {"code": "sensitive_data_masked", "text": text}}


def mask_pan(digits: str) -> str:
    """Render a card number as '•••• 1234', keeping only the last four digits."""
    return f"{_MASK_PREFIX}{_digits_of(digits)[-4:]}"


@dataclass(frozen=True)
class _Group:
    start: int
    end: int
    digits: str


def _joins(gap: str, before: _Group, after: _Group) -> bool:
    """Whether `gap` between two digit groups (in the folded view) keeps them in one number."""
    if len(gap) > _MAX_GAP_CHARS or sum(not c.isspace() for c in gap) > _MAX_GAP_MARKS:
        return False
    if all(_is_separator(c) for c in gap):
        return True
    if not all(_is_separator(c) or _is_weak_separator(c) for c in gap):
        return False
    if any(c in _SEPARATOR_LETTERS for c in gap) and sum(c in _SEPARATOR_LETTERS for c in gap) > 1:
        return False  # "4276 x 3801" is one number, "1 xx 2" is words
    return min(len(before.digits), len(after.digits)) >= _MIN_WEAK_GROUP_DIGITS


def _chains(text: str) -> list[list[_Group]]:
    """Digit groups of the folded view, chained where only separators lie between them."""
    chains: list[list[_Group]] = []
    for match in _DIGIT_RUN_RE.finditer(text):
        group = _Group(match.start(), match.end(), match.group())
        if chains:
            last = chains[-1][-1]
            if _joins(text[last.end : group.start], last, group):
                chains[-1].append(group)
                continue
        chains.append([group])
    return chains


def _printed_like_a_card(groups: list[_Group]) -> bool:
    """One unbroken run, or fours with a shorter tail: how card numbers are printed and typed."""
    if len(groups) == 1:
        return True
    return all(len(g.digits) == 4 for g in groups[:-1]) and 1 <= len(groups[-1].digits) <= 4


def _card_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, last four digits) of every card number in the folded view, overlapping windows merged."""
    spans: list[tuple[int, int, str]] = []
    for chain in _chains(text):
        if sum(len(g.digits) for g in chain) < _PAN_MIN_DIGITS:
            continue
        covered: list[tuple[int, int, str]] = []
        for first in range(len(chain)):
            count = 0
            for last in range(first, len(chain)):
                count += len(chain[last].digits)
                if count > _PAN_MAX_DIGITS:
                    break
                if count < _PAN_MIN_DIGITS:
                    continue
                window = chain[first : last + 1]
                digits = "".join(g.digits for g in window)
                if luhn_valid(digits) or _printed_like_a_card(window):
                    covered.append((window[0].start, window[-1].end, digits[-4:]))
        for start, end, last4 in sorted(covered):
            if spans and start < spans[-1][1]:
                # Overlapping windows (a card next to a year, a card and its CVV) are masked as one.
                prev_start, prev_end, prev_last4 = spans[-1]
                spans[-1] = (prev_start, max(prev_end, end), last4 if end >= prev_end else prev_last4)
            else:
                spans.append((start, end, last4))
    return spans


def _mask_cards(text: str) -> tuple[str, list[str]]:
    folded = _fold(text)
    replacements: list[tuple[int, int, str]] = []
    last4: list[str] = []
    for start, end, four in _card_spans(folded.text):
        first, past = folded.span(start, end)
        replacements.append((first, past, _MASK_PREFIX + four))
        last4.append(four)
    return _replace(text, replacements), last4


def _mask_codes(text: str) -> tuple[str, bool]:
    folded = _fold(text, symbols=True)
    spans: list[tuple[int, int]] = []
    for pattern in (_SECRET_AFTER_RE, _SECRET_BEFORE_RE):
        for match in pattern.finditer(folded.text):
            spans.append(folded.span(match.start("digits"), match.end("digits")))
    merged: list[tuple[int, int, str]] = []
    for start, end in sorted(spans):
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end), "***")
        else:
            merged.append((start, end, "***"))
    return _replace(text, merged), bool(merged)


def mask_sensitive(text: str) -> MaskResult:
    """Mask full card numbers and secret codes in free text, however their digits and words are written."""
    found: set[str] = set()
    masked, last4 = _mask_cards(text)
    if last4:
        found.add("card_number")
    masked, had_codes = _mask_codes(masked)
    if had_codes:
        found.add("secret_code")
    return MaskResult(text=masked, found=frozenset(found), card_last4=tuple(last4))
