"""How replies look on each channel: read aloud on the phone, escaped and split on Telegram; flood limits."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from connectors.telegram_limits import FloodLimiter
from connectors.telegram_render import callback_data_for, escape, inline_keyboard, split_message
from connectors.voice.menus import speak_reply
from connectors.voice.speech import amount_in_words, date_in_words, speak_text
from core.banking import normalize_phone
from core.messages import Button, Reply


def test_amounts_are_read_in_words_and_whole_rubles_lose_the_kopecks() -> None:
    assert (
        amount_in_words(Decimal("12345.67"), "ru") == "двенадцать тысяч триста сорок пять рублей шестьдесят семь копеек"
    )
    assert amount_in_words(Decimal("1200.00"), "ru") == "одна тысяча двести рублей"
    assert amount_in_words(Decimal("-412.00"), "en") == "minus four hundred and twelve roubles"
    assert amount_in_words(Decimal("0.50"), "en") == "zero roubles and fifty kopeks"


def test_dates_are_read_as_people_say_them() -> None:
    assert date_in_words(date(2026, 11, 25), "ru") == "двадцать пятое ноября две тысячи двадцать шестого года"
    assert date_in_words(date(2026, 3, 3), "ru") == "третье марта две тысячи двадцать шестого года"
    assert date_in_words(date(2026, 11, 25), "en") == "November twenty-fifth, twenty twenty-six"


def test_a_transactions_list_becomes_sentences_without_symbols_links_or_emoji() -> None:
    text = (
        "Последние операции 💳:\n"
        "• 25.11.2026 Пятёрочка −1\u00a0245,60\u00a0₽ (**Мир •••• 5678**)\n"
        "• 23.11.2026 Перевод от Анны С. +5\u00a0000,00\u00a0₽\n"
        "Подробнее: [в приложении](https://bank.example/app) или https://bank.example"
    )
    assert speak_text(text, "ru") == (
        "Последние операции: "
        "двадцать пятое ноября две тысячи двадцать шестого года Пятёрочка минус одна тысяча двести сорок пять "
        "рублей шестьдесят копеек (Мир с окончанием пятьдесят шесть семьдесят восемь). "
        "двадцать третье ноября две тысячи двадцать шестого года Перевод от Анны С. плюс пять тысяч рублей. "
        "Подробнее: в приложении или."
    )


def test_a_card_number_is_never_read_beyond_its_last_four_digits() -> None:
    assert speak_text("Card •••• 4276123456789012", "en") == "Card ending in nine zero one two."


def test_buttons_are_read_as_a_keypad_menu() -> None:
    reply = Reply(
        text="Which card?",
        buttons=(Button("Visa •••• 3344", '/inform{"card_last4":"3344"}'), Button("Operator", "/request_operator")),
    )
    assert speak_reply(reply, "en") == (
        "Which card? For your Visa card ending in three three four four, press 1. To speak to an operator, press 2."
    )


def test_the_knowledge_base_short_voice_answer_is_preferred_on_the_phone() -> None:
    reply = Reply(
        text="Long article with a [link](https://x).", custom={"voice": "Карту можно перевыпустить в приложении."}
    )
    assert speak_reply(reply, "ru") == "Карту можно перевыпустить в приложении."


def test_telegram_text_is_escaped_for_html() -> None:
    assert escape("<script> & 5 > 3") == "&lt;script&gt; &amp; 5 &gt; 3"


def test_long_telegram_messages_split_at_sentences_and_escaping_counts() -> None:
    text = "Первое предложение. " * 300 + "Последнее!"
    parts = split_message(text)
    assert len(parts) == 2 and all(len(escape(p)) <= 4096 for p in parts)
    assert parts[0].endswith("Первое предложение.") and parts[-1].endswith("Последнее!")
    ampersands = "&" * 5000
    assert all(len(escape(p)) <= 4096 for p in split_message(ampersands)), "a word longer than a message is cut"


def test_payloads_longer_than_64_bytes_travel_as_a_digest() -> None:
    long_payload = '/inform{"card_last4":"1234","product_type":"credit_card","note":"very long"}'
    assert callback_data_for("/affirm") == "/affirm"
    digest = callback_data_for(long_payload)
    assert digest.startswith("cc:") and len(digest.encode()) <= 64
    keyboard = inline_keyboard((Button("Да", "/affirm"),))
    assert keyboard.model_dump(exclude_none=True) == {"inline_keyboard": [[{"text": "Да", "callback_data": "/affirm"}]]}


def test_flood_limits_allow_a_short_burst_per_chat_then_one_message_a_second() -> None:
    now = [100.0]
    limiter = FloodLimiter(clock=lambda: now[0])
    waits = [limiter.reserve("42") for _ in range(5)]
    assert waits == [0.0, 0.0, 0.0, 1.0, 2.0]
    assert limiter.reserve("43") == 0.0, "another chat is not held up"
    now[0] += 10
    assert limiter.reserve("42") == 0.0


def test_the_global_limit_spreads_thirty_chats_per_second() -> None:
    limiter = FloodLimiter(clock=lambda: 0.0)
    waits = [limiter.reserve(str(chat)) for chat in range(60)]
    assert max(waits[:30]) == 0.0
    assert abs(waits[59] - 1.0) < 1e-9


def test_phone_numbers_in_every_notation_find_the_same_customer() -> None:
    assert {normalize_phone(p) for p in ("79160000001", "+7 916 000-00-01", "8 (916) 000-00-01")} == {"+79160000001"}
    assert normalize_phone("anonymous") is None
