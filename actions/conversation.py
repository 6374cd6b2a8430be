"""What the actions read from the tracker: language, verified customer, channel."""

from __future__ import annotations

from typing import Any

from rasa_sdk.interfaces import Tracker

from core.language import DEFAULT_LANGUAGE, Language, parse_language

# Used in audit records when a message came without channel metadata (e.g. Rasa's own HTTP API).
UNKNOWN_CHANNEL = "unknown"


def latest_metadata(tracker: Tracker) -> dict[str, Any]:
    """The gateway's metadata of the latest customer message ({} when there is none)."""
    metadata = tracker.latest_message.get("metadata") if tracker.latest_message else None
    return metadata if isinstance(metadata, dict) else {}


def language_of(tracker: Tracker) -> Language:
    """The conversation's language: the slot, else this message's metadata, else Russian."""
    return (
        parse_language(tracker.get_slot("language"))
        or parse_language(latest_metadata(tracker).get("language"))
        or DEFAULT_LANGUAGE
    )


def verified_customer_id(tracker: Tracker) -> str | None:
    """The customer id only when the gateway verified it for this conversation, else None.

    Both slots come from the gateway's metadata (action_validate_slot_mappings);
    nothing the customer types can set them.
    """
    customer_id = tracker.get_slot("customer_id")
    if tracker.get_slot("customer_verified") is True and isinstance(customer_id, str) and customer_id:
        return customer_id
    return None


def channel_of(tracker: Tracker) -> str:
    """The channel of the latest message, for audit records."""
    channel = latest_metadata(tracker).get("channel")
    return channel if isinstance(channel, str) and channel else UNKNOWN_CHANNEL
