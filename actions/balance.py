"""action_check_balance: balances of cards and accounts, available limits of credit cards."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rasa_sdk.interfaces import Tracker

from actions.customer_question import CustomerQuestionAction, requested_last4
from actions.formatting import format_amount
from actions.texts import text
from core.banking import Account, AccountKind, BankingBackend, Card, CardKind, ProductType
from core.language import Language


def card_line(card: Card, language: Language) -> str:
    """One card with its balance, or its available limit for a credit card."""
    name = card.display_name + ("" if card.is_active else text(language, "blocked_suffix"))
    if card.kind is CardKind.CREDIT:
        return text(
            language,
            "balance_credit_line",
            card=name,
            available=format_amount(card.available or Decimal(0), language, card.currency),
            limit=format_amount(card.credit_limit or Decimal(0), language, card.currency),
        )
    return text(language, "balance_card_line", card=name, balance=format_amount(card.balance or Decimal(0), language))


def account_line(account: Account, language: Language) -> str:
    """One account with its balance."""
    label = text(language, "account_savings" if account.kind is AccountKind.SAVINGS else "account_current")
    return text(
        language,
        "balance_account_line",
        account=label,
        number=account.masked_number,
        balance=format_amount(account.balance, language, account.currency),
    )


def _section(language: Language, header_key: str, lines: list[str], empty_key: str) -> str:
    return "\n".join([text(language, header_key), *lines]) if lines else text(language, empty_key)


def balance_message(cards: list[Card], accounts: list[Account], product_type: str | None, language: Language) -> str:
    """The answer for one product type, or a summary of every product when none was named."""
    debit = [card_line(c, language) for c in cards if c.kind is CardKind.DEBIT]
    credit = [card_line(c, language) for c in cards if c.kind is CardKind.CREDIT]
    account_lines = [account_line(a, language) for a in accounts]
    if product_type == ProductType.CARD:
        return _section(language, "balance_cards_header", debit, "no_cards")
    if product_type == ProductType.CREDIT_CARD:
        return _section(language, "balance_credit_header", credit, "no_credit_cards")
    if product_type == ProductType.ACCOUNT:
        return _section(language, "balance_accounts_header", account_lines, "no_accounts")
    return _section(language, "balance_summary_header", [*debit, *credit, *account_lines], "no_products")


class ActionCheckBalance(CustomerQuestionAction):
    """Tell a verified customer their balances; narrowed by product_type or card_last4."""

    sign_in_text = "sign_in_balance"

    def name(self) -> str:
        """The action's name in the domain."""
        return "action_check_balance"

    async def answer(self, backend: BankingBackend, customer_id: str, tracker: Tracker, language: Language) -> str:
        """One card when digits were named, else one product type or a summary of every product."""
        cards = await backend.list_cards(customer_id)
        accounts = await backend.list_accounts(customer_id)
        last4 = requested_last4(tracker)
        if last4 is not None:
            card = next((c for c in cards if c.last4 == last4), None)
            return card_line(card, language) if card else text(language, "card_not_found", last4=last4)
        product_type: Any = tracker.get_slot("product_type")
        return balance_message(cards, accounts, product_type, language)
