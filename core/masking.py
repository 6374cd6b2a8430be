"""Masking of card numbers, CVV/CVC codes and PINs before anything is stored or logged."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# 13-19 digits, optionally grouped by spaces or dashes: every PAN length in use.
_PAN_RE = re.compile(r"(?<![\d*])(?:\d[ \-]?){12,18}\d(?![\d*])")
# A code word followed by 3-4 digits: "CVV 123", "cvc: 123", "код 123", "пин-код 1234".
_SECRET_RE = re.compile(
    r"(?P<word>\b(?:cvv2?|cvc2?|cid|pin(?:[ -]?code)?|пин(?:[ -]?код)?|код(?: безопасности)?)\b[\s:=\-]*)"
    r"(?P<digits>\d{3,6})\b",
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


def mask_pan(digits: str) -> str:
    """Render a card number as '•••• 1234', keeping only the last four digits."""
    only_digits = re.sub(r"\D", "", digits)
    return f"•••• {only_digits[-4:]}"


def mask_sensitive(text: str) -> MaskResult:
    """Mask full card numbers and secret codes in free text."""
    found: set[str] = set()
    last4: list[str] = []

    def _pan(match: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", match.group(0))
        found.add("card_number")
        last4.append(digits[-4:])
        return mask_pan(digits)

    def _secret(match: re.Match[str]) -> str:
        found.add("secret_code")
        return f"{match.group('word')}***"

    masked = _PAN_RE.sub(_pan, text)
    masked = _SECRET_RE.sub(_secret, masked)
    return MaskResult(text=masked, found=frozenset(found), card_last4=tuple(last4))
