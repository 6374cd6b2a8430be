"""Experiment: a classifier head trained on the indexed questions, as a re-ranking term of the KB search.

The issue suggested "a light classifier head trained on the KB's own questions at publish time".
This trains a softmax regression (numpy, full-batch gradient descent) on the embeddings of the
indexed BANKING77 rows (10 per category, the same split as bench/kb_search.py), picks the head's
share on the dev rows and prints hit@1 on the test rows for the default fusion, the head alone
and the fusion plus the head. It is an experiment, not the product's search: see
knowledge_base/README.md for why the head is not used.

Usage: python -m bench.kb_classifier_head
"""

from __future__ import annotations

import random
import time

import numpy as np

from bench.kb_search import CachedEncoder, Query, banking77
from knowledge_base.config import default_model
from knowledge_base.embeddings import Matrix, load_encoder
from knowledge_base.search import SearchIndex

# Cosines of e5 lie in a narrow band; scaling them makes the softmax separable in few steps.
_SCALE = 30.0
_L2 = 1e-3
_EPOCHS = 300
_STEP = 0.5
_SHARES = (0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0)


def train_head(vectors: Matrix, labels: np.ndarray, classes: int) -> tuple[Matrix, Matrix]:
    """Softmax regression weights and biases for (vectors -> article index)."""
    weights = np.zeros((vectors.shape[1], classes), dtype=np.float32)
    bias = np.zeros(classes, dtype=np.float32)
    targets = np.eye(classes, dtype=np.float32)[labels]
    scaled = vectors * _SCALE
    for _ in range(_EPOCHS):
        grad = (_softmax(scaled @ weights + bias) - targets) / len(scaled)
        weights -= _STEP * (scaled.T @ grad + _L2 * weights)
        bias -= _STEP * grad.sum(axis=0)
    return weights, bias


def _softmax(logits: np.ndarray) -> Matrix:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    result: Matrix = (shifted / shifted.sum(axis=1, keepdims=True)).astype(np.float32)
    return result


def _hit_at_1(scores: Matrix, expected: np.ndarray) -> float:
    return float((scores.argmax(axis=1) == expected).mean())


def main() -> None:
    inner = load_encoder(default_model())
    if inner is None:
        raise SystemExit("The classifier head needs an embedding model (KB_EMBEDDING_MODEL is none).")
    encoder = CachedEncoder(inner)
    articles, dev, test = banking77(random.Random(42))
    index = SearchIndex(articles, encoder)
    ids = index.ids("en")
    texts = [q for a in articles for q in a.questions["en"]]
    labels = np.array([i for i, a in enumerate(articles) for _ in a.questions["en"]])
    started = time.perf_counter()
    weights, bias = train_head(encoder.encode(texts), labels, len(articles))
    print(f"classifier_head.train_s {time.perf_counter() - started:.2f} ({len(texts)} questions, {len(ids)} articles)")

    def scores(queries: list[Query]) -> tuple[Matrix, Matrix, np.ndarray]:
        w = index.weights
        fused = []
        for text, _ in queries:
            fused.append(w.fuse(index.components(text, "en")))
        head = _softmax((encoder.encode([t for t, _ in queries]) * _SCALE) @ weights + bias)
        return np.stack(fused), head, np.array([ids.index(e) for _, e in queries])

    dev_fused, dev_head, dev_expected = scores(dev)
    share = max(_SHARES, key=lambda s: _hit_at_1(dev_fused + s * dev_head, dev_expected))
    test_fused, test_head, test_expected = scores(test)
    print(f"classifier_head.banking77_test_hit1.fusion {_hit_at_1(test_fused, test_expected):.3f}")
    print(f"classifier_head.banking77_test_hit1.head_alone {_hit_at_1(test_head, test_expected):.3f}")
    combined = _hit_at_1(test_fused + share * test_head, test_expected)
    print(f"classifier_head.banking77_test_hit1.fusion_plus_head {combined:.3f} (share {share} chosen on dev)")


if __name__ == "__main__":
    main()
