"""action_handoff: tell the customer an operator is coming and tell the gateway why."""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.interfaces import Action, Tracker
from rasa_sdk.types import DomainDict

from actions.conversation import language_of, verified_customer_id
from actions.texts import text

# Reasons the gateway knows (handoff.conversations.HandoffReason); it maps anything else to "other".
CUSTOMER_REQUEST = "customer_request"
COMPLAINT = "complaint"
BLOCK_CARD_UNVERIFIED = "block_card_unverified"
NLU_FALLBACK = "nlu_fallback"
DISPUTED_CHARGE = "disputed_charge"

# Reasons the knowledge base's operator buttons may carry; anything else in a payload is ignored.
_BUTTON_REASONS = frozenset({"kb_escalate", "kb_no_answer"})

_REASON_BY_INTENT = {
    "request_operator": CUSTOMER_REQUEST,
    "complaint": COMPLAINT,
    "nlu_fallback": NLU_FALLBACK,
    "dispute_charge": DISPUTED_CHARGE,
}
# Ways of saying "yes, a person": asking for one, or agreeing right after the bot offered one (rules.yml).
_ASKING_INTENTS = frozenset({"request_operator", "affirm"})


# An explicit request for a person (issue 20): a person named and asked for, whatever else the message says
# ("нужен кредит на машину, позовите специалиста"). It wins over the message's topic.
_PERSON = re.compile(
    r"\b(оператор\w*|специалист\w*|сотрудник\w*|консультант\w*|менеджер\w*|живо\w* человек\w*|человек[аоу]?"
    r"|operator|agent|human|person|representative|specialist|manager|someone)\b",
    re.IGNORECASE,
)
_ASK = re.compile(
    r"\b(позов\w*|позвать|соедин\w*|переключ\w*|переведи\w*|дайте|свяжите|пригласите|поговорить|нужен|нужна|хочу"
    r"|connect|talk|speak|get me|put me through|transfer me|need an?|want an?)\b",
    re.IGNORECASE,
)


def asks_for_a_person(text: str) -> bool:
    """Whether a message asks for a person by name of one ("позовите специалиста", "connect me to an agent")."""
    return bool(_PERSON.search(text)) and bool(_ASK.search(text))


def _intent_of(parse_data: Any) -> str | None:
    intent = parse_data.get("intent") if isinstance(parse_data, dict) else None
    name = intent.get("name") if isinstance(intent, dict) else None
    return name if isinstance(name, str) else None


def _previous_user_intent(tracker: Tracker) -> str | None:
    """The intent of the customer's message before the latest one."""
    user_events = [e for e in reversed(tracker.events) if e.get("event") == "user"]
    return _intent_of(user_events[1].get("parse_data")) if len(user_events) > 1 else None


# Actions that run on every turn and say nothing to the customer.
_SILENT_ACTIONS = frozenset({"action_listen", "action_validate_slot_mappings", None})


def _answers_knowledge_base_offer(tracker: Tracker) -> bool:
    """Whether the bot's turn just before this message was action_answer_faq offering an operator."""
    seen_user = False
    for event in reversed(tracker.events):
        kind = event.get("event")
        if kind == "user":
            if seen_user:
                return False
            seen_user = True
        elif kind == "action" and seen_user and event.get("name") not in _SILENT_ACTIONS:
            return event.get("name") == "action_answer_faq" and tracker.get_slot("operator_offered") is True
    return False


def _button_reason(tracker: Tracker) -> str | None:
    """The reason an operator button carries (`/request_operator{"handoff_reason": "kb_escalate"}`)."""
    for entity in tracker.latest_message.get("entities") or []:
        if isinstance(entity, dict) and entity.get("entity") == "handoff_reason":
            value = entity.get("value")
            return value if value in _BUTTON_REASONS else None
    return None


def handoff_reason(tracker: Tracker) -> str:
    """Why the conversation goes to a person; the gateway routes and prioritises by it.

    An unverified customer who asked to block a card (and was offered an operator
    by utter_block_card_sign_in) goes to the cards team even when their next message
    is "operator" or "yes": that is what the operator must do first. A "yes" to the
    knowledge base's offer carries the reason action_answer_faq left in the slot.
    """
    unverified = verified_customer_id(tracker) is None
    intent = _intent_of(tracker.latest_message)
    button_reason = _button_reason(tracker)
    if intent == "request_operator" and button_reason is not None:
        return button_reason
    if intent == "block_card" and unverified:
        return BLOCK_CARD_UNVERIFIED
    if intent in _ASKING_INTENTS and unverified and _previous_user_intent(tracker) == "block_card":
        return BLOCK_CARD_UNVERIFIED
    slot_reason = tracker.get_slot("handoff_reason")
    if intent in _ASKING_INTENTS and _answers_knowledge_base_offer(tracker) and slot_reason in _BUTTON_REASONS:
        # "yes please connect me" right after "Shall I connect you?" answers that offer: its reason, not a new request.
        return str(slot_reason)
    if intent in _REASON_BY_INTENT:
        return _REASON_BY_INTENT[intent]
    return slot_reason if isinstance(slot_reason, str) and slot_reason else CUSTOMER_REQUEST


class ActionHandoff(Action):
    """Say that an operator is being connected and send {"handoff": {"reason": ...}} to the gateway."""

    def name(self) -> str:
        """The action's name in the domain."""
        return "action_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        """The text first, so channels that ignore custom payloads still tell the customer what happens."""
        reason = handoff_reason(tracker)
        dispatcher.utter_message(text=text(language_of(tracker), "handoff_connecting"))
        dispatcher.utter_message(json_message={"handoff": {"reason": reason}})
        return [SlotSet("handoff_reason", None)] if tracker.get_slot("handoff_reason") is not None else []
