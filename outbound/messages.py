"""What an outbound contact says: templates per language, variables formatted per language, answer buttons.

A message channel (Telegram, SMS) names the product but never the amount of a debt: the
customer hears the amount in the chat after verification, or on the phone after confirming
who they are (outbound/replies.py). Buttons carry `/outbound{"answer": ...}` payloads, which
the router hands to outbound/replies.py with the attempt they answer.
"""

from __future__ import annotations

import json
import string
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from babel.dates import format_date

from actions.formatting import format_amount
from core.messages import Button
from handoff import surveys
from outbound.models import Channel, Kind

LANGUAGES = ("ru", "en")
VARIABLES = ("name", "amount", "due_date", "card_last4", "product")
ANSWER_INTENT = "outbound"

DEFAULT_TEMPLATES: dict[Kind, dict[str, str]] = {
    Kind.PAYMENT_REMINDER: {
        "ru": "{name}, напоминаем: платёж по продукту «{product}» нужно внести до {due_date}.",
        "en": "{name}, a reminder: the payment for your {product} is due by {due_date}.",
    },
    Kind.FRAUD_ALERT: {
        "ru": "{name}, по карте •••• {card_last4} прошла подозрительная операция: {amount}, {merchant}. Это были вы?",
        "en": "{name}, a suspicious payment on card •••• {card_last4}: {amount}, {merchant}. Was it you?",
    },
    Kind.SERVICE_NOTICE: {
        "ru": "{name}, уведомление Демо-банка: {text}",
        "en": "{name}, a notice from Demo Bank: {text}",
    },
    Kind.SURVEY: {
        "ru": "{name}, оцените, пожалуйста, наше обслуживание от 1 до 5.",
        "en": "{name}, please rate our service from 1 to 5.",
    },
    Kind.OFFER: {
        "ru": "{name}, для вас есть предложение Демо-банка.",
        "en": "{name}, Demo Bank has an offer for you.",
    },
}

# Texts of single notices (the `text` variable of a service notice).
NOTICE_TEXTS: dict[str, dict[str, str]] = {
    "card_ready": {
        "ru": "ваша карта •••• {card_last4} готова, её можно забрать в отделении.",
        "en": "your card •••• {card_last4} is ready to be collected at the branch.",
    },
    "payment_received": {
        "ru": "платёж {amount} получен, спасибо!",
        "en": "we have received your payment of {amount}, thank you!",
    },
}

_WITHHELD_AMOUNT = {"ru": "сумму подскажу в чате", "en": "ask me here for the amount"}

_BUTTONS: dict[Kind, list[tuple[str, str, str]]] = {
    Kind.PAYMENT_REMINDER: [
        ("paid", "Уже оплатил", "Already paid"),
        ("remind_tomorrow", "Напомнить завтра", "Remind me tomorrow"),
        ("operator", "Связаться с оператором", "Talk to an operator"),
        ("stop", "Не присылать", "Stop these messages"),
    ],
    Kind.FRAUD_ALERT: [("yes", "Да, это я", "Yes, it was me"), ("no", "Нет, это не я", "No, it wasn't me")],
    # The question's own buttons come first (buttons_for).
    Kind.SURVEY: [("stop", "Не присылать", "Stop these")],
    Kind.OFFER: [("operator", "Подробнее", "Tell me more"), ("stop", "Не присылать", "Stop these messages")],
    Kind.SERVICE_NOTICE: [],
}


class TemplateError(ValueError):
    """A template names a variable that does not exist, or is not a valid template."""


def answer_payload(answer: str) -> str:
    """The button payload of an answer: '/outbound{"answer":"paid"}'."""
    return f"/{ANSWER_INTENT}" + json.dumps({"answer": answer}, separators=(",", ":"))


def buttons_for(kind: Kind, language: str, survey: dict[str, Any] | None = None) -> tuple[Button, ...]:
    """The kind's answer buttons in the customer's language.

    A survey's message asks its first question: that question's buttons (handoff/surveys.py, the one survey
    mechanism of the platform), then "stop these".
    """
    index = 2 if language == "en" else 1
    entries = _BUTTONS.get(kind, [])
    if kind is Kind.SURVEY:
        first = surveys.Survey(key="preview", questions=survey_questions(survey))
        asked = surveys.question_reply(first, 0, language=language, channel="telegram").buttons
        entries = [e for e in entries if e[0] == "stop"]
        return asked + tuple(Button(title=e[index], payload=answer_payload(e[0])) for e in entries)
    return tuple(Button(title=entry[index], payload=answer_payload(entry[0])) for entry in entries)


def survey_questions(survey: dict[str, Any] | None) -> tuple[surveys.Question, ...]:
    """A survey campaign's questions (a rating alone when it names none)."""
    raw = (survey or {}).get("questions")
    return surveys.parse_questions(raw) if raw else (surveys.Question("rating", surveys.QuestionType.RATING),)


def check_template(text: str, extra: tuple[str, ...] = ()) -> None:
    """Refuse a template naming an unknown variable (before it is stored, not at sending time)."""
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
    except ValueError as err:
        raise TemplateError(f"not a valid template: {err}") from err
    unknown = sorted({f for f in fields if f not in (*VARIABLES, *extra)})
    if unknown:
        raise TemplateError(f"unknown variable(s) {', '.join('{' + u + '}' for u in unknown)}; use {VARIABLES}")


def format_due_date(day: date, language: str) -> str:
    """'15 декабря 2026 г.' / 'December 15, 2026'."""
    return format_date(day, format="long", locale="en_US" if language == "en" else "ru_RU")


@dataclass(frozen=True)
class Facts:
    """What a message may mention about the customer and the matter."""

    name: str
    product: str = ""
    amount: Decimal | None = None
    due_date: date | None = None
    card_last4: str = ""
    extra: dict[str, str] = field(default_factory=dict)


def first_name(full_name: str) -> str:
    """How a message addresses the customer: 'Иван Петров' -> 'Иван'."""
    return full_name.split()[0] if full_name.strip() else full_name


def render(template: str, facts: Facts, language: str, channel: Channel, kind: Kind) -> str:
    """The template filled in for one customer, amounts and dates in the customer's language.

    A debt's amount is withheld from written channels (a phone may be read by someone else).
    """
    lang = "en" if language == "en" else "ru"
    withheld = kind is Kind.PAYMENT_REMINDER and channel is not Channel.CALL
    values: dict[str, Any] = {
        "name": first_name(facts.name),
        "product": facts.product,
        "amount": (
            _WITHHELD_AMOUNT[lang]
            if withheld
            else (format_amount(facts.amount, "en" if lang == "en" else "ru") if facts.amount is not None else "")
        ),
        "due_date": format_due_date(facts.due_date, lang) if facts.due_date else "",
        "card_last4": facts.card_last4,
        **facts.extra,
    }
    try:
        return template.format_map(_Blank(values))
    except (ValueError, IndexError) as err:
        raise TemplateError(str(err)) from err


class _Blank(dict[str, Any]):
    """Missing variables render empty instead of failing a whole campaign at sending time."""

    def __missing__(self, key: str) -> str:
        return ""


def template_for(templates: dict[str, str], kind: Kind, language: str) -> str:
    """The campaign's template in the customer's language, else Russian, else the kind's default."""
    lang = "en" if language == "en" else "ru"
    return templates.get(lang) or templates.get("ru") or DEFAULT_TEMPLATES[kind][lang]
