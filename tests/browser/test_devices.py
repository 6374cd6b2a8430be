"""One customer on every device, in headless Chromium (issue 21), in Russian (Anna) and in English (John).

A signed-in customer asks for a person on the laptop (1280x800) and picks the conversation up on the phone
(390x844): both show it live, the operator's reply and the rating request reach both, the comment is stored
as a comment (never read as an intent, and thanked in the language it was written in), and from the phone
the customer signs the laptop out. The operator uses the console's JSON API as the page does; the pages pass
axe-core.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from playwright.async_api import Browser, Page, expect

from core.app import create_app
from core.keys import BUS_KEY, DB_KEY
from core.stack import Stack

from ..handoff_support import Operator, _close_operator_sessions, gateway_settings
from .conftest import axe_violations

__all__ = ["_close_operator_sessions"]

BOT_TIMEOUT_MS = 20_000
ANNA = {
    "locale": "ru-RU",
    "name": "Анна Смирнова",
    "who": "Вы: Анна Смирнова",
    "ask": "позовите оператора",
    "queued": "Ваш номер в очереди",
    "from_phone": "я теперь с телефона",
    "reply": "Анна, вижу вас, помогу.",
    "rate": "Оцените, пожалуйста, нашу помощь",
    "ask_comment": "Хотите добавить комментарий?",
    # Written in English, so thanked in English: the comment is a comment, not a question for the bot.
    "comment": "Kate was nice but slow to answer",
    "thanks": "Thank you for the feedback!",
    "bot_chat": "Glad I could help",
    "signed_out_others": "на других устройствах и вкладках вход завершён",
    "signed_out_here": "Вход на этом устройстве завершён с другого устройства",
}
JOHN = {
    "locale": "en-US",
    "name": "John Smith",
    "who": "You: John Smith",
    "ask": "I want to talk to a person",
    "queued": "Your position in the queue",
    "from_phone": "now writing from my phone",
    "reply": "John, I see you, I will help.",
    "rate": "Please rate our help",
    "ask_comment": "Would you like to add a comment?",
    "comment": "Кейт была вежлива, но отвечала медленно",
    "thanks": "Спасибо за отзыв!",
    "bot_chat": "Рад был помочь",
    "signed_out_others": "your other devices and tabs are signed out",
    "signed_out_here": "You were signed out here from another device",
}


@pytest.fixture
async def gateway(stack: Stack, aiohttp_client: Any) -> TestClient[web.Request, web.Application]:
    client: TestClient[web.Request, web.Application] = await aiohttp_client(
        create_app(gateway_settings(stack, "devices_browser"))
    )
    return client


async def signs_in(browser: Browser, base: str, viewport: dict[str, int], texts: dict[str, str]) -> Page:
    context = await browser.new_context(locale=texts["locale"], viewport=viewport, bypass_csp=True)  # type: ignore[arg-type]
    page = await context.new_page()
    await page.goto(base + "/chat")
    await page.locator("#sign-in-open").click()
    await page.get_by_role("button", name=re.compile(texts["name"])).click()
    await expect(page.locator("#identity-who")).to_have_text(texts["who"])
    await expect(page.locator("#status")).to_have_attribute("data-state", "online")
    return page


@pytest.mark.parametrize("texts", [ANNA, JOHN], ids=["ru", "en"])
async def test_a_customer_moves_from_the_laptop_to_the_phone_mid_conversation(
    gateway: TestClient[web.Request, web.Application], browser: Browser, texts: dict[str, str]
) -> None:
    base = str(gateway.make_url("")).rstrip("/")
    kate = Operator(gateway, "kate")
    await kate.signs_in()
    await kate.goes_online()
    await gateway.app[BUS_KEY].drain()

    laptop = await signs_in(browser, base, {"width": 1280, "height": 800}, texts)
    await laptop.fill("#input", texts["ask"])
    await laptop.click("#send")
    await expect(laptop.locator("#messages")).to_contain_text(texts["queued"], timeout=BOT_TIMEOUT_MS)

    # On the phone the same conversation is there, history included.
    phone = await signs_in(browser, base, {"width": 390, "height": 844}, texts)
    await expect(phone.locator("#messages")).to_contain_text(texts["ask"])
    conversation_id = await laptop.evaluate("() => localStorage.getItem('bankchat.conversation_id')")
    assert conversation_id == await phone.evaluate("() => localStorage.getItem('bankchat.conversation_id')")

    # The customer writes on the phone; the laptop shows it. The operator's reply reaches both.
    await phone.fill("#input", texts["from_phone"])
    await phone.click("#send")
    await expect(laptop.locator("#messages")).to_contain_text(texts["from_phone"])
    await gateway.app[BUS_KEY].drain()
    await kate.conversation(conversation_id, "accept")
    await kate.conversation(conversation_id, "reply", {"text": texts["reply"]})
    for page in (laptop, phone):
        await expect(page.locator("#messages")).to_contain_text(texts["reply"])

    # Closing asks both pages for a rating; the customer rates on the phone and comments on the laptop.
    await kate.conversation(conversation_id, "close", {"resolution": "resolved"})
    for page in (laptop, phone):
        await expect(page.locator("#messages")).to_contain_text(texts["rate"])
    await phone.get_by_role("button", name="4").last.click()
    await expect(laptop.locator("#messages")).to_contain_text(texts["ask_comment"])
    await laptop.fill("#input", texts["comment"])
    await laptop.click("#send")
    await expect(phone.locator("#messages")).to_contain_text(texts["thanks"])
    answers = await gateway.app[DB_KEY].survey_answers.find({"conversation_id": conversation_id}).to_list()
    assert [a.get("value") for a in answers if a.get("type") == "rating_1_5"] == [4]
    assert [a.get("comment") for a in answers if a.get("type") == "comment"] == [texts["comment"]]
    assert texts["bot_chat"] not in await laptop.locator("#messages").inner_text()
    assert await axe_violations(phone) == [], "the phone's chat"

    # From the phone the customer signs out everywhere else: the laptop is back to a guest's empty chat.
    await phone.click("#sign-out-others")
    await expect(phone.locator("#notice")).to_contain_text(texts["signed_out_others"])
    await expect(laptop.locator("#notice")).to_contain_text(texts["signed_out_here"])
    await expect(laptop.locator("#sign-out")).to_be_hidden()
    assert texts["reply"] not in await laptop.locator("#messages").inner_text()
    assert await axe_violations(laptop) == [], "the signed-out laptop"
