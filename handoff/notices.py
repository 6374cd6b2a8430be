"""What the gateway itself tells customers, in Russian and English."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Notice(StrEnum):
    """Gateway notices, independent of the bot."""

    SENSITIVE_DATA = "sensitive_data"
    BOT_UNAVAILABLE = "bot_unavailable"
    BOT_BUSY = "bot_busy"
    WITH_OPERATOR = "with_operator"
    UNKNOWN_BUTTON = "unknown_button"
    QUEUE_POSITION = "queue_position"
    OPERATOR_JOINED = "operator_joined"
    NO_OPERATOR = "no_operator"
    SUPERVISOR_JOINED = "supervisor_joined"
    OUT_OF_HOURS = "out_of_hours"
    ASK_CALLBACK_PHONE = "ask_callback_phone"
    BAD_PHONE = "bad_phone"
    CALLBACK_CREATED = "callback_created"
    CALLBACK_TO_KNOWN_PHONE = "callback_to_known_phone"
    ASK_LEFT_MESSAGE = "ask_left_message"
    MESSAGE_LEFT = "message_left"
    TRANSFERRED = "transferred"
    ASK_RATING = "ask_rating"
    ASK_COMMENT = "ask_comment"
    THANKS_FOR_RATING = "thanks_for_rating"
    CARD_BLOCKED = "card_blocked"
    CALLBACK_CREATED_AT = "callback_created_at"
    CALLBACK_TIME_NOTED = "callback_time_noted"
    ASK_CALLBACK_PHONE_FOR_TIME = "ask_callback_phone_for_time"
    CALLBACK_CANCELLED = "callback_cancelled"
    VERIFICATION_LOCKED = "verification_locked"
    CALLBACK_ALREADY_ARRANGED = "callback_already_arranged"
    CALLBACK_LIMIT = "callback_limit"
    SUPERVISOR_TOOK_OVER = "supervisor_took_over"


_TEXTS: dict[Notice, dict[str, str]] = {
    Notice.CARD_BLOCKED: {
        "ru": "Карта {card} заблокирована: по ней больше нельзя платить или снимать деньги. "
        "Новую карту можно заказать в приложении или в отделении.",
        "en": "Card {card} is blocked: it can no longer be used for payments or withdrawals. "
        "You can order a new card in the app or at a branch.",
    },
    Notice.VERIFICATION_LOCKED: {
        "ru": "Для вашей безопасности проверка по цифрам карты приостановлена до {until} (МСК): было "
        "несколько неверных попыток. Если это были не вы, позвоните по номеру на обороте карты или "
        "обратитесь в любое отделение с паспортом — там проверят личность и снимут ограничение.",
        "en": "For your safety, checks by card digits are paused until {until} (Moscow time) after several "
        "wrong attempts. If that was not you, call the number on the back of your card or visit any branch "
        "with your passport: they will confirm who you are and lift the pause.",
    },
    Notice.CALLBACK_ALREADY_ARRANGED: {
        "ru": "Обратный звонок на этот номер уже заказан — оператор перезвонит, повторять заявку не нужно.",
        "en": "A callback to this number is already booked; an operator will call, no need to ask again.",
    },
    Notice.CALLBACK_LIMIT: {
        "ru": "На этот номер уже заказано много обратных звонков за последний час. Попробуйте позже "
        "или оставьте сообщение — оператор ответит здесь.",
        "en": "Too many callbacks to this number were booked in the last hour. Please try later, "
        "or leave a message and an operator will answer here.",
    },
    Notice.SENSITIVE_DATA: {
        "ru": "Пожалуйста, никогда не отправляйте полный номер карты, CVV/CVC-код или ПИН-код — "
        "даже сотрудникам банка. Я скрыл эти данные и не сохранил их; для моих вопросов достаточно "
        "последних четырёх цифр карты.",
        "en": "Please never send your full card number, CVV/CVC code or PIN, not even to bank staff. "
        "I have hidden them and did not store them; the last four digits of the card are all I ever need.",
    },
    Notice.BOT_UNAVAILABLE: {
        "ru": "Извините, у нас техническая проблема. Ваше сообщение сохранено, повторять его не нужно.",
        "en": "Sorry, we have a technical problem. Your message is saved, no need to repeat it.",
    },
    Notice.BOT_BUSY: {
        "ru": "Ассистент сейчас занят, ответ будет через минуту. Ваше сообщение получено.",
        "en": "The assistant is busy right now; you will have an answer in a moment. Your message is received.",
    },
    Notice.WITH_OPERATOR: {
        "ru": "Ваше сообщение передано оператору. Пожалуйста, оставайтесь в чате.",
        "en": "Your message has been passed to an operator. Please stay in the chat.",
    },
    Notice.UNKNOWN_BUTTON: {
        "ru": "Эта кнопка больше не действует. Напишите, пожалуйста, что вы хотите сделать.",
        "en": "That button is no longer valid. Please type what you would like to do.",
    },
    Notice.QUEUE_POSITION: {
        "ru": "Соединяю вас с оператором. Ваш номер в очереди: {position}.",
        "en": "Connecting you to an operator. Your position in the queue: {position}.",
    },
    Notice.OPERATOR_JOINED: {
        "ru": "К чату подключился оператор {name}.",
        "en": "{name}, an operator, has joined the chat.",
    },
    Notice.SUPERVISOR_JOINED: {
        "ru": "К чату подключился руководитель смены {name}.",
        "en": "{name}, a team lead, has joined the chat.",
    },
    # A take-over is one message: who serves the customer now (not "transferred" plus "an operator joined").
    Notice.SUPERVISOR_TOOK_OVER: {
        "ru": "Вашим вопросом теперь занимается руководитель смены {name}. Повторять ничего не нужно.",
        "en": "{name}, a team lead, is now taking care of your question. There is no need to repeat anything.",
    },
    Notice.NO_OPERATOR: {
        "ru": "Сейчас все операторы заняты или не в сети. Вы можете оставить сообщение "
        "или заказать обратный звонок — мы свяжемся с вами.",
        "en": "No operator is available right now. You can leave a message or request a callback "
        "and we will get back to you.",
    },
    Notice.OUT_OF_HOURS: {
        "ru": "Операторы работают с {opens} до {closes} (МСК). Вы можете оставить сообщение "
        "или заказать обратный звонок.",
        "en": "Operators work from {opens} to {closes} (Moscow time). You can leave a message or request a callback.",
    },
    Notice.ASK_CALLBACK_PHONE: {
        "ru": "Напишите номер телефона, по которому вам перезвонить.",
        "en": "Please type the phone number we should call you back on.",
    },
    Notice.BAD_PHONE: {
        "ru": "Я не нашёл в сообщении номера телефона; оператор его тоже прочитает. Для звонка напишите номер, "
        "например +7 900 123-45-67 (можно с удобным временем: «после 18:00»), или «отмена», если звонок не нужен.",
        "en": "I could not find a phone number in that; an operator will read it too. For a call, type the number, "
        'e.g. +7 900 123-45-67 (a time is welcome: "after 6pm"), or "cancel" if you do not need a call.',
    },
    Notice.CALLBACK_CREATED_AT: {
        "ru": "Спасибо! Оператор перезвонит вам по номеру {phone} {when} (по московскому времени).",
        "en": "Thank you! An operator will call you back on {phone} {when} (Moscow time).",
    },
    Notice.CALLBACK_TIME_NOTED: {
        "ru": "Записал: перезвоним {when} (по московскому времени).",
        "en": "Noted: we will call you {when} (Moscow time).",
    },
    Notice.ASK_CALLBACK_PHONE_FOR_TIME: {
        "ru": "Хорошо, перезвоним {when} (по московскому времени). Напишите, пожалуйста, номер телефона.",
        "en": "Fine, we will call {when} (Moscow time). Please type the phone number.",
    },
    Notice.CALLBACK_CANCELLED: {
        "ru": "Хорошо, звонить не будем. Оператор ответит вам здесь, в чате.",
        "en": "All right, no call. An operator will answer you here in the chat.",
    },
    Notice.CALLBACK_CREATED: {
        "ru": "Спасибо! Оператор перезвонит вам по номеру {phone}.",
        "en": "Thank you! An operator will call you back on {phone}.",
    },
    Notice.CALLBACK_TO_KNOWN_PHONE: {
        "ru": "Спасибо! Оператор перезвонит вам на номер, указанный в банке (оканчивается на {ending}).",
        "en": "Thank you! An operator will call you back on the number the bank has for you (ending in {ending}).",
    },
    Notice.ASK_LEFT_MESSAGE: {
        "ru": "Напишите ваше сообщение одним текстом — оператор ответит, как только освободится.",
        "en": "Please write your message in one go; an operator will answer as soon as possible.",
    },
    Notice.MESSAGE_LEFT: {
        "ru": "Спасибо, ваше сообщение сохранено. Оператор ответит вам здесь.",
        "en": "Thank you, your message is saved. An operator will answer you here.",
    },
    Notice.TRANSFERRED: {
        "ru": "Передаю ваш вопрос коллеге. Повторять ничего не нужно.",
        "en": "I am passing your question to a colleague. You will not need to repeat anything.",
    },
    Notice.ASK_RATING: {
        "ru": "Оператор завершил разговор. Оцените, пожалуйста, нашу помощь от 1 до 5.",
        "en": "The operator has closed the conversation. Please rate our help from 1 to 5.",
    },
    Notice.ASK_COMMENT: {
        "ru": "Спасибо за оценку! Хотите добавить комментарий? Просто напишите его.",
        "en": "Thank you for the rating! Would you like to add a comment? Just type it.",
    },
    Notice.THANKS_FOR_RATING: {
        "ru": "Спасибо за отзыв! Если появятся вопросы — пишите.",
        "en": "Thank you for the feedback! Write to us any time.",
    },
}


@dataclass(frozen=True)
class OperatorsOnline:
    """Operators who serve this conversation are online: the customer waits at `position`."""

    position: int


@dataclass(frozen=True)
class NoOperatorOnline:
    """Within working hours, but nobody who serves this conversation is online."""


@dataclass(frozen=True)
class OutOfHours:
    """Outside working hours ("09:00", "21:00")."""

    opens: str
    closes: str


Availability = OperatorsOnline | NoOperatorOnline | OutOfHours


def handoff_notice(availability: Availability, language: str | None, *, opening: Notice | None = None) -> str:
    """The one notice a customer reads when their conversation goes to the operators.

    It says what will really happen, so "connecting you" is never followed by "nobody is
    online": a queue position when operators are online, otherwise the offer to leave a
    message or book a callback. `opening` (e.g. BOT_UNAVAILABLE) says why, before that.
    """
    match availability:
        case OperatorsOnline(position):
            outcome = notice_text(Notice.QUEUE_POSITION, language, position=position)
        case OutOfHours(opens, closes):
            outcome = notice_text(Notice.OUT_OF_HOURS, language, opens=opens, closes=closes)
        case NoOperatorOnline():
            outcome = notice_text(Notice.NO_OPERATOR, language)
    return outcome if opening is None else f"{notice_text(opening, language)} {outcome}"


def notice_text(notice: Notice, language: str | None, **values: object) -> str:
    """The notice in the conversation's language (Russian when unknown), with its values filled in."""
    texts = _TEXTS[notice]
    text = texts.get(language or "ru", texts["ru"])
    for name, value in values.items():
        text = text.replace("{" + name + "}", str(value))
    return text
