"""A conversation keeps its language until the customer clearly writes in the other one (issue 11)."""

from __future__ import annotations

import pytest

from core.language import conversation_language, requested_language


@pytest.mark.parametrize("text", ["ok", "Visa", "SMS", "Mastercard", "SMS 1234", "1234", "ok спасибо", "/affirm"])
def test_a_latin_word_or_digits_keep_a_russian_conversation_russian(text: str) -> None:
    assert conversation_language(text, "ru") == "ru"


@pytest.mark.parametrize("text", ["да", "спасибо", "Сбер"])
def test_a_single_russian_word_keeps_an_english_conversation_english(text: str) -> None:
    assert conversation_language(text, "en") == "en"


@pytest.mark.parametrize(
    ("text", "current", "expected"),
    [
        ("yes please connect me", "ru", "en"),
        ("ok where do i see the reason", "ru", "en"),
        ("нет это всё спасибо", "en", "ru"),
        ("карта Visa не работает", "ru", "ru"),
        ("my Мир card", "en", "en"),
    ],
)
def test_two_words_in_the_other_language_switch_it(text: str, current: str, expected: str) -> None:
    assert conversation_language(text, current) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(("text", "expected"), [("hello", "en"), ("привет", "ru"), ("1234", None)])
def test_the_first_message_sets_the_language_when_it_has_letters(text: str, expected: str | None) -> None:
    assert conversation_language(text, None) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("in russian please", "ru"),
        ("can we speak russian", "ru"),
        ("English?", "en"),
        ("по-английски можно?", "en"),
        ("давайте на русском", "ru"),
        ("говорите по русски", "ru"),
        ("how much is that in russian rubles right now", None),
        ("переведи на английский слово кошка", None),
        ("english or russian", None),
        ("привет", None),
    ],
)
def test_a_short_message_that_names_a_language_asks_for_it(text: str, expected: str | None) -> None:
    assert requested_language(text) == expected
