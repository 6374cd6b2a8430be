"""NLU quality of the bank assistant: per-language cross-validation and off-topic rejection.

Prints one line per figure:
  intent accuracy and macro-F1 for Russian and for English examples, from
  `rasa test nlu --cross-validation --folds 5` on bot/data (each example's
  language is the language of the file it comes from: ru.yml or en*.yml);
  the share of the 100 off-topic and nonsense inputs in bench/data/off_topic.txt
  (50 ru + 50 en, none of them in the training data) that a model trained on all
  of bot/data classifies as out_of_scope or nlu_fallback, and end to end: adding
  those classified faq for which the knowledge base then admits a miss.
Macro-F1 averages F1 over the intents that occur among that language's examples;
an nlu_fallback prediction counts as a miss.
Usage: `. scripts/env.sh && $APP_VENV/bin/python -m bench.nlu [--model MODEL.tar.gz]`
(about 12 minutes on two cores; with --model the off-topic part reuses that model).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from core.language import detect_language

ROOT = Path(__file__).resolve().parent.parent
NLU_DIR = ROOT / "bot" / "data" / "nlu"
OFF_TOPIC_FILE = ROOT / "bench" / "data" / "off_topic.txt"
FOLDS = 5
REJECTING_INTENTS = frozenset({"out_of_scope", "nlu_fallback"})

_EXAMPLE_RE = re.compile(r"^\s+- (.+)$")
_ANNOTATION_RE = re.compile(r"\[([^\]]*)\](?:\([^)]*\)|\{[^}]*\})")


@dataclass(frozen=True)
class Prediction:
    """One cross-validation result as Rasa writes it to intent_successes/errors.json."""

    text: str
    target: str
    predicted: str


def rasa_executable() -> Path:
    """The rasa CLI of the Rasa environment; scripts/env.sh exports RASA_VENV."""
    venv = os.environ.get("RASA_VENV")
    if not venv:
        sys.exit("RASA_VENV is not set: run `. scripts/env.sh` first.")
    return Path(venv) / "bin" / "rasa"


def run_rasa(args: list[str]) -> None:
    """Run a rasa command from the repository root, where bot.* components import."""
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    subprocess.run([str(rasa_executable()), *args], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)


def example_languages() -> dict[str, str]:
    """Map each training example's plain text to the language of its file."""
    languages: dict[str, str] = {}
    for path in sorted(NLU_DIR.glob("*.yml")):
        language = "ru" if path.stem.startswith("ru") else "en" if path.stem.startswith("en") else None
        if language is None:
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            match = _EXAMPLE_RE.match(line)
            if match:
                languages[_ANNOTATION_RE.sub(r"\1", match.group(1)).strip()] = language
    return languages


def read_predictions(out_dir: Path) -> list[Prediction]:
    """All test-fold predictions: Rasa splits them between a successes and an errors file."""
    predictions: list[Prediction] = []
    for name in ("intent_successes.json", "intent_errors.json"):
        path = out_dir / name
        if not path.exists():
            continue
        for item in json.loads(path.read_text(encoding="utf-8")):
            predicted = (item.get("intent_prediction") or {}).get("name") or "None"
            predictions.append(Prediction(text=item["text"], target=item["intent"], predicted=predicted))
    return predictions


def accuracy(predictions: list[Prediction]) -> float:
    """Share of examples whose predicted intent is the annotated one."""
    return sum(p.target == p.predicted for p in predictions) / len(predictions)


def macro_f1(predictions: list[Prediction]) -> float:
    """Unweighted mean F1 over the intents annotated in these examples."""
    true_positive: Counter[str] = Counter()
    predicted_count: Counter[str] = Counter()
    target_count: Counter[str] = Counter()
    for p in predictions:
        target_count[p.target] += 1
        predicted_count[p.predicted] += 1
        if p.target == p.predicted:
            true_positive[p.target] += 1
    scores = []
    for intent in target_count:
        precision = true_positive[intent] / predicted_count[intent] if predicted_count[intent] else 0.0
        recall = true_positive[intent] / target_count[intent]
        scores.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    return sum(scores) / len(scores)


def cross_validation(work: Path) -> list[Prediction]:
    """Run Rasa's k-fold cross-validation on bot/data and collect every test prediction."""
    out_dir = work / "cv"
    run_rasa(
        [
            "test", "nlu", "--nlu", "bot/data", "--config", "config.yml", "--cross-validation",
            "--folds", str(FOLDS), "--out", str(out_dir), "--successes", "--no-plot",
        ]
    )  # fmt: skip
    return read_predictions(out_dir)


def off_topic_predictions(work: Path, model: Path | None) -> list[tuple[str, str]]:
    """(text, predicted intent) for each off-topic input."""
    if model is None:
        run_rasa(
            [
                "train", "nlu", "--config", "config.yml", "--nlu", "bot/data", "--domain", "bot/domain.yml",
                "--out", str(work / "models"), "--fixed-model-name", "nlu",
            ]
        )  # fmt: skip
        model = work / "models" / "nlu.tar.gz"
    rasa_python = rasa_executable().parent / "python"
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    completed = subprocess.run(
        [str(rasa_python), "-m", "bench.nlu_parse", str(model), str(OFF_TOPIC_FILE)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    results = [json.loads(line) for line in completed.stdout.splitlines() if line.startswith("{")]
    lines = [line for line in OFF_TOPIC_FILE.read_text(encoding="utf-8").splitlines() if line.strip()]
    if len(results) != len(lines):
        raise RuntimeError(f"expected {len(lines)} predictions, got {len(results)}; see bench/nlu_parse.py")
    return [(line.strip(), str(result["intent"])) for line, result in zip(lines, results, strict=True)]


def knowledge_base_misses(texts: list[str]) -> int:
    """How many of these questions the knowledge base (seed articles, configured model) answers with a miss.

    An off-topic question that NLU sends to the FAQ action still ends well when the KB
    admits it does not know: the customer hears an honest "I don't know that yet".
    """
    from knowledge_base.config import default_model
    from knowledge_base.embeddings import load_encoder
    from knowledge_base.search import Decision, SearchIndex
    from knowledge_base.seed import load_seed

    index = SearchIndex(load_seed(), load_encoder(default_model()))
    return sum(index.query(t, detect_language(t) or "ru").decision == Decision.MISS for t in texts)


def print_cross_validation(work: Path) -> None:
    """Accuracy and macro-F1 per language over every held-out prediction."""
    languages = example_languages()
    started = time.perf_counter()
    predictions = cross_validation(work)
    cv_seconds = time.perf_counter() - started
    by_language: dict[str, list[Prediction]] = {"ru": [], "en": []}
    for p in predictions:
        # Texts are unique per file; one without letters in neither map is counted as Russian.
        language = languages.get(p.text) or detect_language(p.text) or "ru"
        by_language[language].append(p)
    for language, items in by_language.items():
        print(f"nlu cv {FOLDS}-fold {language}: intent accuracy {accuracy(items):.3f} (n={len(items)})")
        print(f"nlu cv {FOLDS}-fold {language}: intent macro-F1 {macro_f1(items):.3f}")
    print(f"nlu cv {FOLDS}-fold: wall time {cv_seconds:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="trained model for the off-topic part (default: train one)")
    parser.add_argument("--off-topic-only", action="store_true", help="skip the cross-validation")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-nlu-") as tmp:
        work = Path(tmp)
        if not args.off_topic_only:
            print_cross_validation(work)
        predicted = off_topic_predictions(work, args.model.resolve() if args.model else None)
        total = len(predicted)
        rejected = sum(intent in REJECTING_INTENTS for _, intent in predicted)
        print(
            f"off-topic/nonsense rejected (out_of_scope or nlu_fallback): {rejected / total:.2f} ({rejected}/{total})"
        )
        missed = knowledge_base_misses([text for text, intent in predicted if intent == "faq"])
        print(
            "off-topic/nonsense rejected end to end (also faq that the knowledge base answers with a miss): "
            f"{(rejected + missed) / total:.2f} ({rejected + missed}/{total})"
        )


if __name__ == "__main__":
    main()
