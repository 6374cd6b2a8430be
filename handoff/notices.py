"""What the gateway itself tells customers, in Russian and English."""

from __future__ import annotations

from enum import StrEnum


class Notice(StrEnum):
    """Gateway notices, independent of the bot."""

    SENSITIVE_DATA = "sensitive_data"
    BOT_UNAVAILABLE = "bot_unavailable"
    WITH_OPERATOR = "with_operator"
    UNKNOWN_BUTTON = "unknown_button"


_TEXTS: dict[Notice, dict[str, str]] = {
    Notice.SENSITIVE_DATA: {
        "ru": "Пожалуйста, никогда не отправляйте полный номер карты, CVV/CVC-код или ПИН-код — "
        "даже сотрудникам банка. Я скрыл эти данные и не сохранил их; для моих вопросов достаточно "
        "последних четырёх цифр карты.",
        "en": "Please never send your full card number, CVV/CVC code or PIN, not even to bank staff. "
        "I have hidden them and did not store them; the last four digits of the card are all I ever need.",
    },
    Notice.BOT_UNAVAILABLE: {
        "ru": "Извините, у нас техническая проблема. Соединяю вас с оператором — ваше сообщение сохранено, "
        "повторять его не нужно.",
        "en": "Sorry, we have a technical problem. I am connecting you to an operator; your message is saved, "
        "no need to repeat it.",
    },
    Notice.WITH_OPERATOR: {
        "ru": "Ваше сообщение передано оператору. Пожалуйста, оставайтесь в чате.",
        "en": "Your message has been passed to an operator. Please stay in the chat.",
    },
    Notice.UNKNOWN_BUTTON: {
        "ru": "Эта кнопка больше не действует. Напишите, пожалуйста, что вы хотите сделать.",
        "en": "That button is no longer valid. Please type what you would like to do.",
    },
}


def notice_text(notice: Notice, language: str) -> str:
    """The notice in the conversation's language (Russian when unknown)."""
    texts = _TEXTS[notice]
    return texts.get(language, texts["ru"])
