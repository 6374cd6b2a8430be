"""Card numbers, CVVs and PINs never survive into storage or logs beyond the last four digits."""

from __future__ import annotations

import logging

import pytest

from core.log import MaskingFilter
from core.masking import mask_sensitive


@pytest.mark.parametrize(
    ("text", "masked", "last4"),
    [
        ("карта 4276 1600 1234 5678", "карта •••• 5678", ("5678",)),
        ("card 4276-1600-1234-5678 please", "card •••• 5678 please", ("5678",)),
        ("4276160012345678", "•••• 5678", ("5678",)),
        ("номер 2200 7001 2345 6789 012", "номер •••• 9012", ("9012",)),
    ],
)
def test_full_card_numbers_keep_only_the_last_four_digits(text: str, masked: str, last4: tuple[str, ...]) -> None:
    result = mask_sensitive(text)
    assert result.text == masked
    assert result.card_last4 == last4
    assert result.found == frozenset({"card_number"})


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("cvv 123", "cvv ***"),
        ("CVC: 987", "CVC: ***"),
        ("мой пин-код 1234", "мой пин-код ***"),
        ("PIN 0000", "PIN ***"),
        ("код 456 на обороте", "код *** на обороте"),
    ],
)
def test_secret_codes_are_hidden(text: str, masked: str) -> None:
    result = mask_sensitive(text)
    assert result.text == masked
    assert result.found == frozenset({"secret_code"})


@pytest.mark.parametrize(
    "text", ["последние цифры 1234", "баланс 12 345 рублей", "позвоните 8 800 000-00-00", "договор 2024", "•••• 1234"]
)
def test_ordinary_numbers_are_left_alone(text: str) -> None:
    result = mask_sensitive(text)
    assert result.text == text
    assert not result.changed


def test_log_lines_are_masked(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test.masking")
    logger.addFilter(MaskingFilter())
    with caplog.at_level(logging.INFO, logger="test.masking"):
        logger.info("customer typed %s", "4276 1600 1234 5678 cvv 321")
    logger.filters.clear()
    assert caplog.messages == ["customer typed •••• 5678 cvv ***"]
