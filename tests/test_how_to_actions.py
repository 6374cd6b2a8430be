"""Issue 20 on the real platform: how-to questions lead to the action, people and products to the right team.

A guest asks how to do what the assistant does itself ("как заблокировать карту?"): the reply offers
that action with its sign-in step and the self-service path, never a neighbouring article. A request
for a person wins over its topic; a product the knowledge base has no article for is a sale.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
import yaml
from aiohttp import web
from aiohttp.test_utils import TestClient

from core.app import create_app
from core.db import Database
from core.stack import Stack
from core.teams import configured_teams
from knowledge_base.seed import load_seed
from tests.handoff_support import REST, REST_HEADERS, gateway_settings
from tests.how_to_phrasings import HOW_TO_PHRASINGS, OFFERS
from tests.rest_support import Customer, buttons, said

ANSWERS = [a.text("answer", lang) for a in load_seed() for lang in ("ru", "en")]


@pytest.fixture
async def guest(http: aiohttp.ClientSession, gateway_url: str) -> Callable[[], Customer]:
    # The action server embeds the knowledge base when it starts; on a busy machine the first turns can
    # outlast the gateway's bot timeout. Wait until the bot answers before the stories begin.
    for _ in range(20):
        if "техническая проблема" not in said(await Customer(http, gateway_url, prefix="warm").says("привет")):
            break
        await asyncio.sleep(3)
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


async def test_outside_the_sales_teams_hours_a_product_request_gets_a_callback_offer(
    stack: Stack, aiohttp_client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The sales team's own hours (core/teams.yml), set to a window that is certainly not now in Moscow.
    hour = datetime.now(ZoneInfo("Europe/Moscow")).hour
    window = "13:00-14:00" if hour < 12 else "01:00-02:00"
    teams = yaml.safe_load((Path(__file__).parents[1] / "core" / "teams.yml").read_text(encoding="utf-8"))
    for team in teams["teams"]:
        if team["name"] == "sales":
            team["hours"] = window
    (tmp_path / "teams.yml").write_text(yaml.safe_dump(teams, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("TEAMS_FILE", str(tmp_path / "teams.yml"))
    configured_teams.cache_clear()
    try:
        client: TestClient[web.Request, web.Application] = await aiohttp_client(
            create_app(gateway_settings(stack, "sales_hours"))
        )
        resp = await client.post(
            REST, json={"sender": "sales-night", "text": "хочу оформить кредитную карту"}, headers=REST_HEADERS
        )
        turn = await resp.json()
    finally:
        configured_teams.cache_clear()
    opens, closes = window.split("-")
    texts = [reply["text"] for reply in turn["replies"]]
    assert f"Операторы работают с {opens} до {closes} (МСК)" in " ".join(texts), texts
    titles = [b["title"] for reply in turn["replies"] for b in reply.get("buttons") or []]
    assert titles == ["Оставить сообщение", "Заказать обратный звонок"]
