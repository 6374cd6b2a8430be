"""CSV cells that a spreadsheet opens as text, never as a formula (OWASP's rule against CSV injection).

Every CSV the platform writes (the supervisor's figures, the knowledge base's export) passes its
cells through `safe_cell`: a text cell beginning with `=`, `+`, `-`, `@`, a tab or a carriage
return gets a leading single quote, so `=HYPERLINK(...)` or `=cmd|' /C calc'!A0` typed by a
customer or imported into an article shows as the text it is. `restore_cell` undoes it for the
KB's own import, so an export re-imports unchanged.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from typing import Any

# What spreadsheet programs read as the start of a formula (OWASP, "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_QUOTE = "'"


def _looks_neutralised(text: str) -> bool:
    """Quotes before a formula: what `safe_cell` writes (and what it must quote once more to restore exactly)."""
    return text.startswith(_QUOTE) and text.lstrip(_QUOTE).startswith(FORMULA_STARTS)


def safe_cell(value: Any) -> Any:
    """The cell as a spreadsheet should show it: a quote before text that would run as a formula.

    Numbers the platform computes stay numbers (a negative figure is no formula). Text that already
    starts with a quote before a formula character gets one more, so `restore_cell` gives it back exactly.
    """
    if not isinstance(value, str):
        return value
    if value.startswith(FORMULA_STARTS) or _looks_neutralised(value):
        return _QUOTE + value
    return value


def restore_cell(text: str) -> str:
    """The text `safe_cell` was given (for re-importing an export)."""
    return text[1:] if _looks_neutralised(text) else text


def safe_row(row: Iterable[Any]) -> list[Any]:
    """Every cell of a row through `safe_cell`."""
    return [safe_cell(value) for value in row]


class SafeWriter:
    """csv.writer whose every cell passes `safe_cell`."""

    def __init__(self, out: io.StringIO) -> None:
        self._writer = csv.writer(out)

    def writerow(self, row: Iterable[Any]) -> None:
        """Write one row, neutralised."""
        self._writer.writerow(safe_row(row))


class SafeDictWriter:
    """csv.DictWriter whose every cell passes `safe_cell`."""

    def __init__(self, out: io.StringIO, fieldnames: list[str]) -> None:
        self._writer = csv.DictWriter(out, fieldnames=fieldnames)

    def writeheader(self) -> None:
        """Write the header row (our own field names)."""
        self._writer.writeheader()

    def writerow(self, row: Mapping[str, Any]) -> None:
        """Write one row, neutralised."""
        self._writer.writerow({key: safe_cell(value) for key, value in row.items()})
