"""action_recent_transactions: the last operations with dates, merchants and signed amounts."""

from __future__ import annotations

import logging

from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.interfaces import Action, Tracker
from rasa_sdk.types import DomainDict

from actions.balance import requested_last4, reset_question_slots
from actions.conversation import language_of, verified_customer_id
from actions.dependencies import DEFAULT_BACKENDS, BackendSource
from actions.formatting import format_bank_date, format_signed_amount
from actions.texts import text
from core.banking import BankingError, Transaction
from core.language import Language

logger = logging.getLogger(__name__)

# Enough to recognise a recent payment, short enough for a phone screen and for the voice channel.
RECENT_TRANSACTIONS_COUNT = 5


def transaction_line(transaction: Transaction, language: Language) -> str:
    """'• 25.11.2026 Пятёрочка: -1 245,60 ₽'."""
    return text(
        language,
        "transaction_line",
        date=format_bank_date(transaction.booked_at, language),
        merchant=transaction.merchant,
        amount=format_signed_amount(transaction.amount, language, transaction.currency),
    )


class ActionRecentTransactions(Action):
    """Show a verified customer their latest operations, of all products or of one card."""

    def __init__(self, backends: BackendSource = DEFAULT_BACKENDS) -> None:
        self._backends = backends

    def name(self) -> str:
        """The action's name in the domain."""
        return "action_recent_transactions"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        """Answer with one message, newest operation first."""
        language = language_of(tracker)
        customer_id = verified_customer_id(tracker)
        events = reset_question_slots(tracker)
        if customer_id is None:
            dispatcher.utter_message(text=text(language, "sign_in_required"))
            return events
        backend = self._backends.backend()
        last4 = requested_last4(tracker)
        try:
            card = None
            if last4 is not None:
                card = next((c for c in await backend.list_cards(customer_id) if c.last4 == last4), None)
                if card is None:
                    dispatcher.utter_message(text=text(language, "card_not_found", last4=last4))
                    return events
            transactions = await backend.recent_transactions(
                customer_id, limit=RECENT_TRANSACTIONS_COUNT, card_last4=last4
            )
        except BankingError:
            logger.exception("Transactions for %s failed", customer_id)
            dispatcher.utter_message(text=text(language, "backend_unavailable"))
            return events
        if not transactions:
            dispatcher.utter_message(text=text(language, "no_transactions"))
            return events
        header = text(language, "transactions_card_header", card=card.display_name) if card else None
        lines = [header or text(language, "transactions_header")]
        lines.extend(transaction_line(t, language) for t in transactions)
        dispatcher.utter_message(text="\n".join(lines))
        return events
