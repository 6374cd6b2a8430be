"""The calibrated answer decision (knowledge_base/decision.py): its data stays apart, its parts do what they say."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml

from knowledge_base import decision

ROOT = Path(__file__).resolve().parents[1]


def test_the_held_out_questions_are_read_by_the_report_alone() -> None:
    # The held-out split must not reach training (the seed, bot/data) or the calibration (kb_decision.py --fit).
    found = subprocess.run(
        ["git", "grep", "-l", "kb_heldout", "--", "*.py", "*.json", "*.sh", "*.toml", "*.cfg"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    # Besides the report (and this test), only the decision module's docstring names it.
    assert sorted(found) == ["bench/kb_decision.py", "knowledge_base/decision.py", "tests/test_kb_decision.py"]
    module = (ROOT / "knowledge_base" / "decision.py").read_text(encoding="utf-8")
    docstring_end = module.index('"""', 3)
    assert module.rindex("kb_heldout") < docstring_end
    source = (ROOT / "bench" / "kb_decision.py").read_text(encoding="utf-8")
    calibration = source[source.index("def calibration_rows") : source.index("def _matrix")]
    assert "HELD_OUT" not in calibration and "held_out" not in calibration


def test_the_shipped_model_matches_the_features() -> None:
    model = decision.default_model()
    assert model is not None
    assert 0 < model.answer <= model.sure <= 1
    assert len(model.top.weights) == len(decision.FEATURES)


@pytest.mark.parametrize(
    ("question", "title", "opposed"),
    [
        ("как заблокировать карту?", "Разблокировка карты", True),
        ("заблокируйте мне карточку", "Разблокировка карты", True),
        ("how do I block my card?", "Unblocking a card", True),
        ("карта заблокирована, почему?", "Разблокировка карты", False),
        ("my card got blocked how do i unlock it", "Unblocking a card", False),
        ("как открыть вклад", "Закрытие счёта и карты", True),
        ("how do i open a deposit", "Closing an account or card", True),
        ("хочу закрыть счёт", "Закрытие счёта и карты", False),
        ("what time does the office close", "Branch opening hours", False),
    ],
)
def test_an_article_doing_the_opposite_of_the_request_is_recognised(question: str, title: str, opposed: bool) -> None:
    assert decision.opposes(question, title) is opposed


def test_the_regression_learns_a_separating_direction() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(400, 3))
    y = (x[:, 0] - 0.5 * x[:, 2] > 0).astype(np.float64)
    model = decision.fit_logistic(x, y)
    assert model.probability(np.array([2.0, 0.0, 0.0])) > 0.9
    assert model.probability(np.array([-2.0, 0.0, 0.0])) < 0.1
    assert model.weights[0] > abs(model.weights[1])


def test_no_held_out_question_is_in_the_training_or_calibration_data() -> None:
    held_out = yaml.safe_load((ROOT / "bench" / "data" / "kb_heldout.yaml").read_text(encoding="utf-8"))
    questions = [i["q"] for lang in ("ru", "en") for i in held_out[lang]]
    questions += [q for lang in ("ru", "en") for q in held_out["unknown"][lang]]
    assert len({q for q in questions if any("а" <= ch <= "я" for ch in q.lower())}) >= 150
    sources = [ROOT / "knowledge_base" / "data" / "kb_seed.yaml", *sorted((ROOT / "bot" / "data").rglob("*.yml"))]
    sources += [ROOT / "bench" / "data" / name for name in ("kb_eval.yaml", "kb_unknown.yaml", "off_topic.txt")]
    training = "\n".join(_normalised(path.read_text(encoding="utf-8")) for path in sources)
    lines = {line.strip(" -{}\"'") for line in training.splitlines()} | set(re.findall(r'"([^"]+)"', training))
    assert [q for q in questions if _normalised(q) in lines] == []


def _normalised(text: str) -> str:
    """Lower case without the question mark and quotes, so a copied question is found however it was typed."""
    return text.lower().replace("?", "").replace("ё", "е").replace("q: ", "")
