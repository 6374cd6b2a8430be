"""A customer naming the country they travel to is asking what the articles call "abroad"."""

from __future__ import annotations

import pytest

from knowledge_base.places import as_abroad


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("еду в грузию, карта будет работать?", "ru", "еду за границу, карта будет работать?"),
        ("снял деньги в Китае", "ru", "снял деньги за границей"),
        ("вернулся из Казахстана, карта заблокирована", "ru", "вернулся из-за границы, карта заблокирована"),
        ("перевод в США", "ru", "перевод за границу"),
        ("going to spain next week, will my card work", "en", "going abroad next week, will my card work"),
        ("I am in the United Arab Emirates", "en", "I am abroad"),
        ("flying to Turkey", "en", "flying abroad"),
        # Cities of every time zone outside Russia (CLDR), not only a listed few.
        ("лечу в Лиссабон, карта будет работать?", "ru", "лечу за границу, карта будет работать?"),
        ("снял деньги в Мельбурне", "ru", "снял деньги за границей"),
        ("вернулся из Торонто", "ru", "вернулся из-за границы"),
        ("will my card work in Toronto", "en", "will my card work abroad"),
        ("going to Buenos Aires in May", "en", "going abroad in May"),
    ],
)
def test_a_named_country_becomes_abroad(text: str, language: str, expected: str) -> None:
    assert as_abroad(text, language) == expected


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("карта работает в России?", "ru"),  # home
        ("мало денег на карте", "ru"),  # "Мали" is left out: an everyday word
        ("нужно грузить документы?", "ru"),  # "грузи|ть" is not a case of "Грузия"
        ("my jersey order was charged twice", "en"),
        ("как оспорить операцию по карте?", "ru"),
        ("в Новосибирске карта не работает", "ru"),  # a city at home
        ("счёт за газ не оплачивается", "ru"),  # "Газа" would read "газ"
        ("банкомат на восток от метро", "ru"),  # Antarctica's Vostok station
        ("I paid for it at Easter", "en"),  # Easter Island's zone
        ("my card stopped working in Petersburg", "en"),  # Petersburg, Indiana: not St Petersburg
        ("Sofia sent me money", "en"),  # a first name
    ],
)
def test_words_that_are_not_foreign_places_stay(text: str, language: str) -> None:
    assert as_abroad(text, language) == text
