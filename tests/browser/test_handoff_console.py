"""The operator console in headless Chromium: a real conversation from the queue to the rating.

Two stories on the real platform: a REST customer with the operator and a
supervisor in two browser contexts, and a web-chat customer and an operator,
each in their own context. The gateway is built in-process by the app factory
on the `stack`'s FerretDB (a database of its own) and talks to the stack's Rasa
with the trained model and the action server, so the customer asks the real bot
for an operator. The staff contexts prefer Russian, as the bank's staff do, so the
pages open in Russian; the supervisor then switches to English.
"""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from playwright.async_api import Browser, Page, expect

from core.app import create_app
from core.keys import BUS_KEY, DB_KEY
from core.stack import Stack
from handoff.setup import DEMO_STAFF_PASSWORD

from ..handoff_support import REST, gateway_settings

XSS = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'
ASK_FOR_OPERATOR = "позовите оператора"
# Steps that wait for the real bot: it answers in 0.3-3 s on the busy shared machine.
BOT_TIMEOUT_MS = 20_000


@pytest.fixture
async def gateway(stack: Stack, aiohttp_client: Any) -> TestClient[web.Request, web.Application]:
    client: TestClient[web.Request, web.Application] = await aiohttp_client(
        create_app(gateway_settings(stack, "browser"))
    )
    return client


async def sign_in(page: Page, base: str, login: str) -> None:
    await page.goto(base + "/console")
    await page.fill("#login", login)
    await page.fill("#password", DEMO_STAFF_PASSWORD)
    await page.click("#sign-in-button")
    await expect(page.locator("#connection")).to_have_text("на связи")


async def test_operator_serves_a_customer_in_the_browser_console(
    gateway: TestClient[web.Request, web.Application], browser: Browser
) -> None:
    base = str(gateway.make_url("")).rstrip("/")

    async def customer_says(text: str) -> list[str]:
        resp = await gateway.post(REST, json={"sender": "browser-customer", "text": text})
        return [r["text"] for r in (await resp.json())["replies"]]

    operator_context = await browser.new_context(locale="ru-RU")
    supervisor_context = await browser.new_context(locale="ru-RU")
    console = await operator_context.new_page()
    await sign_in(console, base, "olga")
    await console.select_option("#status", "online")
    await gateway.app[BUS_KEY].drain()

    assert "Соединяю вас с оператором." in " ".join(await customer_says(ASK_FOR_OPERATOR))
    mine = console.locator("#mine li a")
    await expect(mine).to_have_count(1, timeout=BOT_TIMEOUT_MS)
    await mine.first.click()
    await expect(console.locator("#reason")).to_have_text("просьба клиента")

    await customer_says(XSS)
    last_customer_line = console.locator("#transcript li.customer .text").last
    await expect(last_customer_line).to_have_text(XSS)
    assert await console.evaluate("window.__pwned") is None, "customer text never runs in the console"

    await console.fill("#reply-text", "Здравствуйте! Я вижу ваш вопрос.")
    await console.click("#send-reply")
    await expect(console.locator("#transcript li.operator")).to_have_count(1)
    await gateway.app[BUS_KEY].drain()
    assert "Здравствуйте! Я вижу ваш вопрос." in await customer_says("спасибо")

    # The network drops; what the customer writes meanwhile appears once after the reconnect.
    await console.evaluate("window.consoleDropConnection()")
    await customer_says("пока вы отключались")
    await expect(console.locator("#connection")).to_have_text("на связи")
    await expect(console.locator("#transcript li.customer", has_text="пока вы отключались")).to_have_count(1)

    await console.fill("#reply-text", "клиент вежливый")
    await console.click("#add-note")
    await expect(console.locator("#notes li", has_text="клиент вежливый")).to_have_count(1)
    await console.select_option("#resolution", "information_given")
    await console.click("#close")
    await expect(console.locator("#conv-state")).to_have_text("закрыт")
    await gateway.app[BUS_KEY].drain()
    replies = await customer_says("4")
    assert "клиент вежливый" not in " ".join(replies)
    rating = await gateway.app[DB_KEY].ratings.find_one({})
    assert rating is not None and rating["score"] == 4

    supervisor = await supervisor_context.new_page()
    await sign_in(supervisor, base, "sveta")
    await supervisor.goto(base + "/supervisor")
    await expect(supervisor.locator("#figures")).to_contain_text("средняя оценка")
    await expect(supervisor.locator("#figures tr", has_text="средняя оценка")).to_contain_text("4")

    # The supervisor prefers English: the switch turns the page English, and it stays so after a reload.
    english = supervisor.locator("#ui-lang").get_by_role("button", name="EN")
    await english.click()
    await expect(supervisor.locator("html")).to_have_attribute("lang", "en")
    await expect(supervisor.locator("#figures tr", has_text="average rating")).to_contain_text("4")
    await supervisor.reload()
    await expect(english).to_have_attribute("aria-pressed", "true")
    await expect(supervisor.get_by_role("heading", name="Figures")).to_be_visible()
    await expect(supervisor.locator("#figures tr", has_text="average rating")).to_contain_text("4")
    await operator_context.close()
    await supervisor_context.close()


async def test_web_chat_customer_and_console_operator_carry_a_conversation_to_close(
    gateway: TestClient[web.Request, web.Application], browser: Browser
) -> None:
    base = str(gateway.make_url("")).rstrip("/")
    customer_context = await browser.new_context()
    operator_context = await browser.new_context(locale="ru-RU")
    console = await operator_context.new_page()
    await sign_in(console, base, "kate")
    await console.select_option("#status", "online")
    await gateway.app[BUS_KEY].drain()

    chat = await customer_context.new_page()
    await chat.goto(base + "/chat")
    await chat.locator("#guest").click()
    await expect(chat.locator("#status")).to_have_attribute("data-state", "online")

    async def customer_types(text: str) -> None:
        await chat.fill("#input", text)
        await chat.click("#send")

    await customer_types(ASK_FOR_OPERATOR)
    await expect(chat.locator("#messages")).to_contain_text("Соединяю вас с оператором.", timeout=BOT_TIMEOUT_MS)
    await expect(chat.locator("#messages")).to_contain_text("К чату подключился оператор Kate.", timeout=BOT_TIMEOUT_MS)
    mine = console.locator("#mine li a")
    await expect(mine).to_have_count(1, timeout=BOT_TIMEOUT_MS)
    await mine.first.click()
    await customer_types("Где мой перевод?")
    await expect(console.locator("#transcript li.customer .text").last).to_have_text("Где мой перевод?")

    await console.fill("#reply-text", "Перевод зачислен сегодня в 12:40.")
    await console.click("#send-reply")
    await expect(chat.locator("#messages")).to_contain_text("Перевод зачислен сегодня в 12:40.")
    await console.fill("#reply-text", "проверено по выписке")
    await console.click("#add-note")
    await console.select_option("#resolution", "information_given")
    await console.click("#close")
    await expect(chat.locator("#messages")).to_contain_text("Оцените, пожалуйста, нашу помощь от 1 до 5.")
    await chat.locator("#messages button", has_text="5").last.click()
    await expect(chat.locator("#messages")).to_contain_text("Спасибо за оценку!")
    assert "проверено по выписке" not in await chat.locator("#messages").inner_text()
    rating = await gateway.app[DB_KEY].ratings.find_one({})
    assert rating is not None and rating["score"] == 5
    await customer_context.close()
    await operator_context.close()
