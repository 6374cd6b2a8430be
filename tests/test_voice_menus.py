"""Every menu our bot offers, read on the phone in Russian and English, checked against what a person would say.

The menus are taken from where they are made: the buttons in bot/domain.yml, the
card and yes/no buttons the block-card actions build, the knowledge base's
"did you mean" and operator buttons, the router's offer when no operator is free,
and the line's own keypad menu.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from actions.block_card import inform_payload
from actions.knowledge import TEXTS as KB_TEXTS
from actions.texts import text
from connectors.voice.menus import button_menu, speak_reply
from connectors.voice.prompts import Prompt, prompt_text
from core.banking import Card, CardKind, CardStatus
from core.language import Language
from core.messages import Button, Reply
from handoff.callbacks import LEAVE_MESSAGE_PAYLOAD, REQUEST_CALLBACK_PAYLOAD

ROOT = Path(__file__).resolve().parent.parent
IVANS_ACTIVE_CARDS = (
    Card("c1", "demo-ivan", "5678", "Мир", "Мир Classic", CardKind.DEBIT, CardStatus.ACTIVE),
    Card("c3", "demo-ivan", "9012", "Mastercard", "Кредитная карта 100 дней", CardKind.CREDIT, CardStatus.ACTIVE),
    Card("c4", "demo-x", "0405", "Visa", "Visa Classic", CardKind.DEBIT, CardStatus.ACTIVE),
)


def domain_menus() -> list[tuple[str, Language, tuple[Button, ...]]]:
    """(response name, language, buttons) of every domain response variant that has buttons."""
    domain: dict[str, Any] = yaml.safe_load((ROOT / "bot" / "domain.yml").read_text(encoding="utf-8"))
    menus = []
    for name, variants in domain["responses"].items():
        for variant in variants:
            if not variant.get("buttons"):
                continue
            conditions = variant.get("condition") or []
            language: Language = "en" if any(c.get("value") == "en" for c in conditions) else "ru"
            # The router leaves the chat's own sign-in ("/sign_in") out on the phone (handoff/router.py).
            buttons = tuple(Button(b["title"], b["payload"]) for b in variant["buttons"] if b["payload"] != "/sign_in")
            menus.append((name, language, buttons))
    return menus


# The domain's menus all offer a person; a response given new buttons must be added here with its spoken text.
DOMAIN_MENU_SPOKEN = {
    "ru": "Чтобы поговорить с оператором, нажмите 1.",
    "en": "To speak to an operator, press 1.",
}


@pytest.mark.parametrize(("name", "language", "buttons"), domain_menus())
def test_every_domain_menu_is_read_as_a_sentence(name: str, language: Language, buttons: tuple[Button, ...]) -> None:
    assert button_menu(buttons, language) == DOMAIN_MENU_SPOKEN[language], name


def test_the_domain_has_menus_in_both_languages() -> None:
    languages = {language for _, language, _ in domain_menus()}
    assert languages == {"ru", "en"}


@pytest.mark.parametrize(
    ("language", "spoken"),
    [
        (
            "ru",
            "Карта Мир с окончанием пятьдесят шесть семьдесят восемь — нажмите 1. "
            "Карта Mastercard с окончанием девяносто двенадцать — нажмите 2. "
            "Карта Visa с окончанием ноль четыре ноль пять — нажмите 3.",
        ),
        (
            "en",
            "For your Mir card ending in five six seven eight, press 1. "
            "For your Mastercard ending in nine zero one two, press 2. "
            "For your Visa card ending in zero four zero five, press 3.",
        ),
    ],
)
def test_the_card_menu_names_each_card_and_its_ending(language: Language, spoken: str) -> None:
    # As actions/block_card.py builds it: the card's display name and the payload that answers the question.
    buttons = tuple(Button(c.display_name, inform_payload(c.last4)) for c in IVANS_ACTIVE_CARDS)
    assert button_menu(buttons, language) == spoken


@pytest.mark.parametrize(
    ("language", "question", "spoken"),
    [
        (
            "ru",
            "Заблокировать карту Мир •••• 5678?",
            "Заблокировать карту Мир с окончанием пятьдесят шесть семьдесят восемь? Если да — нажмите 1, если нет — 2.",
        ),
        (
            "en",
            "Block the card Мир •••• 5678?",
            "Block the card Mir ending in five six seven eight? If yes, press 1. If no, press 2.",
        ),
    ],
)
def test_a_yes_no_question_is_read_as_one_question(language: Language, question: str, spoken: str) -> None:
    buttons = (Button(text(language, "button_yes"), "/affirm"), Button(text(language, "button_no"), "/deny"))
    assert speak_reply(Reply(question, buttons), language) == spoken


@pytest.mark.parametrize(
    ("language", "spoken"),
    [
        (
            "ru",
            "Активация карты — нажмите 1. Доставка карты — нажмите 2. Перевыпуск карты — нажмите 3. "
            "Чтобы поговорить с оператором, нажмите 4.",
        ),
        (
            "en",
            "Card activation — press 1. Card delivery — press 2. Card reissue — press 3. "
            "To speak to an operator, press 4.",
        ),
    ],
)
def test_the_knowledge_base_did_you_mean_menu(language: Language, spoken: str) -> None:
    seed: dict[str, Any] = yaml.safe_load((ROOT / "knowledge_base" / "data" / "kb_seed.yaml").read_text("utf-8"))
    articles = {a["id"]: a for a in seed["articles"]}
    buttons = [
        Button(articles[article]["title"][language], "/faq" + json.dumps({"kb_article": article}))
        for article in ("card_activation", "card_delivery", "card_reissue")
    ]
    operator = "/request_operator" + json.dumps({"handoff_reason": "kb_no_answer"})
    buttons.append(Button(KB_TEXTS["operator_button"][language], operator))
    assert button_menu(buttons, language) == spoken


@pytest.mark.parametrize(
    ("language", "titles", "spoken"),
    [
        (
            "ru",
            ("Оставить сообщение", "Заказать обратный звонок"),
            "Чтобы оставить сообщение, нажмите 1. Чтобы заказать обратный звонок, нажмите 2.",
        ),
        (
            "en",
            ("Leave a message", "Request a callback"),
            "To leave a message, press 1. To request a callback, press 2.",
        ),
    ],
)
def test_the_offer_when_no_operator_is_free(language: Language, titles: tuple[str, str], spoken: str) -> None:
    buttons = (Button(titles[0], LEAVE_MESSAGE_PAYLOAD), Button(titles[1], REQUEST_CALLBACK_PAYLOAD))
    assert button_menu(buttons, language) == spoken


def test_the_lines_own_keypad_menu() -> None:
    assert prompt_text(Prompt.KEY_MENU, "ru") == (
        "Давайте кнопками. Баланс — нажмите 1. Последние операции — нажмите 2. "
        "Заблокировать карту — нажмите 3. Оператор — нажмите 0."
    )
    assert prompt_text(Prompt.KEY_MENU, "en") == (
        "Let us use the keypad. For your balance, press 1. For recent transactions, press 2. "
        "To block a card, press 3. For an operator, press 0."
    )


@pytest.mark.parametrize(
    ("language", "titles", "spoken"),
    [
        ("ru", ("Тариф «Премиум»", "ещё варианты"), "Тариф Премиум — нажмите 1. Ещё варианты — нажмите 2."),
        ("en", ('"Premium" plan', "more options"), "Premium plan — press 1. More options — press 2."),
    ],
)
def test_a_button_nobody_wrote_a_phrase_for_is_read_by_its_title(
    language: Language, titles: tuple[str, str], spoken: str
) -> None:
    buttons = (Button(titles[0], "/choose_plan"), Button(titles[1], "/more"))
    rendered = button_menu(buttons, language)
    assert "Для " not in rendered and "For " not in rendered
    assert rendered == spoken
