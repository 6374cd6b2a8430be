"""NLU quality and cost of the bank assistant: held-out set, cross-validation, off-topic rejection, parse time.

Prints one line per figure:
  held-out: intent accuracy and macro-F1 for Russian and for English on bench/data/nlu_test_{ru,en}.yml,
  written separately from the training data (the script stops if any of those texts is in bot/data),
  by a model trained on all of bot/data;
  cross-validation: the same two figures per language from `rasa test nlu --cross-validation --folds 5`
  on bot/data (each example's language is that of its file: ru*.yml or en*.yml);
  off-topic: the share of the 100 off-topic and nonsense inputs in bench/data/off_topic.txt (50 ru +
  50 en, none in the training data) classified out_of_scope or nlu_fallback, and end to end: adding
  those classified faq for which the knowledge base then admits a miss;
  with --compare CONFIG: the held-out figures, `rasa train` time and `/model/parse` p50/p95 (wall and
  the Rasa process's CPU time per parse) of both configurations, their servers running side by side
  and parsing the held-out texts in alternation, so both see the same machine load.
Macro-F1 averages F1 over the intents that occur among that language's examples; an nlu_fallback
prediction counts as a miss.
Usage: `. scripts/env.sh && $APP_VENV/bin/python -m bench.nlu [--model MODEL.tar.gz] [--skip-cv]
[--compare other_config.yml]` (cross-validation: about 25 minutes on two busy cores).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from core.language import detect_language

ROOT = Path(__file__).resolve().parent.parent
NLU_DIR = ROOT / "bot" / "data" / "nlu"
DATA_DIR = ROOT / "bench" / "data"
OFF_TOPIC_FILE = DATA_DIR / "off_topic.txt"
HELD_OUT_FILES = {"ru": DATA_DIR / "nlu_test_ru.yml", "en": DATA_DIR / "nlu_test_en.yml"}
FOLDS = 5
REJECTING_INTENTS = frozenset({"out_of_scope", "nlu_fallback"})
# Parses per configuration for the timing (the held-out texts, repeated).
PARSE_ROUNDS = 2

_INTENT_RE = re.compile(r"^\s+- intent: (\S+)")
_EXAMPLE_RE = re.compile(r"^\s+- (.+)$")
_ANNOTATION_RE = re.compile(r"\[([^\]]*)\](?:\([^)]*\)|\{[^}]*\})")


@dataclass(frozen=True)
class Prediction:
    """One test result: the annotated and the predicted intent of a text."""

    text: str
    target: str
    predicted: str


def rasa_executable() -> Path:
    """The rasa CLI of the Rasa environment; scripts/env.sh exports RASA_VENV."""
    venv = os.environ.get("RASA_VENV")
    if not venv:
        sys.exit("RASA_VENV is not set: run `. scripts/env.sh` first.")
    return Path(venv) / "bin" / "rasa"


def rasa_env() -> dict[str, str]:
    """Rasa's environment: bot.* components import from the repository root."""
    return os.environ | {"PYTHONPATH": str(ROOT)}


def run_rasa(args: list[str]) -> None:
    """Run a rasa command from the repository root."""
    subprocess.run([str(rasa_executable()), *args], cwd=ROOT, env=rasa_env(), check=True, stdout=subprocess.DEVNULL)


def plain(example: str) -> str:
    """An example's text without entity annotations."""
    return _ANNOTATION_RE.sub(r"\1", example).strip()


def read_examples(path: Path) -> list[tuple[str, str]]:
    """(text, intent) for every example of a Rasa NLU YAML file."""
    examples: list[tuple[str, str]] = []
    intent = None
    for line in path.read_text(encoding="utf-8").splitlines():
        header = _INTENT_RE.match(line)
        if header:
            intent = header.group(1)
            continue
        match = _EXAMPLE_RE.match(line)
        if match and intent and line.startswith("      - "):
            examples.append((plain(match.group(1)), intent))
    return examples


def example_languages() -> dict[str, str]:
    """Map each training example's plain text to the language of its file."""
    languages: dict[str, str] = {}
    for path in sorted(NLU_DIR.glob("*.yml")):
        language = "ru" if path.stem.startswith("ru") else "en" if path.stem.startswith("en") else None
        if language is None:
            continue
        for text, _ in read_examples(path):
            languages[text] = language
    return languages


def held_out() -> dict[str, list[tuple[str, str]]]:
    """The held-out examples per language; stops when one of them is also a training example."""
    training = {text.lower() for path in NLU_DIR.glob("*.yml") for text, _ in read_examples(path)}
    sets = {language: read_examples(path) for language, path in HELD_OUT_FILES.items()}
    leaked = [text for examples in sets.values() for text, _ in examples if text.lower() in training]
    if leaked:
        sys.exit(f"held-out examples also in bot/data (remove them from one side): {leaked}")
    return sets


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


def cross_validation(work: Path, config: Path) -> list[Prediction]:
    """Run Rasa's k-fold cross-validation on bot/data and collect every test prediction."""
    out_dir = work / "cv"
    run_rasa(
        [
            "test", "nlu", "--nlu", "bot/data", "--config", str(config), "--cross-validation",
            "--folds", str(FOLDS), "--out", str(out_dir), "--successes", "--no-plot",
        ]
    )  # fmt: skip
    return read_predictions(out_dir)


def train(work: Path, config: Path, name: str) -> tuple[Path, float]:
    """Train a whole model (NLU and dialogue) on bot/data; returns it and the wall time."""
    started = time.perf_counter()
    run_rasa(
        [
            "train", "--config", str(config), "--data", "bot/data", "--domain", "bot/domain.yml",
            "--out", str(work / "models"), "--fixed-model-name", name, "--quiet",
        ]
    )  # fmt: skip
    return work / "models" / f"{name}.tar.gz", time.perf_counter() - started


def parse_texts(model: Path, texts: list[str]) -> list[str]:
    """The intent the model gives each text, through the whole NLU pipeline (bench/nlu_parse.py)."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", encoding="utf-8", delete=False) as handle:
        handle.write("\n".join(texts) + "\n")
        lines_file = Path(handle.name)
    try:
        completed = subprocess.run(
            [str(rasa_executable().parent / "python"), "-m", "bench.nlu_parse", str(model), str(lines_file)],
            cwd=ROOT,
            env=rasa_env(),
            check=True,
            capture_output=True,
            text=True,
        )
    finally:
        lines_file.unlink()
    results = [json.loads(line) for line in completed.stdout.splitlines() if line.startswith("{")]
    if len(results) != len(texts):
        raise RuntimeError(f"expected {len(texts)} predictions, got {len(results)}; see bench/nlu_parse.py")
    return [str(r["intent"]) for r in results]


def print_held_out(model: Path, label: str = "") -> None:
    """Accuracy and macro-F1 per language on the held-out set, and the wrong predictions."""
    for language, examples in held_out().items():
        predicted = parse_texts(model, [text for text, _ in examples])
        items = [Prediction(t, i, p) for (t, i), p in zip(examples, predicted, strict=True)]
        print(f"nlu held-out{label} {language}: intent accuracy {accuracy(items):.3f} (n={len(items)})")
        print(f"nlu held-out{label} {language}: intent macro-F1 {macro_f1(items):.3f}")
        for p in items:
            if p.target != p.predicted:
                print(f"  wrong{label} {language}: {p.text!r} {p.target} -> {p.predicted}", file=sys.stderr)


def print_cross_validation(work: Path, config: Path) -> None:
    """Accuracy and macro-F1 per language over every held-out prediction."""
    languages = example_languages()
    started = time.perf_counter()
    predictions = cross_validation(work, config)
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


def print_off_topic(model: Path) -> None:
    """Share of off-topic and nonsense inputs rejected, by NLU alone and end to end."""
    lines = [line.strip() for line in OFF_TOPIC_FILE.read_text(encoding="utf-8").splitlines() if line.strip()]
    predicted = list(zip(lines, parse_texts(model, lines), strict=True))
    total = len(predicted)
    rejected = sum(intent in REJECTING_INTENTS for _, intent in predicted)
    print(f"off-topic/nonsense rejected (out_of_scope or nlu_fallback): {rejected / total:.2f} ({rejected}/{total})")
    for text, intent in predicted:
        if intent not in REJECTING_INTENTS:
            print(f"  not rejected: {text!r} -> {intent}", file=sys.stderr)
    missed = knowledge_base_misses([text for text, intent in predicted if intent == "faq"])
    print(
        "off-topic/nonsense rejected end to end (also faq that the knowledge base answers with a miss): "
        f"{(rejected + missed) / total:.2f} ({rejected + missed}/{total})"
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its waited-for children (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))
    return ticks / os.sysconf("SC_CLK_TCK")


async def _wait_ready(http: aiohttp.ClientSession, url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"rasa server exited with {process.returncode}")
        try:
            async with http.get(f"{url}/status") as resp:
                if resp.status == 200 and (await resp.json()).get("model_file"):
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(1)
    raise RuntimeError("rasa server did not start in 600 s")


def start_server(model: Path) -> tuple[str, subprocess.Popen[bytes]]:
    """A Rasa server with the HTTP API for a model, on a free port; its URL and process."""
    port = _free_port()
    args = ["run", "--enable-api", "--model", str(model), "--port", str(port), "--interface", "127.0.0.1"]
    process = subprocess.Popen(
        [str(rasa_executable()), *args],
        cwd=ROOT,
        env=rasa_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return f"http://127.0.0.1:{port}", process


async def parse_timings(models: dict[str, Path]) -> None:
    """p50/p95 of `/model/parse` per model, servers side by side, requests alternating between them."""
    texts = [text for examples in held_out().values() for text, _ in examples]
    servers: dict[str, tuple[str, subprocess.Popen[bytes]]] = {}
    try:
        for name, model in models.items():
            servers[name] = start_server(model)
        async with aiohttp.ClientSession() as http:
            for url, process in servers.values():
                await _wait_ready(http, url, process)
                for text in texts[:10]:  # warm-up: first parses load lazily
                    async with http.post(f"{url}/model/parse", json={"text": text}) as resp:
                        await resp.read()
            times: dict[str, list[float]] = {name: [] for name in servers}
            cpu: dict[str, float] = dict.fromkeys(servers, 0.0)
            for text in texts * PARSE_ROUNDS:
                for name, (url, process) in servers.items():
                    before = _cpu_seconds(process.pid)
                    started = time.perf_counter()
                    async with http.post(f"{url}/model/parse", json={"text": text}) as resp:
                        await resp.read()
                    times[name].append((time.perf_counter() - started) * 1000)
                    cpu[name] += _cpu_seconds(process.pid) - before
        for name, values in times.items():
            values.sort()
            p95 = values[int(0.95 * (len(values) - 1))]
            print(
                f"nlu parse {name}: p50 {statistics.median(values):.1f} ms, p95 {p95:.1f} ms, "
                f"CPU {1000 * cpu[name] / len(values):.1f} ms/parse (n={len(values)})"
            )
    finally:
        for _, process in servers.values():
            process.terminate()
            process.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="trained model (default: train one with config.yml)")
    parser.add_argument("--config", type=Path, default=ROOT / "config.yml", help="pipeline to measure")
    parser.add_argument(
        "--compare", type=Path, help="a second pipeline (or its trained .tar.gz): held-out and parse time beside"
    )
    parser.add_argument("--skip-cv", action="store_true", help="skip the cross-validation")
    parser.add_argument("--cv-only", action="store_true", help="only the cross-validation")
    args = parser.parse_args()
    print(f"nlu bench: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load {os.getloadavg()}")
    with tempfile.TemporaryDirectory(prefix="bench-nlu-") as tmp:
        work = Path(tmp)
        if not args.cv_only:
            if args.model:
                model = args.model.resolve()
            else:
                model, seconds = train(work, args.config.resolve(), "main")
                print(f"nlu rasa train ({args.config.name}): wall time {seconds:.0f} s")
            print_held_out(model)
            print_off_topic(model)
            if args.compare:
                if args.compare.name.endswith(".tar.gz"):
                    other = args.compare.resolve()  # a model trained before (e.g. for bench/turn_cost.py too)
                else:
                    other, seconds = train(work, args.compare.resolve(), "compare")
                    print(f"nlu rasa train ({args.compare.name}): wall time {seconds:.0f} s")
                print_held_out(other, f" [{args.compare.name}]")
                print_off_topic(other)
                asyncio.run(parse_timings({args.config.name: model, args.compare.name: other}))
        if not args.skip_cv:
            print_cross_validation(work, args.config.resolve())


if __name__ == "__main__":
    main()
