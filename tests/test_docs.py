"""The documentation stays true: its links lead somewhere, and every setting the code reads is documented.

A reader who follows a link in the README or a guide lands on a file (and a heading) that exists; an
operator looking for a setting finds every environment variable the code reads in the configuration
table of docs/operations.md.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
# Packages whose environment variables the configuration table must list.
CODE_PACKAGES = ("core", "handoff", "connectors", "actions", "knowledge_base", "outbound")
CONFIGURATION = ROOT / "docs" / "operations.md"

_FENCE = re.compile(r"^\s*(```|~~~)")
_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_HTML_REF = re.compile(r"""<(?:img|a)\b[^>]*?\b(?:src|href)=["']([^"']+)["']""", re.IGNORECASE)
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_NAME = r"([A-Z][A-Z0-9_]*)"
_ENV_READS = [
    re.compile(rf"os\.environ\.get\(\s*[\"']{_NAME}[\"']"),
    re.compile(rf"os\.environ\[\s*[\"']{_NAME}[\"']\s*\]"),
    re.compile(rf"[\"']{_NAME}[\"']\s+(?:not\s+)?in\s+os\.environ"),
    re.compile(rf"getenv\(\s*[\"']{_NAME}[\"']"),
    re.compile(rf"required_env\(\s*[\"']{_NAME}[\"']"),
    re.compile(rf"_env_[a-z_]+\(\s*[\"']{_NAME}[\"']"),
]


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "").lower()
    kept = "".join(c for c in text if c in " -_" or unicodedata.category(c)[0] in "LN")
    return kept.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading anchor of a Markdown file, with GitHub's -1, -2 for repeated headings."""
    seen: dict[str, int] = {}
    found = set()
    for _, line in _prose_lines(path.read_text(encoding="utf-8")):
        match = _HEADING.match(line)
        if not match:
            continue
        anchor = github_anchor(match.group(2))
        count = seen.get(anchor, 0)
        seen[anchor] = count + 1
        found.add(anchor if count == 0 else f"{anchor}-{count}")
    return found


def _prose_lines(text: str) -> list[tuple[int, str]]:
    """Numbered lines outside fenced code blocks (code shows commands, not links or headings)."""
    lines, fenced = [], False
    for number, line in enumerate(text.splitlines(), start=1):
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            lines.append((number, line))
    return lines


def broken_links(document: Path) -> list[str]:
    """Relative links and images of one document that lead nowhere, as 'file:line: target (why)'."""
    problems = []
    for number, line in _prose_lines(document.read_text(encoding="utf-8")):
        visible = re.sub(r"`[^`]*`", "", line)  # code spans show examples, not links
        for target in [*_LINK.findall(visible), *_HTML_REF.findall(visible)]:
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE) or target.startswith("//"):
                continue  # http:, https:, mailto: and the like: outside the repository
            where = f"{document.relative_to(ROOT)}:{number}: {target}"
            path_part, _, anchor = target.partition("#")
            linked = (document.parent / path_part).resolve() if path_part else document
            if not linked.exists():
                shown = linked.relative_to(ROOT) if linked.is_relative_to(ROOT) else linked
                problems.append(f"{where} (no file {shown})")
            elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
                problems.append(f"{where} (no heading with anchor #{anchor} in {linked.relative_to(ROOT)})")
    return problems


def environment_variables_read() -> dict[str, list[str]]:
    """Every environment variable the platform's code reads, with where."""
    found: dict[str, list[str]] = {}
    for package in CODE_PACKAGES:
        for source in sorted((ROOT / package).rglob("*.py")) if (ROOT / package).is_dir() else []:
            text = source.read_text(encoding="utf-8")
            for pattern in _ENV_READS:
                for match in pattern.finditer(text):
                    line = text.count("\n", 0, match.start()) + 1
                    found.setdefault(match.group(1), []).append(f"{source.relative_to(ROOT)}:{line}")
    return found


def documented_variables() -> set[str]:
    """Names in the first column of the configuration tables of docs/operations.md."""
    names = set()
    for _, line in _prose_lines(CONFIGURATION.read_text(encoding="utf-8")):
        if line.lstrip().startswith("|"):
            first_cell = line.strip().strip("|").split("|")[0]
            names.update(re.findall(r"`([A-Z][A-Z0-9_]*)`", first_cell))
    return names


def test_the_documentation_is_where_the_readme_says() -> None:
    for name in ("operators", "supervisors", "content", "integrations", "operations", "architecture", "benchmarks"):
        assert (ROOT / "docs" / f"{name}.md").is_file(), f"docs/{name}.md is missing"
    assert len((ROOT / "README.md").read_text(encoding="utf-8")) <= 12_000, (
        "README.md grew past ~10,000 characters: move details into the guide in docs/ they belong to"
    )


def test_every_relative_link_and_image_resolves() -> None:
    problems = [problem for document in DOCUMENTS for problem in broken_links(document)]
    assert not problems, "Broken links or images in the documentation:\n" + "\n".join(problems)


def test_every_environment_variable_the_code_reads_is_in_the_configuration_table() -> None:
    read = environment_variables_read()
    assert "MONGODB_URI" in read and "GATEWAY_PORT" in read, "the scan found none of the known settings"
    missing = {name: places for name, places in read.items() if name not in documented_variables()}
    assert not missing, (
        "Environment variables the code reads but docs/operations.md's configuration table does not list "
        "(add a row `| `NAME` | default | meaning |` to the table under '## Configuration'):\n"
        + "\n".join(f"  {name} (read at {', '.join(places)})" for name, places in sorted(missing.items()))
    )


def test_anchors_are_made_as_github_makes_them() -> None:
    assert github_anchor("Knowledge base (`bench/kb_search.py`, `bench/kb_speed.py`)") == (
        "knowledge-base-benchkb_searchpy-benchkb_speedpy"
    )
    assert github_anchor("Русский") == "русский"
    assert "configuration" in anchors(CONFIGURATION)
