"""Button payloads the customer may send back: only the ones our bot offers."""

from __future__ import annotations

import re
from typing import Any

from core import json_body

_PAYLOAD_RE = re.compile(r"^/(?P<intent>[a-z_]{1,40})(?P<entities>\{.*\})?$", re.DOTALL)

# Intents that our buttons carry, and the entity values each button may set.
_BUTTON_INTENTS = frozenset(
    {
        "affirm",
        "deny",
        "request_operator",
        "check_balance",
        "recent_transactions",
        "block_card",
        "inform",
        "greet",
        "help",
        "faq",
    }
)
_ENTITY_PATTERNS: dict[str, re.Pattern[str]] = {
    "card_last4": re.compile(r"^\d{4}$"),
    "product_type": re.compile(r"^(card|account|credit_card)$"),
    "kb_article": re.compile(r"^[a-z0-9_\-]{1,64}$"),
    # "Помогло / Не помогло" after a knowledge-base answer (issue 20; on the phone keys 1 / 2).
    "kb_vote": re.compile(r"^(helpful|not_helpful)$"),
    "handoff_reason": re.compile(r"^(kb_escalate|kb_no_answer)$"),
}


def is_payload(text: str) -> bool:
    """Whether the text is a button payload rather than typed words."""
    return text.startswith("/")


def is_known_payload(text: str) -> bool:
    """Whether a payload is one our buttons could have sent.

    Rasa trusts `/intent{...}` messages blindly, so anything else (a forged
    intent, an entity with an operator or an odd value) is stopped here.
    """
    match = _PAYLOAD_RE.match(text)
    if not match or match.group("intent") not in _BUTTON_INTENTS:
        return False
    raw_entities = match.group("entities")
    if raw_entities is None:
        return True
    try:
        entities: Any = json_body.loads(raw_entities, max_depth=2)
    except json_body.BadInput:
        return False
    if not isinstance(entities, dict):
        return False
    return all(
        isinstance(key, str)
        and key in _ENTITY_PATTERNS
        and isinstance(value, str)
        and _ENTITY_PATTERNS[key].match(value) is not None
        for key, value in entities.items()
    )
