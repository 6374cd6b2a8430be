"""The answer decision: how likely the top article is the right one, from the rankers' own evidence.

One fixed threshold on the fused score (the decision to 2026-12) withheld many right answers: a
short question ("еду в грузию, карта будет работать?") scores lower than a long one however clear
it is, and a close second article says little when both rankers agree on the first. Here two
small logistic regressions read the query's evidence (`FEATURES`: the top fused score, its
margins, each ranker's score for the top article and whether the rankers agree on it, the question's
length and language) and give

- `p_top`: the probability that the top article is the one the customer needs, and
- `p_relevant`: the probability that one of the first three is.

Fitted by bench/kb_decision.py on the *calibration* split only (leave-one-question-out over the
seed, bench/data/kb_eval.yaml, kb_unknown.yaml, off_topic.txt), never on the held-out test
(bench/data/kb_heldout.yaml); the coefficients and cut-offs are knowledge_base/data/decision.json.
Decision: `p_top` ≥ `answer` answers; below `sure` the answer carries the next one or two articles as
"Не то? Возможно, вы про…" buttons; otherwise `p_relevant` ≥ `clarify` asks "did you mean",
else an honest miss.

Harmful answers: an article that does the opposite of what the question asks (unblocking for
"заблокировать", closing for "открыть") is never answered or offered (`opposes`).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from knowledge_base.embeddings import Matrix

MODEL_FILE = Path(__file__).with_name("data") / "decision.json"

FEATURES: tuple[str, ...] = (
    "top",  # fused score of the first article
    "margin",  # first minus second fused score
    "margin23",  # second minus third
    "semantic",  # the first article's semantic score (best question and prototype blended)
    "best_question",  # its best single question's cosine
    "whitened",  # its whitened-prototype cosine
    "chars",  # its character n-gram BM25 (normalised)
    "answers",  # its answer-stems BM25
    "stems",  # its question-stems BM25
    "semantic_margin",  # its semantic score minus the best other article's
    "whitened_margin",  # the same for the whitened prototype
    "semantic_agrees",  # 1 when the semantic ranker alone puts the same article first
    "lexical_agrees",  # 1 when the lexical rankers (stems + chars) put it first
    "top_z",  # the top fused score in standard deviations above the mean article
    "words",  # log(1 + words in the question)
    "english",  # 1 for English
    "coverage",  # share of the question's words the KB knows that the first article's texts contain
    "coverage_margin",  # the same minus the best of the second and third articles'
    "unknown_words",  # share of the question's content words no article contains ("вклад" in a KB without deposits)
)


@dataclass(frozen=True)
class Coverage:
    """How the question's own words fall on the KB: the first three articles' share of them, and the unknown share.

    A sentence model scores a question by its gist; the words say whether the first article is about
    what was asked ("дважды списали": both words in the dispute article) or only near it, and whether the
    question is about something no article covers at all.
    """

    top: float = 0.0
    others: float = 0.0
    unknown: float = 0.0


def features(
    components: tuple[Matrix, ...],
    fused: Matrix,
    prototype_share: float,
    words: int,
    english: bool,
    coverage: Coverage | None = None,
) -> npt.NDArray[np.float64]:
    """The decision's inputs for one query: SearchIndex.components' six arrays, their fusion, the word coverage."""
    coverage = coverage or Coverage()
    best, prototype, stem_scores, char_scores, answer_scores, whitened = components
    size = len(fused)
    if size == 0:
        return np.zeros(len(FEATURES), dtype=np.float64)
    order = np.argsort(-fused, kind="stable")
    top = int(order[0])
    second = float(fused[order[1]]) if size > 1 else 0.0
    third = float(fused[order[2]]) if size > 2 else 0.0
    semantic = (1 - prototype_share) * best + prototype_share * prototype

    def margin_of(values: Matrix) -> float:
        if size == 1:
            return float(values[top])
        others = np.delete(values, top)
        return float(values[top] - others.max())

    lexical = stem_scores + char_scores
    std = float(fused.std())
    row = [
        float(fused[top]),
        float(fused[top]) - second,
        second - third,
        float(semantic[top]),
        float(best[top]),
        float(whitened[top]),
        float(char_scores[top]),
        float(answer_scores[top]),
        float(stem_scores[top]),
        margin_of(semantic),
        margin_of(whitened),
        float(int(np.argmax(semantic)) == top),
        float(int(np.argmax(lexical)) == top and float(lexical.max()) > 0),
        (float(fused[top]) - float(fused.mean())) / std if std > 0 else 0.0,
        math.log1p(words),
        float(english),
        coverage.top,
        coverage.top - coverage.others,
        coverage.unknown,
    ]
    return np.asarray(row, dtype=np.float64)


@dataclass(frozen=True)
class Logistic:
    """A logistic regression over standardised features."""

    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float

    def probability(self, x: npt.NDArray[np.float64]) -> float:
        """P(label = 1) for one feature row."""
        z = (np.asarray(x, dtype=np.float64) - np.asarray(self.mean)) / np.asarray(self.scale)
        logit = float(z @ np.asarray(self.weights) + self.bias)
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, logit))))

    def to_json(self) -> dict[str, Any]:
        """As stored in decision.json."""
        return {"mean": list(self.mean), "scale": list(self.scale), "weights": list(self.weights), "bias": self.bias}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Logistic:
        """From decision.json."""
        return cls(
            mean=tuple(float(v) for v in raw["mean"]),
            scale=tuple(float(v) for v in raw["scale"]),
            weights=tuple(float(v) for v in raw["weights"]),
            bias=float(raw["bias"]),
        )


def fit_logistic(
    x: npt.NDArray[np.float64],
    y: npt.NDArray[np.float64],
    *,
    weights: npt.NDArray[np.float64] | None = None,
    l2: float = 1.0,
    steps: int = 50,
) -> Logistic:
    """Newton's method on the L2-penalised, row-weighted log-likelihood (standardised features, unpenalised bias)."""
    w = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=np.float64)
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale = np.where(scale < 1e-9, 1.0, scale)
    z = (x - mean) / scale
    design = np.hstack([z, np.ones((len(z), 1))])
    theta = np.zeros(design.shape[1])
    penalty = np.full(design.shape[1], l2)
    penalty[-1] = 0.0
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-np.clip(design @ theta, -50, 50)))
        gradient = design.T @ (w * (p - y)) + penalty * theta
        hessian = (design * (w * p * (1 - p))[:, None]).T @ design + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hessian, gradient)
        theta -= step
        if float(np.abs(step).max()) < 1e-8:
            break
    return Logistic(
        mean=tuple(float(v) for v in mean),
        scale=tuple(float(v) for v in scale),
        weights=tuple(float(v) for v in theta[:-1]),
        bias=float(theta[-1]),
    )


@dataclass(frozen=True)
class DecisionModel:
    """Both regressions and the cut-offs chosen on calibration data (see bench/kb_decision.py)."""

    top: Logistic
    relevant: Logistic
    answer: float  # p_top at or above: answer
    sure: float  # p_top at or above: answer without alternatives
    clarify: float  # p_relevant at or above (and not answered): "did you mean"

    def to_json(self) -> dict[str, Any]:
        """As stored in decision.json."""
        return {
            "features": list(FEATURES),
            "top": self.top.to_json(),
            "relevant": self.relevant.to_json(),
            "answer": self.answer,
            "sure": self.sure,
            "clarify": self.clarify,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> DecisionModel:
        """From decision.json; ValueError when it was fitted for other features."""
        if list(raw.get("features") or []) != list(FEATURES):
            raise ValueError("decision.json was fitted for other features; run python -m bench.kb_decision --fit")
        return cls(
            top=Logistic.from_json(raw["top"]),
            relevant=Logistic.from_json(raw["relevant"]),
            answer=float(raw["answer"]),
            sure=float(raw["sure"]),
            clarify=float(raw["clarify"]),
        )


@lru_cache(maxsize=1)
def default_model() -> DecisionModel | None:
    """The shipped model (knowledge_base/data/decision.json); None when it is missing."""
    if not MODEL_FILE.exists():
        return None
    return DecisionModel.from_json(json.loads(MODEL_FILE.read_text(encoding="utf-8")))


# --- Opposite requests --------------------------------------------------------------------------
# Words that *ask* for an action (infinitive, imperative, "I will"), not the state it left behind:
# "карта заблокирована, почему?" is about unblocking, "заблокируйте карту" is not.
_ASKS: dict[str, re.Pattern[str]] = {
    "block": re.compile(
        r"\b(заблок\w*(ть|те|уй|ую|ем)|заблоч\w*(ть|те|ь)|блокир\w*(ть|те|уй)|замороз\w*(ть|те)|заморозь"
        r"|block|freeze|lock|on hold)\b",
        re.IGNORECASE,
    ),
    "unblock": re.compile(r"\b(разблок\w*|разблоч\w*|unblock\w*|unfreeze\w*|unlock\w*|снять блок\w*)\b", re.IGNORECASE),
    "close": re.compile(r"\b(закр(ыть|ойте|ой|ою|оем)|close|closing|shut)\b", re.IGNORECASE),
    "open": re.compile(r"\b(откр(ыть|ойте|ой|ою|оем)|open|opening)\b", re.IGNORECASE),
}
# What an article's title says it does, nouns included ("Разблокировка карты", "Closing an account").
_DOES: dict[str, re.Pattern[str]] = {
    "unblock": re.compile(r"\b(разблок\w*|unblock\w*)", re.IGNORECASE),
    "block": re.compile(r"\b(блокировка|blocking a card)\b", re.IGNORECASE),
    # Nouns of the act only: "Branch opening hours" is not about opening anything.
    "close": re.compile(r"\b(закрыти\w*|closing an?)\b", re.IGNORECASE),
    "open": re.compile(r"\b(открыти\w*|opening an?)\b", re.IGNORECASE),
}
OPPOSITES: dict[str, str] = {"block": "unblock", "unblock": "block", "close": "open", "open": "close"}


def asks(text: str) -> set[str]:
    """The actions a question asks for, by the verbs it uses; both of a pair means neither."""
    found = {name for name, pattern in _ASKS.items() if pattern.search(text)}
    return {name for name in found if OPPOSITES[name] not in found}


def does(title: str) -> set[str]:
    """What an article's title says it does."""
    return {name for name, pattern in _DOES.items() if pattern.search(title)}


def opposes(question: str, title: str) -> bool:
    """Whether answering the article would do the opposite of what the question asks."""
    wanted = asks(question)
    return any(OPPOSITES[action] in wanted for action in does(title))
