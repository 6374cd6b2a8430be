"""What the phone line itself says (greeting, reprompts, key menu), in Russian and English."""

from __future__ import annotations

from enum import StrEnum

from core.language import Language


class Prompt(StrEnum):
    """The gateway's own voice prompts; the bot's replies come from the bot."""

    GREETING = "greeting"
    NO_INPUT_1 = "no_input_1"
    NO_INPUT_2 = "no_input_2"
    NO_MATCH_1 = "no_match_1"
    NO_MATCH_2 = "no_match_2"
    KEY_MENU = "key_menu"
    ASK_CARD_DIGITS = "ask_card_digits"
    DIGITS_WRONG = "digits_wrong"
    VERIFIED = "verified"
    TRANSFER = "transfer"
    MAX_DURATION = "max_duration"
    ANYTHING_ELSE = "anything_else"


_TEXTS: dict[Prompt, dict[str, str]] = {
    Prompt.GREETING: {
        "ru": "Здравствуйте! Вы позвонили в Демо-банк. Скажите, чем я могу помочь. "
        "Чтобы поговорить с оператором, нажмите 0.",
        "en": "Hello, you have reached Demo Bank. Tell me how I can help. To speak to an operator, press 0.",
    },
    Prompt.NO_INPUT_1: {"ru": "Извините, я вас не слышу.", "en": "Sorry, I cannot hear you."},
    Prompt.NO_INPUT_2: {
        "ru": "Я по-прежнему вас не слышу. Скажите коротко, например: баланс карты. "
        "Или нажмите 0 для связи с оператором.",
        "en": "I still cannot hear you. Say it briefly, for example: card balance. Or press 0 for an operator.",
    },
    Prompt.NO_MATCH_1: {
        "ru": "Извините, я не расслышал. Повторите, пожалуйста.",
        "en": "Sorry, I did not catch that. Please say it again.",
    },
    Prompt.NO_MATCH_2: {
        "ru": "Скажите одним-двумя словами, например: баланс, последние операции или заблокировать карту.",
        "en": "Please use one or two words, for example: balance, recent transactions or block my card.",
    },
    Prompt.KEY_MENU: {
        "ru": "Давайте кнопками. Баланс — нажмите 1. Последние операции — нажмите 2. "
        "Заблокировать карту — нажмите 3. Оператор — нажмите 0.",
        "en": "Let us use the keypad. For your balance, press 1. For recent transactions, press 2. "
        "To block a card, press 3. For an operator, press 0.",
    },
    Prompt.ASK_CARD_DIGITS: {
        "ru": "Чтобы продолжить, подтвердите, что это вы: "
        "наберите на телефоне последние четыре цифры любой вашей карты.",
        "en": "To continue, please confirm it is you: type the last four digits of any of your cards.",
    },
    Prompt.DIGITS_WRONG: {
        "ru": "Цифры не совпали. Наберите последние четыре цифры любой вашей карты ещё раз.",
        "en": "Those digits do not match. Please type the last four digits of any of your cards again.",
    },
    Prompt.VERIFIED: {"ru": "Спасибо, личность подтверждена.", "en": "Thank you, you are verified."},
    Prompt.TRANSFER: {
        "ru": "Соединяю с оператором. Оставайтесь, пожалуйста, на линии.",
        "en": "Connecting you to an operator. Please stay on the line.",
    },
    Prompt.MAX_DURATION: {
        "ru": "Звонок длится слишком долго, и мы вынуждены его завершить. Перезвоните, пожалуйста. До свидания!",
        "en": "This call has reached its maximum length and has to end. Please call again. Goodbye!",
    },
    Prompt.ANYTHING_ELSE: {"ru": "Чем ещё могу помочь?", "en": "What else can I do for you?"},
}

# Keys of the fallback menu (Prompt.KEY_MENU) and the bot payloads they send.
KEY_MENU_PAYLOADS = ("/check_balance", "/recent_transactions", "/block_card")


def prompt_text(prompt: Prompt, language: Language) -> str:
    """The prompt in the call's language."""
    return _TEXTS[prompt]["en" if language == "en" else "ru"]
