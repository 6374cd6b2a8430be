"""Keypad menus for the ear: each button read with a phrase written for speaking, per language.

A written button title ("Позвать оператора", "Мир •••• 5678", "Да") does not fit
into a spoken frame: "Для Позвать оператора нажмите 1" breaks Russian grammar. So
every button payload our bot and gateway offer has its spoken phrase here, in both
languages, as a goal ("чтобы поговорить с оператором") or an option that names
itself ("Карта Мир с окончанием …"); a yes/no pair is read as one question. A
payload not listed here is read by its title, "<title> — нажмите 2", never "Для <title>".
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from connectors.voice.speech import card_ending, speak_text
from core.language import Language
from core.messages import Button, Reply

_PAYLOAD_RE = re.compile(r"^/(?P<intent>[a-z_]+)(?P<entities>\{.*\})?$", re.DOTALL)
_QUOTES_RE = re.compile(r"[«»\"“”„]")
_MASKED_RE = re.compile(r"\s*(?:[•*]{1,4}|x{4})\s?\d{4,}\s*", re.IGNORECASE)


@dataclass(frozen=True)
class Goal:
    """What pressing the key does, said as a purpose: "Чтобы {ru}, нажмите 1." / "To {en}, press 1."."""

    ru: str
    en: str


# Spoken phrases of the buttons our bot, knowledge base and router offer, keyed by the payload's intent.
GOALS: dict[str, Goal] = {
    "request_operator": Goal("поговорить с оператором", "speak to an operator"),
    "check_balance": Goal("узнать баланс", "hear your balance"),
    "recent_transactions": Goal("услышать последние операции", "hear your recent transactions"),
    "block_card": Goal("заблокировать карту", "block a card"),
    "help": Goal("узнать, что я умею", "hear what I can do"),
    "greet": Goal("начать сначала", "start again"),
    "leave_message": Goal("оставить сообщение", "leave a message"),
    "request_callback": Goal("заказать обратный звонок", "request a callback"),
}
_YES_NO = {
    "ru": "Если да — нажмите {yes}, если нет — {no}.",
    "en": "If yes, press {yes}. If no, press {no}.",
}
_GOAL = {"ru": "Чтобы {goal}, нажмите {key}.", "en": "To {goal}, press {key}."}
_OPTION = {"ru": "{option} — нажмите {key}.", "en": "{option} — press {key}."}
_CARD = {"ru": "Карта {brand} {ending} — нажмите {key}.", "en": "For your {brand} {ending}, press {key}."}


def _intent_and_entities(payload: str) -> tuple[str | None, dict[str, object]]:
    match = _PAYLOAD_RE.match(payload.strip())
    if not match:
        return None, {}
    entities: object = {}
    if match.group("entities"):
        try:
            entities = json.loads(match.group("entities"))
        except ValueError:
            entities = {}
    return match.group("intent"), entities if isinstance(entities, dict) else {}


def _card_line(button: Button, last4: str, key: int, language: Language) -> str:
    """'Мир •••• 5678' -> 'Карта Мир с окончанием пятьдесят шесть семьдесят восемь — нажмите 1.'."""
    brand = speak_text(_MASKED_RE.sub(" ", button.title), language).rstrip(".!?;: ")
    if language == "en" and not brand.lower().endswith("card"):
        brand = f"{brand} card".strip()
    line = _CARD[language].format(brand=brand, ending=card_ending(last4, language), key=key)
    return re.sub(r"\s+", " ", line)


def _title(button: Button, language: Language) -> str:
    """The written title as words: quotes are not said."""
    return speak_text(_QUOTES_RE.sub("", button.title), language).rstrip(".!?;: ")


def menu_line(button: Button, key: int, language: Language) -> str:
    """One button as a sentence: its goal, its own name ("Карта Мир …"), or, unknown, its title."""
    intent, entities = _intent_and_entities(button.payload)
    goal = GOALS.get(intent or "")
    if goal is not None:
        return _GOAL[language].format(goal=goal.en if language == "en" else goal.ru, key=key)
    last4 = entities.get("card_last4")
    if intent == "inform" and isinstance(last4, str) and last4.isdigit():
        return _card_line(button, last4, key, language)
    line = _OPTION[language].format(option=_title(button, language), key=key)
    return line[0].upper() + line[1:]


def button_menu(buttons: Sequence[Button], language: Language) -> str:
    """The buttons read as a keypad menu, key 1 for the first: how a bank's phone line says them."""
    intents = [_intent_and_entities(b.payload)[0] for b in buttons]
    if intents == ["affirm", "deny"]:
        return _YES_NO[language].format(yes=1, no=2)
    if intents == ["deny", "affirm"]:
        return _YES_NO[language].format(yes=2, no=1)
    return " ".join(menu_line(button, key, language) for key, button in enumerate(buttons, start=1))


def speak_reply(reply: Reply, language: Language) -> str:
    """A whole reply for the ear: the knowledge base's short voice answer when it has one, then the menu."""
    voice = reply.custom.get("voice")
    text = voice if isinstance(voice, str) and voice.strip() else reply.text
    spoken = speak_text(text, language)
    if reply.buttons:
        spoken = f"{spoken} {button_menu(reply.buttons, language)}".strip()
    return spoken
