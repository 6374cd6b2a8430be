"""Money and dates as the customer reads them, in Russian or English.

Amounts keep Babel's non-breaking spaces (U+00A0) on purpose: "12 345,67 ₽" must not
break across lines in a chat bubble, between the digit groups or before the ruble
sign. Russian follows Babel's ru_RU pattern ("12 345,67 ₽"); English uses the ISO
code in front ("RUB 12,345.67"), which English-speaking customers read more easily
than the ruble sign. Dates are the bank's (Moscow) dates: "25.11.2026" / "25 Nov 2026".
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from babel.dates import format_date as babel_format_date
from babel.numbers import format_currency

from core.banking import BANK_TIMEZONE, CURRENCY
from core.language import Language

NBSP = "\u00a0"
# "¤" is the currency code for RUB in English locales; the NBSP keeps "RUB" with its number.
_EN_AMOUNT_PATTERN = f"¤{NBSP}#,##0.00"


def format_amount(amount: Decimal, language: Language, currency: str = CURRENCY) -> str:
    """'12 345,67 ₽' (ru) or 'RUB 12,345.67' (en), with non-breaking spaces; negatives get '-'."""
    if language == "en":
        return format_currency(amount, currency, format=_EN_AMOUNT_PATTERN, locale="en_US")
    return format_currency(amount, currency, locale="ru_RU")


def format_signed_amount(amount: Decimal, language: Language, currency: str = CURRENCY) -> str:
    """Like format_amount, with '+' in front of incomes so a list of operations reads at a glance."""
    formatted = format_amount(amount, language, currency)
    return f"+{formatted}" if amount > 0 else formatted


def format_bank_date(moment: datetime, language: Language) -> str:
    """The Moscow date of a moment: '25.11.2026' (ru) or '25 Nov 2026' (en)."""
    local = moment.astimezone(BANK_TIMEZONE).date()
    if language == "en":
        return babel_format_date(local, "d MMM yyyy", locale="en_US")
    return babel_format_date(local, "dd.MM.yyyy", locale="ru_RU")
