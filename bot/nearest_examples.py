"""An intent classifier that reads a message by its nearest training examples in sentence-embedding space.

DIET learns its intents from word and character counts plus the sentence embedding, and with a few
dozen examples an intent it over-trusted the words: "сколько калорий в банане" shared "сколько" with the
balance examples and came out check_balance at 0.99, "кто то расплатился моей картой" block_card. Here
the intent is the one whose k nearest examples (by the sentence featurizer's vector: e5 and the
Universal Sentence Encoder fused) are nearest on average: a message about bananas is nearest to the
out_of_scope examples about food. Measured by bench/nlu.py (held-out, off-topic) and
bench/nlu_neighbours.py (5-fold cross-validation of k, temperature and the models' shares on the
training data only). DIET stays in the pipeline for the entities.

Confidences are a softmax of the per-intent scores over `temperature`, so FallbackClassifier's
threshold and ambiguity margin keep their meaning: a message that is about as near to two intents, or
near to none, falls back.

A "yes" with a request in one message ("да, давайте человека", "yes, block it") sits between the
affirmation's examples and the request's, and would fall back as ambiguous. When the two best readings
are the `affirmation` intent and another one (not one of `not_with_affirmation`, such as deny), the
message is that other request, with both readings' confidence: agreeing adds nothing to a request.
Only when both readings carry weight: a plain "ок" stays an affirmation.

An explicit request for a person that names its topic ("нужен кредит на машину, позовите специалиста")
sits between the topic's examples and the request's. When the `explicit_request` intent is one of the
two best readings with at least a fifth of the confidence, it wins with both readings' confidence: the
customer asked for a person, whatever the topic (issue 20).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, INTENT_RANKING_KEY, PREDICTED_CONFIDENCE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

_FILE = "nearest_examples.npz"
# Both readings of a yes-with-a-request must carry at least this confidence; a plain "ок" (affirm 0.95,
# thank 0.05) stays an affirmation.
_COMPOUND_MIN_SHARE = 0.2


def intent_scores(similarities: np.ndarray, labels: np.ndarray, intents: list[str], neighbours: int) -> np.ndarray:
    """Per intent, the mean similarity of its `neighbours` most similar examples (rows: messages).

    Shared with bench/nlu_neighbours.py, which tunes `neighbours` by cross-validation.
    """
    scores = np.empty((similarities.shape[0], len(intents)), dtype=np.float32)
    for column, intent in enumerate(intents):
        own = similarities[:, labels == intent]
        k = min(neighbours, own.shape[1])
        scores[:, column] = np.partition(own, own.shape[1] - k, axis=1)[:, -k:].mean(axis=1)
    return scores


def confidences(scores: np.ndarray, temperature: float) -> np.ndarray:
    """Softmax of the scores over the temperature, per row."""
    z = scores / temperature
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    result: np.ndarray = e / e.sum(axis=1, keepdims=True)
    return result


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class NearestExamplesClassifier(GraphComponent, IntentClassifier):
    """k-nearest-examples intent classifier over the message's dense sentence features."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """Neighbours, the softmax temperature and the ranking's length (tuned values in config.yml)."""
        return {
            "neighbours": 3,
            "temperature": 0.01,
            "ranking_length": 10,
            "affirmation": None,
            "not_with_affirmation": [],
            "explicit_request": None,
        }

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        """At least one neighbour and a positive temperature."""
        if int(config.get("neighbours", 0)) < 1 or float(config.get("temperature", 0)) <= 0:
            raise InvalidConfigException("NearestExamplesClassifier needs neighbours >= 1 and temperature > 0.")

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        vectors: np.ndarray | None = None,
        labels: np.ndarray | None = None,
    ) -> None:
        self._config = config
        self._model_storage = model_storage
        self._resource = resource
        self._vectors = vectors if vectors is not None else np.zeros((0, 0), dtype=np.float32)
        self._labels = labels if labels is not None else np.zeros(0, dtype=str)
        self._intents = sorted(set(self._labels.tolist()))

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> NearestExamplesClassifier:
        """An untrained classifier."""
        return cls(config, model_storage, resource)

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> NearestExamplesClassifier:
        """The examples' vectors and intents saved by train()."""
        try:
            with model_storage.read_from(resource) as directory:
                stored = np.load(directory / _FILE, allow_pickle=False)
                return cls(config, model_storage, resource, stored["vectors"], stored["labels"])
        except (ValueError, FileNotFoundError):
            # Rasa loads components of a model trained without intent examples this way too.
            return cls(config, model_storage, resource)

    @staticmethod
    def _sentence_vector(message: Message) -> np.ndarray | None:
        _, sentence = message.get_dense_features(TEXT)
        if sentence is None:
            return None
        return np.asarray(sentence.features, dtype=np.float32).reshape(-1)

    def train(self, training_data: TrainingData) -> Resource:
        """Keep every intent example's sentence vector (a few MB for a few thousand examples)."""
        vectors, labels = [], []
        for example in training_data.intent_examples:
            vector = self._sentence_vector(example)
            if vector is None:
                raise InvalidConfigException(
                    "NearestExamplesClassifier needs a dense sentence featurizer before it "
                    "(bot.nlu_components.SentenceEmbeddingFeaturizer)."
                )
            vectors.append(vector)
            labels.append(example.get(INTENT))
        self._vectors = np.stack(vectors).astype(np.float32) if vectors else self._vectors
        self._labels = np.asarray(labels, dtype=str)
        self._intents = sorted(set(labels))
        with self._model_storage.write_to(self._resource) as directory:
            np.savez(directory / _FILE, vectors=self._vectors, labels=self._labels)
        return self._resource

    def process(self, messages: list[Message]) -> list[Message]:
        """Set each message's intent and ranking; a message without text or examples gets none (fallback)."""
        for message in messages:
            vector = self._sentence_vector(message)
            if vector is None or not self._intents or not np.any(vector):
                message.set(INTENT, {INTENT_NAME_KEY: None, PREDICTED_CONFIDENCE_KEY: 0.0}, add_to_output=True)
                message.set(INTENT_RANKING_KEY, [], add_to_output=True)
                continue
            scores = intent_scores(
                (self._vectors @ vector)[None, :], self._labels, self._intents, int(self._config["neighbours"])
            )
            probabilities = confidences(scores, float(self._config["temperature"]))[0]
            order = np.argsort(-probabilities)[: max(1, int(self._config["ranking_length"]))]
            ranking = [
                {INTENT_NAME_KEY: self._intents[i], PREDICTED_CONFIDENCE_KEY: float(probabilities[i])} for i in order
            ]
            ranking = self._explicit_request(self._yes_with_a_request(ranking))
            message.set(INTENT, ranking[0], add_to_output=True)
            message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
        return messages

    def _yes_with_a_request(self, ranking: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The request first, with both readings' confidence, when the two best are the affirmation and a request."""
        affirmation = self._config.get("affirmation")
        if not affirmation or len(ranking) < 2:
            return ranking
        first, second = ranking[0], ranking[1]
        names = {first[INTENT_NAME_KEY], second[INTENT_NAME_KEY]}
        if affirmation not in names:
            return ranking
        request = second if first[INTENT_NAME_KEY] == affirmation else first
        if request[INTENT_NAME_KEY] in set(self._config.get("not_with_affirmation") or []):
            return ranking
        if second[PREDICTED_CONFIDENCE_KEY] < _COMPOUND_MIN_SHARE:
            return ranking
        merged = {
            INTENT_NAME_KEY: request[INTENT_NAME_KEY],
            PREDICTED_CONFIDENCE_KEY: first[PREDICTED_CONFIDENCE_KEY] + second[PREDICTED_CONFIDENCE_KEY],
        }
        return [merged, *ranking[2:]]

    def _explicit_request(self, ranking: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The explicit request first, with both readings' confidence, when it is one of the two best."""
        wanted = self._config.get("explicit_request")
        if not wanted or len(ranking) < 2:
            return ranking
        first, second = ranking[0], ranking[1]
        if second[INTENT_NAME_KEY] != wanted or second[PREDICTED_CONFIDENCE_KEY] < _COMPOUND_MIN_SHARE:
            return ranking
        merged = {
            INTENT_NAME_KEY: wanted,
            PREDICTED_CONFIDENCE_KEY: first[PREDICTED_CONFIDENCE_KEY] + second[PREDICTED_CONFIDENCE_KEY],
        }
        return [merged, *ranking[2:]]
