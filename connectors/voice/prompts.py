"""What the phone line itself says (greeting, reprompts, key menu), in Russian and English."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from core.language import Language


class Prompt(StrEnum):
    """The gateway's own voice prompts; the bot's replies come from the bot."""

    GREETING = "greeting"
    # Offered in the other language, in that language: "For English, press 9".
    LANGUAGE_OFFER = "language_offer"
    HOW_CAN_I_HELP = "how_can_i_help"
    NO_INPUT_1 = "no_input_1"
    NO_INPUT_2 = "no_input_2"
    NO_MATCH_1 = "no_match_1"
    NO_MATCH_2 = "no_match_2"
    KEY_MENU = "key_menu"
    ASK_CARD_DIGITS = "ask_card_digits"
    DIGITS_WRONG = "digits_wrong"
    # Too many wrong endings for this customer (on any call or channel): checks pause for a while.
    VERIFY_LOCKED = "verify_locked"
    VERIFIED = "verified"
    TRANSFER = "transfer"
    MAX_DURATION = "max_duration"
    ANYTHING_ELSE = "anything_else"
    # After a knowledge-base answer: an optional key vote, asked before "anything else?".
    WAS_IT_HELPFUL = "was_it_helpful"
    STILL_THERE = "still_there"
    # Before the goodbye of a call the line ends itself (silence): how to call back.
    CALL_AGAIN = "call_again"
    GOODBYE = "goodbye"
    # Calls the bank places (outbound): an answering machine hears only the neutral message, never a debt;
    # a person hears the opening, then the voice session (greeting or a survey's first question).
    OUTBOUND_MACHINE = "outbound_machine"
    OUTBOUND_OPENING = "outbound_opening"
    # A payment-reminder call, after the opening: why, in words that tell a bystander nothing, then the check.
    OUTBOUND_REMINDER = "outbound_reminder"


_TEXTS: dict[Prompt, dict[str, str]] = {
    Prompt.GREETING: {"ru": "Здравствуйте! Вы позвонили в Демо-банк.", "en": "Hello, you have reached Demo Bank."},
    Prompt.LANGUAGE_OFFER: {
        "ru": "Для русского языка нажмите 9 или скажите: по-русски.",
        "en": "For English, press 9, or say: English.",
    },
    Prompt.HOW_CAN_I_HELP: {
        "ru": "Скажите, чем я могу помочь. Чтобы поговорить с оператором, нажмите 0.",
        "en": "Tell me how I can help. To speak to an operator, press 0.",
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
    Prompt.VERIFY_LOCKED: {
        "ru": "Для вашей безопасности проверка по цифрам карты временно приостановлена: было несколько "
        "неверных попыток. Оператор поможет с остальными вопросами. Снять ограничение можно в любом "
        "отделении с паспортом.",
        "en": "For your safety, checks by card digits are paused for a while after several wrong attempts. "
        "An operator will help with anything else. Any branch can lift the pause if you bring your passport.",
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
    Prompt.ANYTHING_ELSE: {"ru": "Чем ещё могу помочь?", "en": "Is there anything else I can help you with?"},
    Prompt.WAS_IT_HELPFUL: {
        "ru": "Если ответ помог, нажмите 1, если нет — 2.",
        "en": "If this answer helped, press 1. If not, press 2.",
    },
    Prompt.STILL_THERE: {
        "ru": "Вы на линии? Если нужно что-то ещё, просто скажите.",
        "en": "Are you still there? If there is anything else, just say it.",
    },
    Prompt.CALL_AGAIN: {
        "ru": "Если понадобится помощь, позвоните нам снова по номеру 8 800 000-00-00.",
        "en": "If you need help later, call us again on 8 800 000-00-00.",
    },
    Prompt.GOODBYE: {
        "ru": "Спасибо за звонок в Демо-банк. До свидания!",
        "en": "Thank you for calling Demo Bank. Goodbye!",
    },
    Prompt.OUTBOUND_MACHINE: {
        "ru": "Здравствуйте! Это Демо-банк. Пожалуйста, перезвоните нам по номеру на обороте вашей карты.",
        "en": "Hello, this is Demo Bank. Please call us back on the number on the back of your card.",
    },
    Prompt.OUTBOUND_OPENING: {
        "ru": "Здравствуйте! Это Демо-банк, у нас есть для вас информация.",
        "en": "Hello, this is Demo Bank with some information for you.",
    },
    Prompt.OUTBOUND_REMINDER: {
        "ru": "Мы звоним с напоминанием по одному из ваших продуктов. Чтобы его услышать, подтвердите, что это вы: "
        "наберите на телефоне последние четыре цифры любой вашей карты. Чтобы поговорить с оператором, нажмите 0.",
        "en": "We are calling with a reminder about one of your products. To hear it, please confirm it is you: "
        "type the last four digits of any of your cards. To speak to an operator, press 0.",
    },
}

# Keys of the fallback menu (Prompt.KEY_MENU) and the bot payloads they send.
KEY_MENU_PAYLOADS = ("/check_balance", "/recent_transactions", "/block_card")


# While the caller may still choose the language, this key switches it.
LANGUAGE_KEY = "9"


@dataclass(frozen=True)
class Spoken:
    """One prompt to speak and the language to speak it in (the language offer is in the other one)."""

    text: str
    language: Language


def prompt_text(prompt: Prompt, language: Language) -> str:
    """The prompt in the call's language."""
    return _TEXTS[prompt]["en" if language == "en" else "ru"]


def say(prompt: Prompt, language: Language) -> Spoken:
    """The prompt, to be spoken in `language`."""
    return Spoken(prompt_text(prompt, language), language)


def other_language(language: Language) -> Language:
    """The language the line offers besides the call's one."""
    return "ru" if language == "en" else "en"


def greeting(language: Language) -> list[Spoken]:
    """Hello, the other language offered in its own words, then what the caller can do."""
    return [
        say(Prompt.GREETING, language),
        say(Prompt.LANGUAGE_OFFER, other_language(language)),
        say(Prompt.HOW_CAN_I_HELP, language),
    ]
