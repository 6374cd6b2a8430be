"""No call of action_validate_slot_mappings on a turn where none of its slots can change (issue 22).

Rasa 3.6 runs action_extract_slots after every customer message, and it calls the action server's
action_validate_slot_mappings (actions/slot_mappings.py) every time the domain has one: 2.9 CPU-ms of
Rasa per turn plus the action server's work, although the action almost always answers "nothing
changed". It owns three slots, filled from the gateway's metadata: `language` (the message's language),
`customer_id` and `customer_verified` (from the identity the gateway signs for each message). Rasa has no
setting to skip it, so this wraps ActionExtractSlots' validation step: when the message's metadata says
exactly what those slots already hold, the step returns the extracted slots as the action would (it
passes other slots on unchanged) and skips the call.

The identity's claims are read here without checking the signature (Rasa does not hold the gateway's
secret). That is safe because skipping can only *keep* slots as they are, and only when the claims name
this conversation, have not expired and match the slots: a forged statement can at most leave a verified
conversation verified, and no action trusts the slot for data, each checks the signature of the message
itself (actions/conversation.py, verified_customer_id). Any other message (new language, sign-in,
sign-out, expired or missing statement) goes to the action as before.
`CC_SLOT_MAPPINGS_EVERY_TURN=true` restores Rasa's call on every turn (the benchmarks' "before").
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import time
from typing import Any

import rasa
from rasa.core.actions.action import ActionExtractSlots
from rasa.shared.core.constants import ACTION_VALIDATE_SLOT_MAPPINGS
from rasa.shared.core.events import Event, SlotSet
from rasa.shared.core.trackers import DialogueStateTracker

from core.language import parse_language

logger = logging.getLogger(__name__)

PATCHED_RASA_VERSION = "3.6.21"
# A statement this close to its expiry goes to the action, which signs the conversation out when it lapses.
_EXPIRY_MARGIN_SECONDS = 5


def unverified_claims(token: object) -> dict[str, Any] | None:
    """The claims of a JWT without checking its signature (None when it is not a JWT)."""
    if not isinstance(token, str) or token.count(".") != 2:
        return None
    payload = token.split(".")[1]
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (binascii.Error, ValueError):
        return None
    return claims if isinstance(claims, dict) else None


def slots_settled(tracker: DialogueStateTracker, now: float | None = None) -> bool:
    """Whether action_validate_slot_mappings would change none of its slots for the latest message.

    Mirrors actions/slot_mappings.py: language from the metadata (a missing or unknown one keeps a set
    slot), customer_id and customer_verified from the signed identity.
    """
    metadata = tracker.latest_message.metadata if tracker.latest_message else None
    if not isinstance(metadata, dict):
        return False
    claims = unverified_claims(metadata.get("identity"))
    if claims is None or claims.get("cid") != tracker.sender_id:
        return False
    expires = claims.get("exp")
    if (
        not isinstance(expires, (int, float))
        or expires < (time.time() if now is None else now) + _EXPIRY_MARGIN_SECONDS
    ):
        return False
    subject = claims.get("sub")
    if subject is not None and (not isinstance(subject, str) or not subject):
        return False
    language, current = parse_language(metadata.get("language")), tracker.get_slot("language")
    if current is None or (language is not None and language != current):
        return False
    return tracker.get_slot("customer_id") == subject and tracker.get_slot("customer_verified") is (subject is not None)


_original_validation = ActionExtractSlots._execute_validation_action


async def _execute_validation_action(
    self: ActionExtractSlots,
    extraction_events: list[Event],
    output_channel: Any,
    nlg: Any,
    tracker: DialogueStateTracker,
    domain: Any,
) -> list[Event]:
    """Rasa's validation step, without the action server's call when its slots are settled."""
    if ACTION_VALIDATE_SLOT_MAPPINGS in domain.user_actions and slots_settled(tracker):
        # What Rasa returns when the action sets nothing: the extracted slots as they are.
        return [event for event in extraction_events if isinstance(event, SlotSet)]
    return await _original_validation(self, extraction_events, output_channel, nlg, tracker, domain)


def apply() -> bool:
    """Install the skip on the Rasa version it was written for; True when installed."""
    if os.environ.get("CC_SLOT_MAPPINGS_EVERY_TURN", "false").lower() in {"true", "1", "yes", "on"}:
        return False
    if rasa.__version__ != PATCHED_RASA_VERSION:
        logger.warning(
            "Rasa %s is not %s: slot mappings are validated on every turn", rasa.__version__, PATCHED_RASA_VERSION
        )
        return False
    ActionExtractSlots._execute_validation_action = _execute_validation_action  # type: ignore[method-assign]
    return True
