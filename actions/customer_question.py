"""What every question about the customer's own products shares: identity first, then the bank, politely on failure."""

from __future__ import annotations

import logging
import re
from abc import ABC, abstractmethod

from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.interfaces import Action, Tracker
from rasa_sdk.types import DomainDict

from actions.conversation import channel_of, language_of, verified_customer_id
from actions.dependencies import DEFAULT_BACKENDS, BackendSource
from actions.texts import text
from core.banking import BankingBackend, BankingError
from core.language import Language

logger = logging.getLogger(__name__)

_LAST4_RE = re.compile(r"\d{4}")
# The payload the web chat opens as its sign-in (the demo sign-in locally, the host page's in production).
SIGN_IN_PAYLOAD = "/sign_in"
# Channels with no sign-in of their own: their customers sign in to the app and write from there.
CHANNELS_WITHOUT_SIGN_IN = frozenset({"telegram", "voice"})


def requested_last4(tracker: Tracker) -> str | None:
    """The card_last4 slot when it holds exactly four digits (payloads can carry anything)."""
    value = tracker.get_slot("card_last4")
    return value if isinstance(value, str) and _LAST4_RE.fullmatch(value) else None


def reset_question_slots(tracker: Tracker) -> list[EventType]:
    """Forget the narrowing of this question so the next one starts fresh (and the block form asks anew)."""
    return [SlotSet(slot, None) for slot in ("product_type", "card_last4") if tracker.get_slot(slot) is not None]


class CustomerQuestionAction(Action, ABC):
    """Answers with one message about a verified customer's products.

    Unverified customers get the same sign-in text whoever they claim to be (nothing
    tells whether an account exists), and a failing bank backend gets an apology.
    Abstract, so rasa_sdk does not register it as an action of its own.
    """

    # What a guest is told (actions/texts.py) in a chat that has a sign-in of its own.
    sign_in_text = "sign_in_required"

    def __init__(self, backends: BackendSource = DEFAULT_BACKENDS) -> None:
        self._backends = backends

    @abstractmethod
    async def answer(self, backend: BankingBackend, customer_id: str, tracker: Tracker, language: Language) -> str:
        """The reply for this verified customer.

        Raises:
            BankingError: when the bank backend fails.
        """

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        """Check identity, ask the bank, reply once."""
        language = language_of(tracker)
        customer_id = verified_customer_id(tracker)
        events = reset_question_slots(tracker)
        if customer_id is None:
            channel = channel_of(tracker)
            if channel in CHANNELS_WITHOUT_SIGN_IN:
                dispatcher.utter_message(text=text(language, "sign_in_required"))
            else:
                button = {"title": text(language, "sign_in_button"), "payload": SIGN_IN_PAYLOAD}
                dispatcher.utter_message(text=text(language, self.sign_in_text), buttons=[button])
            return events
        try:
            message = await self.answer(self._backends.backend(), customer_id, tracker, language)
        except BankingError:
            logger.exception("%s for %s failed", self.name(), customer_id)
            message = text(language, "backend_unavailable")
        dispatcher.utter_message(text=message)
        return events
