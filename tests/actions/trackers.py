"""Build real rasa_sdk Trackers the way Rasa sends them to the action server, and read what actions said."""

from __future__ import annotations

from typing import Any

from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.interfaces import Tracker
from rasa_sdk.types import DomainDict

from core.identity import Voucher, sign_voucher
from core.settings import Settings

NBSP = "\u00a0"

# The parts of bot/domain.yml the actions look at (slot mappings and the form), copied so the tests need no YAML.
DOMAIN: DomainDict = {
    "intents": [],
    "entities": ["card_last4", "product_type"],
    "slots": {
        "language": {"type": "text", "mappings": [{"type": "custom", "action": "action_validate_slot_mappings"}]},
        "customer_id": {"type": "text", "mappings": [{"type": "custom", "action": "action_validate_slot_mappings"}]},
        "customer_verified": {
            "type": "bool",
            "initial_value": False,
            "mappings": [{"type": "custom", "action": "action_validate_slot_mappings"}],
        },
        "product_type": {"type": "categorical", "mappings": [{"type": "from_entity", "entity": "product_type"}]},
        "card_last4": {"type": "text", "mappings": [{"type": "from_entity", "entity": "card_last4"}]},
        "block_confirmed": {
            "type": "bool",
            "mappings": [
                {
                    "type": "from_intent",
                    "intent": intent,
                    "value": value,
                    "conditions": [{"active_loop": "block_card_form", "requested_slot": "block_confirmed"}],
                }
                for intent, value in (("affirm", True), ("deny", False))
            ],
        },
        "handoff_reason": {"type": "text", "mappings": [{"type": "custom"}]},
    },
    "responses": {},
    "actions": [],
    "forms": {"block_card_form": {"required_slots": ["card_last4", "block_confirmed"]}},
}


# The conversation id every tracker of these tests has unless a test says otherwise.
SENDER_ID = "conv-42"


def metadata(
    customer_id: str | None = None,
    language: str = "ru",
    channel: str = "webchat",
    *,
    conversation_id: str = SENDER_ID,
    secret: str | None = None,
) -> dict[str, Any]:
    """What the gateway attaches to every message, signed as handoff/bot.py signs it.

    `secret` defaults to the one the actions read (IDENTITY_SIGNING_SECRET, the local default in tests).
    """
    method = "customer_token" if customer_id else None
    voucher = Voucher(conversation_id=conversation_id, channel=channel, customer_id=customer_id, method=method)
    return {
        "channel": channel,
        "language": language,
        "customer_id": customer_id,
        "identity_method": method,
        "redacted": [],
        "identity": sign_voucher(voucher, secret or Settings.from_env().identity_signing_secret),
    }


def user_event(
    text: str, intent: str, meta: dict[str, Any], entities: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    parse_data = {
        "text": text,
        "intent": {"name": intent, "confidence": 0.99},
        "entities": entities or [],
        "metadata": meta,
    }
    return {"event": "user", "text": text, "parse_data": parse_data, "metadata": meta}


def tracker(
    text: str = "",
    intent: str = "greet",
    *,
    meta: dict[str, Any] | None = None,
    slots: dict[str, Any] | None = None,
    entities: list[dict[str, Any]] | None = None,
    earlier: list[dict[str, Any]] | None = None,
    after: list[dict[str, Any]] | None = None,
    active_loop: str | None = None,
    sender_id: str = SENDER_ID,
) -> Tracker:
    """A tracker whose latest event is this customer message (plus `after`: slot candidates Rasa appended)."""
    message = user_event(text, intent, meta if meta is not None else metadata(), entities)
    all_slots = {"customer_verified": False} | (slots or {})
    return Tracker(
        sender_id=sender_id,
        slots=all_slots,
        latest_message=message["parse_data"],
        events=[*(earlier or []), message, *(after or [])],
        paused=False,
        followup_action=None,
        active_loop={"name": active_loop} if active_loop else {},
        latest_action_name="action_listen",
    )


def verified(customer_id: str, language: str = "ru") -> dict[str, Any]:
    """Slots of a conversation the gateway verified."""
    return {"customer_id": customer_id, "customer_verified": True, "language": language}


def texts(dispatcher: CollectingDispatcher) -> list[str]:
    """The texts the actions sent, in order."""
    return [m["text"] for m in dispatcher.messages if m.get("text")]


def rub(amount: str) -> str:
    """An expected amount as written in a test ('1 200,00 ₽'), with the non-breaking spaces the bot sends."""
    return amount.replace(" ", NBSP)
