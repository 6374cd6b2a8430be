"""Issue 20 on the real platform: how-to questions lead to the action, people and products to the right team.

A guest asks how to do what the assistant does itself ("как заблокировать карту?"): the reply offers
that action with its sign-in step and the self-service path, never a neighbouring article. A request
for a person wins over its topic; a product the knowledge base has no article for is a sale.
"""

from __future__ import annotations

from collections.abc import Callable

import aiohttp
import pytest

from core.db import Database
from knowledge_base.seed import load_seed
from tests.how_to_phrasings import HOW_TO_PHRASINGS, OFFERS
from tests.rest_support import Customer, buttons, said

ANSWERS = [a.text("answer", lang) for a in load_seed() for lang in ("ru", "en")]


@pytest.fixture
def guest(http: aiohttp.ClientSession, gateway_url: str) -> Callable[[], Customer]:
    return lambda: Customer(http, gateway_url, prefix="howto")


def test_the_list_has_forty_phrasings_in_both_languages() -> None:
    assert len(HOW_TO_PHRASINGS) >= 40
    assert {lang for _, lang, _ in HOW_TO_PHRASINGS} == {"ru", "en"}


@pytest.mark.parametrize(("question", "language", "action"), HOW_TO_PHRASINGS)
async def test_a_how_to_question_gets_the_action_not_an_article(
    guest: Callable[[], Customer], question: str, language: str, action: str
) -> None:
    replies = await guest().says(question)
    text = said(replies)
    assert OFFERS[action][language] in text, text
    assert "/sign_in" in [b["payload"] for b in buttons(replies)]
    assert not any(answer in text for answer in ANSWERS), text


async def test_a_request_for_a_person_that_names_a_topic_gets_the_person(
    guest: Callable[[], Customer], bank: Database
) -> None:
    customer = guest()
    await customer.says("нужен кредит на машину, позовите специалиста")
    conversation = await bank.conversations.find_one({"_id": customer.conversation_id})
    assert conversation is not None and conversation["state"] in {"queued", "assigned"}
    assert conversation["handoff"]["reason"] == "customer_request"


async def test_a_product_without_an_article_goes_to_the_sales_team(
    guest: Callable[[], Customer], bank: Database
) -> None:
    customer = guest()
    replies = await customer.says("хочу оформить кредитную карту")
    assert "специалист" in said(replies)
    conversation = await bank.conversations.find_one({"_id": customer.conversation_id})
    assert conversation is not None and conversation["state"] in {"queued", "assigned"}
    assert (conversation["handoff"]["reason"], conversation["team"]) == ("sales_request", "sales")


async def test_a_guest_asking_for_the_balance_gets_the_chats_sign_in(guest: Callable[[], Customer]) -> None:
    replies = await guest().says("какой у меня баланс?")
    assert "Покажу баланс, как только вы войдёте" in said(replies)
    assert {"title": "Войти", "payload": "/sign_in"} in buttons(replies)
    assert "напишите мне оттуда" not in said(replies)
