"""Reading articles from the seed / import YAML and writing exports (YAML and CSV)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import yaml

from core.csv_cells import SafeDictWriter, restore_cell
from knowledge_base.models import LANGUAGES, Article, ArticleError, article_from_input

# The seed the project was given (a copy of shared/data/kb_seed.yaml, kept in the repository so a
# clean checkout has it); the setup imports it once, later imports update by id.
DEFAULT_SEED = Path(__file__).resolve().parent / "data" / "kb_seed.yaml"
_CSV_FIELDS = ["id", "status", "tags", "escalate"] + [
    f"{name}_{lang}" for name in ("title", "questions", "answer", "voice_answer") for lang in LANGUAGES
]


def articles_from_yaml(text: str) -> list[Article]:
    """Parse `articles: [...]` YAML (the seed's format) into validated articles.

    Raises:
        ArticleError: naming the article and field that is wrong.
    """
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ArticleError(f"Not valid YAML: {err}") from err
    items = data.get("articles") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise ArticleError("Expected a list of articles under 'articles:'.")
    result: list[Article] = []
    for number, item in enumerate(items, 1):
        try:
            result.append(article_from_input(item))
        except ArticleError as err:
            raise ArticleError(f"Article #{number}: {err}") from err
    return result


def articles_from_csv(text: str) -> list[Article]:
    """Parse the CSV export format (questions one per line inside their cell)."""
    result: list[Article] = []
    for number, raw_row in enumerate(csv.DictReader(io.StringIO(text)), 1):
        # Cells the export neutralised (core.csv_cells) come back as they were written.
        row = {key: restore_cell(value) if isinstance(value, str) else value for key, value in raw_row.items()}
        raw: dict[str, Any] = {"id": row.get("id", ""), "tags": row.get("tags", ""), "escalate": row.get("escalate")}
        for name in ("title", "answer", "voice_answer"):
            raw[name] = {lang: row.get(f"{name}_{lang}") or "" for lang in LANGUAGES}
        raw["questions"] = {lang: (row.get(f"questions_{lang}") or "").splitlines() for lang in LANGUAGES}
        try:
            result.append(article_from_input(raw))
        except ArticleError as err:
            raise ArticleError(f"CSV row #{number}: {err}") from err
    return result


def load_seed(path: Path = DEFAULT_SEED) -> list[Article]:
    """The seed file's articles."""
    return articles_from_yaml(path.read_text(encoding="utf-8"))


def to_yaml(articles: list[Article]) -> str:
    """Export in the seed's format (plus status), so an export re-imports as is."""
    items = [{"id": a.id, "status": a.status.value, **a.content()} for a in articles]
    text: str = yaml.safe_dump({"articles": items}, allow_unicode=True, sort_keys=False, width=120)
    return text


def to_csv(articles: list[Article]) -> str:
    """Export one row per article; questions one per line in their cell."""
    out = io.StringIO()
    # Imported text may start like a formula; the spreadsheet that opens the export must not run it.
    writer = SafeDictWriter(out, fieldnames=_CSV_FIELDS)
    writer.writeheader()
    for a in articles:
        row: dict[str, Any] = {"id": a.id, "status": a.status.value, "tags": ",".join(a.tags), "escalate": a.escalate}
        for lang in LANGUAGES:
            row[f"title_{lang}"] = a.title.get(lang, "")
            row[f"answer_{lang}"] = a.answer.get(lang, "")
            row[f"voice_answer_{lang}"] = a.voice_answer.get(lang, "")
            row[f"questions_{lang}"] = "\n".join(a.questions.get(lang, []))
        writer.writerow(row)
    return out.getvalue()
