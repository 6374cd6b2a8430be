"""Canned responses never leave a dangling comma or an empty name, for guests and signed-in customers alike.

The first tests render every starter response in both languages and a grid of
templates an operator might write (the address at the start, in the middle, at
the end, after a greeting, inside a phrase); the story at the end goes through
the real platform: a guest and a signed-in customer ask the real bot for an
operator, the operator lists the canned responses for each conversation and sends
the greeting, and the customer reads it.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from core.app import create_app
from core.identity import mint_customer_token
from core.keys import BUS_KEY
from core.stack import Stack
from handoff import canned

from .handoff_support import REST, REST_HEADERS, Operator, _close_operator_sessions, gateway_settings

__all__ = ["_close_operator_sessions"]

# What a customer must never read: a comma or space before punctuation, a line opening with punctuation,
# a doubled space, a leftover variable, or a sentence starting in lower case.
DEFECTS = re.compile(r",\s*[,!?.…]|\s[,!?.…]|^[\s,!?.…—-]|\s{2}|\{|\}|(?:^|[.!?…]\s+)[a-zа-яё]", re.MULTILINE)
ASK_FOR_OPERATOR = "позовите оператора"


def defects(text: str) -> list[str]:
    return [m.group(0) for m in DEFECTS.finditer(text)]


@pytest.mark.parametrize("template", canned._DEFAULTS, ids=lambda doc: doc["_id"])
def test_every_starter_response_reads_well_for_a_guest_and_names_a_signed_in_customer(template: dict[str, str]) -> None:
    language = template["language"]
    guest = canned.render(template["text"], {"name": None, "operator": "Ольга"}, language)
    ivan = canned.render(template["text"], {"name": "Иван", "operator": "Ольга"}, language)
    assert defects(guest) == [], guest
    assert defects(ivan) == [], ivan
    assert "Иван" in ivan and "Иван" not in guest
    if "{operator}" in template["text"]:
        assert "Ольга" in guest


# Sentences around an address, in both languages: every combination must render cleanly without a name.
OPENINGS = {"ru": ["", "Здравствуйте", "Спасибо за ожидание", "Готово."], "en": ["", "Hello", "Thank you", "Done."]}
CLOSINGS = {"ru": ["карта заблокирована.", "подождите минуту!", ""], "en": ["the card is blocked.", "one moment!", ""]}
JOINS = [", {name}, ", ", {name}! ", " {name}, ", " {name}. ", ", {name}. "]


@pytest.mark.parametrize("language", ["ru", "en"])
def test_a_template_that_reads_well_with_a_name_reads_well_without_one(language: str) -> None:
    checked = 0
    for opening, join, closing in itertools.product(OPENINGS[language], JOINS, CLOSINGS[language]):
        template = (opening + join + closing).strip()
        named = canned.render(template, {"name": "Анна"}, language)
        if defects(named):
            continue  # the combination is bad writing even with a name ("{name}. карта"): not a template
        rendered = canned.render(template, {"name": ""}, language)
        assert defects(rendered) == [], (template, rendered)
        assert named.count("Анна") == 1
        checked += 1
    assert checked >= 25


def test_a_name_inside_a_phrase_gets_the_language_s_word_for_the_customer() -> None:
    assert canned.render("Уважаемый {name}, ваша карта готова.", {"name": None}, "ru") == (
        "Уважаемый клиент, ваша карта готова."
    )
    assert (
        canned.render("Dear {name}, your card is ready.", {"name": None}, "en") == "Dear customer, your card is ready."
    )


def test_a_variable_nobody_knows_stays_visible_for_the_operator_and_values_are_plain_text() -> None:
    assert canned.render("Ваш номер {ticket}.", {"name": None}) == "Ваш номер {ticket}."
    # A value is inserted as it is: it cannot open another variable.
    assert canned.render("Здравствуйте, {name}!", {"name": "{operator}", "operator": "Ольга"}) == (
        "Здравствуйте, {operator}!"
    )


@pytest.fixture
async def gateway(stack: Stack, aiohttp_client: Any) -> TestClient[web.Request, web.Application]:
    client: TestClient[web.Request, web.Application] = await aiohttp_client(
        create_app(gateway_settings(stack, "canned"))
    )
    return client


async def test_the_operator_greets_a_guest_and_a_signed_in_customer_with_the_canned_greeting(
    gateway: TestClient[web.Request, web.Application], stack: Stack
) -> None:
    kate = Operator(gateway, "kate")
    await kate.signs_in()
    await kate.goes_online()
    await gateway.app[BUS_KEY].drain()

    async def customer_asks_for_operator(sender: str, token: str | None) -> str:
        body: dict[str, Any] = {"sender": sender, "text": ASK_FOR_OPERATOR}
        if token:
            body["customer_token"] = token
        resp = await gateway.post(REST, json=body, headers=REST_HEADERS)
        assert resp.status == 200, await resp.text()
        turn = await resp.json()
        assert turn["state"] == "queued"
        return str(turn["conversation_id"])

    guest = await customer_asks_for_operator("canned-guest", None)
    ivan = await customer_asks_for_operator(
        "canned-ivan", mint_customer_token("demo-ivan", stack.customer_token_secret)
    )
    await gateway.app[BUS_KEY].drain()

    greetings: dict[str, str] = {}
    for conversation_id in (guest, ivan):
        listed = (await kate.get(f"/api/console/conversations/{conversation_id}/canned"))["canned"]
        assert {item["id"] for item in listed} >= {"greeting-ru", "wait-ru", "block-ru"}
        for item in listed:
            assert defects(item["text"]) == [], item
        greetings[conversation_id] = next(item["text"] for item in listed if item["id"] == "greeting-ru")
    assert greetings[guest] == "Здравствуйте! Меня зовут Kate, я помогу вам."
    assert greetings[ivan] == "Здравствуйте, Иван! Меня зовут Kate, я помогу вам."

    await kate.conversation(guest, "reply", {"text": greetings[guest]})
    await gateway.app[BUS_KEY].drain()
    resp = await gateway.post(REST, json={"sender": "canned-guest", "text": "спасибо"}, headers=REST_HEADERS)
    assert greetings[guest] in [reply["text"] for reply in (await resp.json())["replies"]]
