"""Embeddings persisted in MongoDB: a second process builds the same index without embedding the articles again."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.db import Database
from knowledge_base import store, vectors
from knowledge_base.config import default_model
from knowledge_base.embeddings import Encoder, Matrix, load_encoder
from knowledge_base.models import ArticleStatus, article_from_input
from knowledge_base.search import texts_to_embed
from knowledge_base.seed import load_seed
from knowledge_base.service import KnowledgeBase

pytest_plugins = ("tests.kb_support",)

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


class CountingEncoder:
    """The real model, counting the texts it is asked to embed (queries included)."""

    def __init__(self, inner: Encoder) -> None:
        self._inner = inner
        self.name = inner.name
        self.texts: list[str] = []

    def encode(self, texts: list[str]) -> Matrix:
        self.texts.extend(texts)
        return self._inner.encode(texts)


@pytest.fixture(scope="module")
def model() -> Encoder:
    encoder = load_encoder(default_model())
    if encoder is None:
        pytest.skip("KB_EMBEDDING_MODEL=none: nothing is embedded, nothing to persist")
    return encoder


async def test_a_second_process_builds_the_same_index_from_stored_vectors(kb_db: Database, model: Encoder) -> None:
    seed = load_seed()
    await store.import_articles(kb_db, seed, by="seed", now=NOW)
    article_texts = set(texts_to_embed(seed))

    # The first process (say, the gateway) embeds every article text and stores the vectors.
    first_model = CountingEncoder(model)
    first = KnowledgeBase(kb_db, first_model)
    await first.refresh()
    assert set(first_model.texts) == article_texts
    assert await kb_db[vectors.COLLECTION].count_documents({}) == len(article_texts)

    # The second process (the action server) starts with an empty cache and embeds no article text.
    second_model = CountingEncoder(model)
    second = KnowledgeBase(kb_db, second_model)
    await second.refresh()
    assert second_model.texts == []
    for question, language in [("забыл пин от карточки", "ru"), ("atm ate my card", "en")]:
        ours, theirs = await first.query(question, language), await second.query(question, language)
        assert ours == theirs and ours.hits
    assert set(second_model.texts) == {"забыл пин от карточки", "atm ate my card"}  # the queries alone

    # A publish: the second process embeds only the new article's texts, and a third process none.
    crypto = article_from_input(
        {
            "id": "crypto",
            "title": {"ru": "Криптовалюта"},
            "questions": {"ru": ["Можно ли купить биткоин через банк?"]},
            "answer": {"ru": "Нет, банк не продаёт криптовалюту."},
        }
    )
    await store.create_article(kb_db, crypto.with_changes(status=ArticleStatus.PUBLISHED), by="anna", now=NOW)
    second_model.texts.clear()
    assert await second.refresh()
    assert set(second_model.texts) == {"Криптовалюта", "Можно ли купить биткоин через банк?"}
    third_model = CountingEncoder(model)
    third = KnowledgeBase(kb_db, third_model)
    await third.refresh()
    assert third_model.texts == []
    assert (await third.query("купить биткоин", "ru")).hits[0].id == "crypto"
