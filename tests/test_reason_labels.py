"""Every hand-off reason reads as words on the staff pages, in both languages, never as a raw code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from handoff.conversations import HandoffReason

WEB = Path(__file__).resolve().parent.parent / "web"
_REASON_KEY = re.compile(r'^\s*"reason\.([a-z_]+)":\s*"([^"]+)"', re.MULTILINE)


def _labels(page: str, language: str) -> dict[str, str]:
    source = (WEB / page / "texts" / f"{language}.js").read_text(encoding="utf-8")
    return dict(_REASON_KEY.findall(source))


@pytest.mark.parametrize("page", ["console", "supervisor"])
@pytest.mark.parametrize("language", ["ru", "en"])
def test_a_supervisor_and_an_operator_read_every_handoff_reason_in_their_language(page: str, language: str) -> None:
    labels = _labels(page, language)
    missing = [reason.value for reason in HandoffReason if not labels.get(reason.value, "").strip()]
    assert missing == [], f"{page}/{language} has no label for {missing}"
