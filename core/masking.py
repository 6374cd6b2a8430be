"""Masking of card numbers, CVV/CVC codes and PINs before anything is stored, logged or sent to the bot.

The one place that decides what a card number or a secret code looks like: the router masks
customers' messages with it, the console masks operators' replies and notes, the log formatter
masks every line.

Card numbers are found as runs of digit groups joined by whatever people and keyboards put
between digits (spaces of every width, NBSP, newlines, zero-width characters, dots, slashes,
dashes of every length, commas...). A window of 13-19 digits over whole groups is a card number
when it passes the Luhn check, or when it is written the way cards are printed (one unbroken
run, or groups of four): a mistyped card number is still a card number.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

_PAN_MIN_DIGITS = 13
_PAN_MAX_DIGITS = 19
# Longest separator run between two digit groups that still joins them ("4276 - 1600", "\r\n\r\n").
_MAX_GAP_CHARS = 6
_MASK_PREFIX = "•••• "

# What may sit between the digit groups of one card number. Beyond these, every Unicode space
# and format character (zero-width space and joiner, word joiner, BOM, soft hyphen...) and every
# dash counts (see _is_separator).
# Colons are left out: times ("15:30:45") next to dates would otherwise chain into 13+ digits.
_SEPARATOR_CHARS = frozenset(".,/\\|_*+~'\"`·•‧⁄∕−﹘﹣－．，／")

_DIGIT_RUN_RE = re.compile(r"\d+")


def _is_separator(char: str) -> bool:
    if char.isspace() or char in _SEPARATOR_CHARS:
        return True
    category = unicodedata.category(char)
    # Cf: zero-width and other invisible format characters; Pd: hyphens and dashes of every length.
    return category in {"Cf", "Pd", "Zs", "Zl", "Zp"}


def _digits_of(text: str) -> str:
    """ASCII digits of any Unicode decimal digits (full-width "４" is a 4 too)."""
    return "".join(str(unicodedata.decimal(c)) for c in text if c.isdecimal())


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

# Words that name a secret code, Russian and English, with or without spaces and hyphens.
_CODE_WORD = (
    r"(?:cvv2?|cvc2?|cvn2?|cid|csc|ccv|"
    r"pin(?:[\s\-]*(?:code|number|no\.?))?|"
    r"security[\s\-]+code|card[\s\-]+verification[\s\-]+(?:code|value|number)|"
    r"пин(?:[\s\-]*код)?|пинкод|"
    r"(?:секретн|проверочн)\w*[\s\-]+код\w*|"
    r"код(?:[\s\-]*(?:cvv2?|cvc2?|безопасности|подтверждения|с\s+обратной\s+стороны|на\s+обороте))?|"
    r"свв|цвв|cvv[\s\-]*код|cvc[\s\-]*код)"
)
# Words that may stand between the code word and the digits: "my CVV is 456", "пин от карты: 1234".
_FILLER_WORD = (
    r"(?:is|was|are|it's|its|my|the|of|for|on|card|number|no\.?|code|back|"
    r"это|мой|моя|моей|у|меня|такой|такая|будет|был|равен|номер|код|от|карты|карточки|на|обороте|"
    r"с|обратной|стороны|из|смс|sms|from|—|–|-)"
)
_GAP = r"[\s:=\-–—.,()\"'«»]*"
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


def _chains(text: str) -> list[list[_Group]]:
    """Digit groups, chained where only separators (at most _MAX_GAP_CHARS of them) lie between them."""
    chains: list[list[_Group]] = []
    for match in _DIGIT_RUN_RE.finditer(text):
        group = _Group(match.start(), match.end(), _digits_of(match.group()))
        if chains:
            last = chains[-1][-1]
            gap = text[last.end : group.start]
            if all(unicodedata.category(c) == "Cf" for c in gap):
                # Invisible characters (zero-width space, joiner, BOM) do not split what the reader sees as one group.
                chains[-1][-1] = _Group(last.start, group.end, last.digits + group.digits)
                continue
            if len(gap) <= _MAX_GAP_CHARS and all(_is_separator(c) for c in gap):
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
    """(start, end, last four digits) of every card number, overlapping windows merged."""
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


def mask_sensitive(text: str) -> MaskResult:
    """Mask full card numbers and secret codes in free text."""
    found: set[str] = set()
    last4: list[str] = []
    pieces: list[str] = []
    position = 0
    for start, end, four in _card_spans(text):
        pieces.append(text[position:start])
        pieces.append(_MASK_PREFIX + four)
        position = end
        found.add("card_number")
        last4.append(four)
    pieces.append(text[position:])
    masked = "".join(pieces)

    def _after(match: re.Match[str]) -> str:
        found.add("secret_code")
        return f"{match.group('word')}***"

    def _before(match: re.Match[str]) -> str:
        found.add("secret_code")
        return f"***{match.group('word')}"

    masked = _SECRET_AFTER_RE.sub(_after, masked)
    masked = _SECRET_BEFORE_RE.sub(_before, masked)
    return MaskResult(text=masked, found=frozenset(found), card_last4=tuple(last4))
