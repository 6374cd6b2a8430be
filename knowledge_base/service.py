"""The knowledge base as a process sees it: the current index, refreshed when the published set changes.

Every process that searches (the gateway for the editor's "try a question" box and the
operator console, the action server for the bot) holds its own `KnowledgeBase`. Before a
search it reads the index version counter in MongoDB, at most once per `poll_seconds`,
and rebuilds when the counter moved: a publish reaches every process within
poll_seconds plus the rebuild, without a restart or a background task tied to one loop.
Embeddings are cached by text, so a rebuild after one edit encodes only the new questions, and
persisted in MongoDB (knowledge_base/vectors.py), so a process start or a second process loads what
any process embedded before instead of encoding it again.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
from pymongo.errors import PyMongoError

from core import metrics
from core.db import Database
from knowledge_base import store, vectors
from knowledge_base.decision import DecisionModel
from knowledge_base.decision import default_model as default_decision_model
from knowledge_base.embeddings import Encoder, Matrix
from knowledge_base.models import Article
from knowledge_base.search import FusionWeights, SearchIndex, SearchResult, Thresholds, texts_to_embed

logger = logging.getLogger(__name__)

# Enough for 10,000 articles with several questions each in two languages.
_EMBEDDING_CACHE_SIZE = 200_000


class CachingEncoder:
    """Remembers embeddings by text, so rebuilding the index re-encodes only what changed."""

    def __init__(self, inner: Encoder, max_items: int = _EMBEDDING_CACHE_SIZE) -> None:
        self._inner = inner
        self._cache: OrderedDict[str, Matrix] = OrderedDict()
        self._max = max_items
        # A warm-up thread and the index rebuild (in asyncio.to_thread) may fill the cache at once.
        self._fill_lock = threading.Lock()
        # Vectors computed here and not yet handed to the persistent store (take_new).
        self._new: dict[str, Matrix] = {}
        self.name = inner.name
        self.encoded_texts = 0  # how many texts went to the model (not queries): the tests and bench count it

    def encode(self, texts: list[str]) -> Matrix:
        """Embed, reusing cached rows; queries are not cached (they rarely repeat and would evict questions)."""
        if len(texts) == 1:
            cached = self._cache.get(texts[0])
            return cached.reshape(1, -1) if cached is not None else self._inner.encode(texts)
        with self._fill_lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
            if missing:
                for text, vector in zip(missing, self._inner.encode(missing), strict=True):
                    self._cache[text] = vector
                    self._new[text] = vector
                self.encoded_texts += len(missing)
                while len(self._cache) > self._max:
                    self._cache.popitem(last=False)
            return np.stack([self._cache[t] for t in texts]) if texts else np.zeros((0, 1), dtype=np.float32)

    def missing(self, texts: Iterable[str]) -> list[str]:
        """The texts (each once) that encode() would send to the model now."""
        return [t for t in dict.fromkeys(texts) if t not in self._cache]

    def remember(self, loaded: Mapping[str, Matrix]) -> None:
        """Add vectors computed earlier (by any process, read from the store); they are not new."""
        with self._fill_lock:
            self._cache.update(loaded)
            while len(self._cache) > self._max:
                self._cache.popitem(last=False)

    def take_new(self) -> dict[str, Matrix]:
        """The vectors computed since the last call, for the persistent store."""
        with self._fill_lock:
            new, self._new = self._new, {}
        return new


@dataclass(frozen=True)
class KbConfig:
    """How the KB searches; the defaults are the measured ones (README, "Knowledge base figures")."""

    weights: FusionWeights = field(default_factory=FusionWeights)
    thresholds: Thresholds = field(default_factory=Thresholds)
    # The calibrated answer decision (knowledge_base/decision.py); None: the thresholds above decide.
    decision: DecisionModel | None = field(default_factory=default_decision_model)
    # A publish must reach the bot within 5 s; one cheap read per second per process leaves room for the rebuild.
    poll_seconds: float = 1.0


class KnowledgeBase:
    """One process's view of the published articles."""

    def __init__(self, db: Database, encoder: Encoder | None, config: KbConfig | None = None) -> None:
        self._db = db
        # An encoder shared between KnowledgeBase instances keeps one cache for all of them.
        self._encoder: CachingEncoder | None = (
            encoder if encoder is None or isinstance(encoder, CachingEncoder) else CachingEncoder(encoder)
        )
        self.config = config or KbConfig()
        self._index = SearchIndex(
            [],
            self._encoder,
            weights=self.config.weights,
            thresholds=self.config.thresholds,
            decision_model=self.config.decision,
        )
        self._index_version = -1
        self._checked_at = 0.0
        self._lock = asyncio.Lock()

    @property
    def index(self) -> SearchIndex:
        """The index in use now."""
        return self._index

    async def refresh(self, *, force: bool = False) -> bool:
        """Rebuild if the published set changed since the last build; True when it rebuilt."""
        async with self._lock:
            version = await store.index_version(self._db)
            self._checked_at = time.monotonic()
            if version == self._index_version and not force:
                return False
            articles = await store.published_articles(self._db)
            loaded = await self._load_stored_vectors(articles)
            # Encoding is CPU work: off the event loop.
            self._index = await asyncio.to_thread(
                SearchIndex,
                articles,
                self._encoder,
                weights=self.config.weights,
                thresholds=self.config.thresholds,
                version=version,
                decision_model=self.config.decision,
            )
            self._index_version = version
            stored = await self._store_new_vectors()
            logger.info(
                "KB index v%s: %s articles in %.2f s (%s stored vectors loaded, %s texts embedded and stored)",
                version,
                len(articles),
                self._index.build_seconds,
                loaded,
                stored,
            )
            return True

    async def _load_stored_vectors(self, articles: list[Article]) -> int:
        """Fill the encoder's cache with the persisted vectors of the texts it lacks; how many were found."""
        if self._encoder is None:
            return 0
        missing = self._encoder.missing(texts_to_embed(articles))
        if not missing:
            return 0
        try:
            found = await vectors.load_vectors(self._db, self._encoder.name, missing)
        except PyMongoError:
            # The index can still be built by encoding; slower, not wrong.
            logger.exception("Could not load stored KB embeddings; encoding instead")
            return 0
        self._encoder.remember(found)
        return len(found)

    async def _store_new_vectors(self) -> int:
        """Persist what this process had to encode, so no process encodes it again; how many."""
        if self._encoder is None:
            return 0
        new = self._encoder.take_new()
        if not new:
            return 0
        try:
            await vectors.store_vectors(self._db, self._encoder.name, new)
        except PyMongoError:
            logger.exception("Could not store %s KB embeddings; the next process start will encode them", len(new))
        return len(new)

    async def current(self) -> SearchIndex:
        """The index, refreshed first if the poll interval has passed."""
        if time.monotonic() - self._checked_at >= self.config.poll_seconds:
            await self.refresh()
        return self._index

    async def query(self, text: str, language: str, limit: int = 5) -> SearchResult:
        """Search the current published articles and decide (answer / clarify / miss)."""
        index = await self.current()
        result = await asyncio.to_thread(index.query, text, language, limit)
        metrics.KB_DECISIONS.labels(result.decision.value, language).inc()
        return result
