"""A CSV opened in a spreadsheet shows what customers typed as text, never runs it as a formula."""

from __future__ import annotations

import csv
import io

import pytest

from core.csv_export import safe_cell, to_csv


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        ('=HYPERLINK("http://evil.example","click")', '\'=HYPERLINK("http://evil.example","click")'),
        ("+7 900 123-45-67", "'+7 900 123-45-67"),
        ("-1+2", "'-1+2"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("Всё быстро, спасибо", "Всё быстро, спасибо"),
        ("2026-12-07T09:00:00+00:00", "2026-12-07T09:00:00+00:00"),
    ],
)
def test_a_text_cell_that_would_start_a_formula_is_quoted(typed: str, shown: str) -> None:
    assert safe_cell(typed) == shown


def test_numbers_stay_numbers_and_nothing_is_lost() -> None:
    text = to_csv(["who", "score", "comment"], [["demo-ivan", -3, "=1+1"], ["demo-anna", None, "ok, thanks"]])
    rows = list(csv.reader(io.StringIO(text)))
    assert rows == [["who", "score", "comment"], ["demo-ivan", "-3", "'=1+1"], ["demo-anna", "", "ok, thanks"]]
