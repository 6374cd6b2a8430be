"""Custom NLU pipeline components of the bank assistant."""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
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
