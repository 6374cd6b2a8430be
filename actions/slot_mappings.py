"""Fill language from the gateway's metadata, customer_id and customer_verified from its signed identity."""

from __future__ import annotations

from typing import Any

from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import ValidationAction
from rasa_sdk.interfaces import Tracker
from rasa_sdk.types import DomainDict

from actions.conversation import latest_metadata, verified_customer_id
from core.language import DEFAULT_LANGUAGE, parse_language

# The slots this action owns; others (product_type, card_last4, ...) are Rasa's own mappings.
_METADATA_SLOTS = ["language", "customer_id", "customer_verified"]


def _metadata_customer_id(tracker: Tracker) -> str | None:
    # The slots drive the dialogue (rules on customer_verified); they follow the signed identity only.
    return verified_customer_id(tracker)


class ValidateSlotMappings(ValidationAction):
    """action_validate_slot_mappings: the gateway decides language and identity, never the customer's text.

    Each extract method returns {} when the slot already holds the value, so a
    conversation's tracker gets a SlotSet only when something changed.
    """

    async def required_slots(
        self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[str]:
        """Only the metadata slots; leaving out the others keeps rasa_sdk from re-emitting them every turn."""
        return [slot for slot in _METADATA_SLOTS if slot in domain_slots]

    async def extract_language(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """The gateway's language for this message; a missing or unknown value keeps the current one."""
        language = parse_language(latest_metadata(tracker).get("language"))
        current = tracker.get_slot("language")
        if language is None:
            return {} if current is not None else {"language": DEFAULT_LANGUAGE}
        return {} if language == current else {"language": language}

    async def extract_customer_id(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """The verified customer id; a message without one signs the conversation out (token expired, logout)."""
        customer_id = _metadata_customer_id(tracker)
        return {} if customer_id == tracker.get_slot("customer_id") else {"customer_id": customer_id}

    async def extract_customer_verified(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """True exactly when this message carries a verified customer id."""
        verified = _metadata_customer_id(tracker) is not None
        return {} if verified is tracker.get_slot("customer_verified") else {"customer_verified": verified}

    # rasa_sdk validates every slot that changed and logs a warning when a slot has no
    # validate method; the extract methods above already checked the values, so these pass them on.

    def validate_language(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Pass on the language extract_language normalised."""
        return {"language": value}

    def validate_customer_id(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Pass on the id extract_customer_id checked."""
        return {"customer_id": value}

    def validate_customer_verified(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Pass on the flag extract_customer_verified derived."""
        return {"customer_verified": value}
