"""Every text exists in both languages; money and dates look the way the bank prints them."""

from __future__ import annotations

import string
from datetime import UTC, datetime
from decimal import Decimal

from actions.formatting import format_amount, format_bank_date, format_signed_amount
from actions.texts import TEXTS


def test_every_text_has_russian_first_then_english_with_the_same_placeholders() -> None:
    for key, variants in TEXTS.items():
        assert list(variants) == ["ru", "en"], key
        fields = [{f for _, f, _, _ in string.Formatter().parse(v) if f} for v in variants.values()]
        assert fields[0] == fields[1], key


def test_russian_amounts_use_non_breaking_spaces_and_the_ruble_sign() -> None:
    assert format_amount(Decimal("12345.67"), "ru") == "12\u00a0345,67\u00a0₽"
    assert format_amount(Decimal("0.5"), "ru") == "0,50\u00a0₽"
    assert format_signed_amount(Decimal("-1245.60"), "ru") == "-1\u00a0245,60\u00a0₽"
    assert format_signed_amount(Decimal("5000"), "ru") == "+5\u00a0000,00\u00a0₽"


def test_english_amounts_put_the_currency_code_first() -> None:
    assert format_amount(Decimal("12345.67"), "en") == "RUB\u00a012,345.67"
    assert format_signed_amount(Decimal("-540"), "en") == "-RUB\u00a0540.00"


def test_dates_are_moscow_dates() -> None:
    # 22:30 UTC is already the next day in Moscow (UTC+3).
    late_evening_utc = datetime(2026, 11, 24, 22, 30, tzinfo=UTC)
    assert format_bank_date(late_evening_utc, "ru") == "25.11.2026"
    assert format_bank_date(late_evening_utc, "en") == "25 Nov 2026"
