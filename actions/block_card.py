"""Blocking a card: block_card_form's validation, its two questions and its submit action."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.interfaces import Action, Tracker
from rasa_sdk.types import DomainDict

from actions.conversation import channel_of, language_of, verified_customer_id
from actions.dependencies import DEFAULT_BACKENDS, BackendSource
from actions.texts import text
from core.banking import BankingBackend, BankingError, BlockStatus, Card
from core.language import Language
from core.masking import mask_pan

logger = logging.getLogger(__name__)

# The gateway turns a typed card number into "•••• 1234" (core.masking.mask_pan) before Rasa sees it.
_MASKED_PAN_RE = re.compile(r"••••\s?(\d{4})(?!\d)")
_ONLY_LAST4_RE = re.compile(r"\s*(\d{4})\s*")
_LAST4_RE = re.compile(r"\d{4}")
# Who blocks in the audit log when the assistant does it on a verified customer's request.
BOT_ACTOR = "bot"
_SIGN_IN_RESPONSE = "utter_block_card_sign_in"


def find_card(cards: list[Card], last4: str) -> Card | None:
    """The customer's card with these digits; an active one wins if two share them."""
    matching = [c for c in cards if c.last4 == last4]
    return next((c for c in matching if c.is_active), matching[0] if matching else None)


async def card_label(backend: BankingBackend, customer_id: str | None, last4: str) -> str:
    """'Мир •••• 5678' when the card can be looked up, else just '•••• 5678'."""
    if customer_id is not None:
        try:
            card = find_card(await backend.list_cards(customer_id), last4)
        except BankingError:
            logger.warning("Could not look up card %s of %s for its name", last4, customer_id, exc_info=True)
        else:
            if card is not None:
                return card.display_name
    return mask_pan(last4)


def inform_payload(last4: str) -> str:
    """The button payload that answers the card question: '/inform{"card_last4":"1234"}'."""
    return "/inform" + json.dumps({"card_last4": last4}, separators=(",", ":"))


class ValidateBlockCardForm(FormValidationAction):
    """validate_block_card_form: only one of the customer's active cards can be blocked."""

    def __init__(self, backends: BackendSource = DEFAULT_BACKENDS) -> None:
        self._backends = backends

    def name(self) -> str:
        """The form's validation action name in the domain."""
        return "validate_block_card_form"

    async def extract_card_last4(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Digits the NLU may miss: a masked card number anywhere, or a message that is just four digits.

        Only while the card is still unknown, so "1234" typed at the confirmation
        step cannot swap the card that is being confirmed.
        """
        if tracker.get_slot("card_last4") is not None:
            return {}
        message = tracker.latest_message.get("text") or ""
        masked = _MASKED_PAN_RE.search(message)
        if masked:
            return {"card_last4": masked.group(1)}
        only_digits = _ONLY_LAST4_RE.fullmatch(message)
        if only_digits and tracker.get_slot("requested_slot") == "card_last4":
            return {"card_last4": only_digits.group(1)}
        return {}

    async def validate_card_last4(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Accept one of the customer's active cards; unknown digits are asked again, a blocked card ends the form.

        Returns:
            The slot to set; `requested_slot: None` stops the form early, after which
            action_block_card runs with nothing confirmed and stays silent.
        """
        language = language_of(tracker)
        customer_id = verified_customer_id(tracker)
        if customer_id is None:
            dispatcher.utter_message(response=_SIGN_IN_RESPONSE)
            return {"card_last4": None, "requested_slot": None}
        if not isinstance(value, str) or not _LAST4_RE.fullmatch(value):
            dispatcher.utter_message(text=text(language, "card_last4_invalid"))
            return {"card_last4": None}
        try:
            card = find_card(await self._backends.backend().list_cards(customer_id), value)
        except BankingError:
            logger.exception("Card lookup for %s failed", customer_id)
            dispatcher.utter_message(text=text(language, "backend_unavailable"))
            return {"card_last4": None, "requested_slot": None}
        if card is None:
            dispatcher.utter_message(text=text(language, "card_unknown", last4=value))
            return {"card_last4": None}
        if not card.is_active:
            dispatcher.utter_message(text=text(language, "card_already_blocked", card=card.display_name))
            return {"card_last4": None, "requested_slot": None}
        return {"card_last4": value}

    async def validate_block_confirmed(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Only a yes or a no (affirm/deny) answers the question; anything else asks again."""
        return {"block_confirmed": value if isinstance(value, bool) else None}


class ActionAskCardLast4(Action):
    """Ask which card to block and offer the customer's active cards as buttons."""

    def __init__(self, backends: BackendSource = DEFAULT_BACKENDS) -> None:
        self._backends = backends

    def name(self) -> str:
        """The form's question action for card_last4."""
        return "action_ask_card_last4"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        """Without buttons when the cards cannot be listed: the customer can still type the digits."""
        language = language_of(tracker)
        customer_id = verified_customer_id(tracker)
        buttons: list[dict[str, Any]] = []
        if customer_id is not None:
            try:
                cards = await self._backends.backend().list_cards(customer_id)
            except BankingError:
                logger.warning("Listing cards of %s for buttons failed", customer_id, exc_info=True)
                cards = []
            buttons = [{"title": c.display_name, "payload": inform_payload(c.last4)} for c in cards if c.is_active]
        dispatcher.utter_message(text=text(language, "ask_card_last4"), buttons=buttons)
        return []


class ActionAskBlockConfirmed(Action):
    """Name the card and ask for a yes or a no."""

    def __init__(self, backends: BackendSource = DEFAULT_BACKENDS) -> None:
        self._backends = backends

    def name(self) -> str:
        """The form's question action for block_confirmed."""
        return "action_ask_block_confirmed"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        """Ask with Да/Нет (Yes/No) buttons that send /affirm and /deny."""
        language = language_of(tracker)
        last4 = str(tracker.get_slot("card_last4") or "")
        label = await card_label(self._backends.backend(), verified_customer_id(tracker), last4)
        buttons = [
            {"title": text(language, "button_yes"), "payload": "/affirm"},
            {"title": text(language, "button_no"), "payload": "/deny"},
        ]
        dispatcher.utter_message(text=text(language, "ask_block_confirmed", card=label), buttons=buttons)
        return []


class ActionBlockCard(Action):
    """The form's submit: block the card if the customer said yes, then forget the form's answers."""

    def __init__(self, backends: BackendSource = DEFAULT_BACKENDS) -> None:
        self._backends = backends

    def name(self) -> str:
        """The action that runs when block_card_form completes."""
        return "action_block_card"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        """Block on yes, reassure on no, stay silent when the form stopped early (it already explained why)."""
        language = language_of(tracker)
        customer_id = verified_customer_id(tracker)
        last4 = tracker.get_slot("card_last4")
        confirmed = tracker.get_slot("block_confirmed")
        events: list[EventType] = [SlotSet("card_last4", None), SlotSet("block_confirmed", None)]
        if not isinstance(last4, str) or not _LAST4_RE.fullmatch(last4):
            if confirmed is False:
                dispatcher.utter_message(text=text(language, "block_denied_no_card"))
            return events
        backend = self._backends.backend()
        if confirmed is False:
            label = await card_label(backend, customer_id, last4)
            dispatcher.utter_message(text=text(language, "block_denied", card=label))
            return events
        if confirmed is not True:
            return events
        if customer_id is None:
            dispatcher.utter_message(response=_SIGN_IN_RESPONSE)
            return events
        dispatcher.utter_message(text=await self._block(backend, tracker, customer_id, last4, language))
        return events

    async def _block(
        self, backend: BankingBackend, tracker: Tracker, customer_id: str, last4: str, language: Language
    ) -> str:
        try:
            result = await backend.block_card(
                customer_id, last4, actor=BOT_ACTOR, channel=channel_of(tracker), conversation_id=tracker.sender_id
            )
        except BankingError:
            logger.exception("Blocking card %s of %s failed", last4, customer_id)
            return text(language, "block_failed", card=mask_pan(last4))
        label = result.card.display_name if result.card else mask_pan(last4)
        if result.status is BlockStatus.BLOCKED:
            return text(language, "card_blocked", card=label)
        if result.status is BlockStatus.ALREADY_BLOCKED:
            return text(language, "card_already_blocked", card=label)
        return text(language, "block_failed", card=label)
