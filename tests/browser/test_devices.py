"""One customer on every device, in headless Chromium (issue 21).

Anna, a signed-in customer, asks for a person on her laptop (1280x800) and picks the conversation up on her
phone (390x844): both show it live, the operator's reply and the rating request reach both, her comment is
stored as a comment (never read as an intent), and from the phone she signs the laptop out. The operator
uses the console's JSON API as the page does; the pages pass axe-core.
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


@pytest.fixture
async def gateway(stack: Stack, aiohttp_client: Any) -> TestClient[web.Request, web.Application]:
    client: TestClient[web.Request, web.Application] = await aiohttp_client(
        create_app(gateway_settings(stack, "devices_browser"))
    )
    return client


async def anna_signs_in(browser: Browser, base: str, viewport: dict[str, int]) -> Page:
    context = await browser.new_context(locale="ru-RU", viewport=viewport, bypass_csp=True)  # type: ignore[arg-type]
    page = await context.new_page()
    await page.goto(base + "/chat")
    await page.locator("#sign-in-open").click()
    await page.get_by_role("button", name=re.compile("Анна Смирнова")).click()
    await expect(page.locator("#identity-who")).to_have_text("Вы: Анна Смирнова")
    await expect(page.locator("#status")).to_have_attribute("data-state", "online")
    return page


async def test_a_customer_moves_from_her_laptop_to_her_phone_mid_conversation(
    gateway: TestClient[web.Request, web.Application], browser: Browser
) -> None:
    base = str(gateway.make_url("")).rstrip("/")
    kate = Operator(gateway, "kate")
    await kate.signs_in()
    await kate.goes_online()
    await gateway.app[BUS_KEY].drain()

    laptop = await anna_signs_in(browser, base, {"width": 1280, "height": 800})
    await laptop.fill("#input", "позовите оператора")
    await laptop.click("#send")
    await expect(laptop.locator("#messages")).to_contain_text("Ваш номер в очереди", timeout=BOT_TIMEOUT_MS)

    # On the phone the same conversation is there, history included.
    phone = await anna_signs_in(browser, base, {"width": 390, "height": 844})
    await expect(phone.locator("#messages")).to_contain_text("позовите оператора")
    conversation_id = await laptop.evaluate("() => localStorage.getItem('bankchat.conversation_id')")
    assert conversation_id == await phone.evaluate("() => localStorage.getItem('bankchat.conversation_id')")

    # She writes on the phone; the laptop shows it. The operator's reply reaches both.
    await phone.fill("#input", "я теперь с телефона")
    await phone.click("#send")
    await expect(laptop.locator("#messages")).to_contain_text("я теперь с телефона")
    await gateway.app[BUS_KEY].drain()
    await kate.conversation(conversation_id, "accept")
    await kate.conversation(conversation_id, "reply", {"text": "Анна, вижу вас, помогу."})
    for page in (laptop, phone):
        await expect(page.locator("#messages")).to_contain_text("Анна, вижу вас, помогу.")

    # Closing asks both pages for a rating; she rates on the phone and comments on the laptop.
    await kate.conversation(conversation_id, "close", {"resolution": "resolved"})
    for page in (laptop, phone):
        await expect(page.locator("#messages")).to_contain_text("Оцените, пожалуйста, нашу помощь")
    await phone.get_by_role("button", name="4").last.click()
    await expect(laptop.locator("#messages")).to_contain_text("Хотите добавить комментарий?")
    await laptop.fill("#input", "Kate was nice but slow to answer")
    await laptop.click("#send")
    # Written in English, so thanked in English: the comment is a comment, not a question for the bot.
    await expect(phone.locator("#messages")).to_contain_text("Thank you for the feedback!")
    answers = await gateway.app[DB_KEY].survey_answers.find({"conversation_id": conversation_id}).to_list()
    assert [a.get("value") for a in answers if a.get("type") == "rating_1_5"] == [4]
    assert [a.get("comment") for a in answers if a.get("type") == "comment"] == ["Kate was nice but slow to answer"]
    assert "Glad I could help" not in await laptop.locator("#messages").inner_text()
    assert await axe_violations(phone) == [], "the phone's chat"

    # From the phone she signs out everywhere else: the laptop is back to a guest's empty chat.
    await phone.click("#sign-out-others")
    await expect(phone.locator("#notice")).to_contain_text("на других устройствах и вкладках вход завершён")
    await expect(laptop.locator("#notice")).to_contain_text("Вход на этом устройстве завершён с другого устройства")
    await expect(laptop.locator("#sign-out")).to_be_hidden()
    assert "Анна, вижу вас" not in await laptop.locator("#messages").inner_text()
    assert await axe_violations(laptop) == [], "the signed-out laptop"
