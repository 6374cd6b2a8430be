"""How a caller's choice of language is heard, and how the Asterisk line's per-language settings are read."""

from __future__ import annotations

import pytest

from connectors.voice.language_choice import language_named
from connectors.voice.setup import per_language


@pytest.mark.parametrize(
    ("heard", "language"),
    [
        ("English", "en"),
        ("English, please", "en"),
        ("I speak English", "en"),
        ("инглиш плиз", "en"),  # "English, please" as a ru-RU recognizer writes it
        ("инглиш", "en"),
        ("по-английски, пожалуйста", "en"),
        ("на английском языке", "en"),
        ("Russian", "ru"),
        ("по-русски", "ru"),
        ("русский язык", "ru"),
        ("рашн", "ru"),
    ],
)
def test_a_short_answer_naming_a_language_chooses_it(heard: str, language: str | None) -> None:
    assert language_named(heard) == language


@pytest.mark.parametrize(
    "heard",
    [
        "I need my English statement",
        "какой у меня баланс",
        "русский стандарт банк это вы",
        "English or Russian",
        "",
    ],
)
def test_a_request_that_mentions_a_language_is_not_a_choice(heard: str) -> None:
    assert language_named(heard) is None


def test_one_speech_variable_serves_both_languages_or_each_its_own() -> None:
    assert per_language("RECOGNIZED_TEXT") == {"ru": "RECOGNIZED_TEXT", "en": "RECOGNIZED_TEXT"}
    assert per_language("ru=TEXT_RU, en=TEXT_EN") == {"ru": "TEXT_RU", "en": "TEXT_EN"}
    assert per_language("ru=TEXT_RU") == {"ru": "TEXT_RU", "en": ""}, "English is then served by keys"


def test_a_language_the_line_does_not_speak_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="'de=TEXT_DE': expected ru=<value> or en=<value>"):
        per_language("ru=TEXT_RU,de=TEXT_DE")
