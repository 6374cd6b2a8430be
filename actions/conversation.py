"""What the actions read from the tracker: language, the identity the gateway vouched for, channel."""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk.interfaces import Tracker

from actions.dependencies import DEFAULT_KEYS, IdentityKeys
from core.identity import InvalidVoucher, Voucher, verify_voucher
from core.language import DEFAULT_LANGUAGE, Language, parse_language

logger = logging.getLogger(__name__)

# Used in audit records when a message came without a valid voucher (e.g. Rasa's own HTTP API).
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


def vouched_identity(tracker: Tracker, keys: IdentityKeys = DEFAULT_KEYS) -> Voucher | None:
    """The gateway's signed statement about the latest message of this conversation, or None.

    Slots, plain metadata fields and anything else in the tracker can be written by
    whoever reaches Rasa's API or the action server, so identity comes only from
    the signature (core.identity.sign_voucher), checked against the tracker's own
    conversation id.
    """
    token = latest_metadata(tracker).get("identity")
    try:
        return verify_voucher(token, keys.identity_secret(), tracker.sender_id)
    except InvalidVoucher as err:
        if token is not None:
            logger.warning("Conversation %s: %s", tracker.sender_id, err)
        return None


def verified_customer_id(tracker: Tracker, keys: IdentityKeys = DEFAULT_KEYS) -> str | None:
    """The customer id the gateway vouched for in the latest message, else None (a guest)."""
    voucher = vouched_identity(tracker, keys)
    return voucher.customer_id if voucher is not None else None


def channel_of(tracker: Tracker, keys: IdentityKeys = DEFAULT_KEYS) -> str:
    """The channel the gateway vouched for, for audit records."""
    voucher = vouched_identity(tracker, keys)
    return voucher.channel if voucher is not None and voucher.channel else UNKNOWN_CHANNEL
