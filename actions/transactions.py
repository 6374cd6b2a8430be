"""action_recent_transactions: the last operations with dates, merchants and signed amounts."""

from __future__ import annotations

from rasa_sdk.interfaces import Tracker

from actions.customer_question import CustomerQuestionAction, requested_last4
from actions.formatting import format_bank_date, format_signed_amount
from actions.texts import text
from core.banking import BankingBackend, Transaction
from core.language import Language

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


class ActionRecentTransactions(CustomerQuestionAction):
    """Show a verified customer their latest operations, of all products or of one card."""

    sign_in_text = "sign_in_transactions"

    def name(self) -> str:
        """The action's name in the domain."""
        return "action_recent_transactions"

    async def answer(self, backend: BankingBackend, customer_id: str, tracker: Tracker, language: Language) -> str:
        """Newest operation first."""
        last4 = requested_last4(tracker)
        card = None
        if last4 is not None:
            card = next((c for c in await backend.list_cards(customer_id) if c.last4 == last4), None)
            if card is None:
                return text(language, "card_not_found", last4=last4)
        transactions = await backend.recent_transactions(customer_id, limit=RECENT_TRANSACTIONS_COUNT, card_last4=last4)
        if not transactions:
            return text(language, "no_transactions")
        header = text(language, "transactions_card_header", card=card.display_name) if card else None
        lines = [header or text(language, "transactions_header")]
        lines.extend(transaction_line(t, language) for t in transactions)
        return "\n".join(lines)
