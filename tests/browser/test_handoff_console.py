"""The operator console in headless Chromium, with a web-chat customer, an operator and a supervisor at once.

Each story runs on the real platform: the gateway is built in-process by the app factory on the `stack`'s
FerretDB (a database of its own) and talks to the stack's Rasa with the trained model and the action
server, so the customer really asks the bot for an operator. Three browser contexts act at the same time:
the customer in the web chat, the operator Kate in /console, and the supervisor Sveta (who may serve as an
operator) in /console too. Staff contexts prefer Russian, as the bank's staff do.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from playwright.async_api import Browser, BrowserContext, Page, expect

from core.app import create_app
from core.keys import BUS_KEY, DB_KEY
from core.stack import Stack
from handoff.setup import DEMO_STAFF_PASSWORD

from ..handoff_support import gateway_settings
from .conftest import axe_violations, goes_online

ASK_FOR_OPERATOR = "позовите оператора"
JOINED = "К чату подключился оператор Kate"
# Steps that wait for the real bot: it answers in 0.3-3 s on the busy shared machine.
BOT_TIMEOUT_MS = 20_000


@pytest.fixture
async def gateway(stack: Stack, aiohttp_client: Any) -> TestClient[web.Request, web.Application]:
    client: TestClient[web.Request, web.Application] = await aiohttp_client(
        create_app(gateway_settings(stack, "browser"))
    )
    return client


def base_of(gateway: TestClient[web.Request, web.Application]) -> str:
    return str(gateway.make_url("")).rstrip("/")


async def staff_context(browser: Browser) -> BrowserContext:
    # bypass_csp lets the test inject axe-core; the page's own scripts still come only from the gateway.
    context = await browser.new_context(locale="ru-RU", viewport={"width": 1280, "height": 800}, bypass_csp=True)
    await context.grant_permissions(["notifications"])
    return context


async def sign_in(page: Page, base: str, login: str) -> None:
    await page.goto(base + "/console")
    await page.fill("#login", login)
    await page.fill("#password", DEMO_STAFF_PASSWORD)
    await page.click("#sign-in-button")
    await expect(page.locator("#connection")).to_have_text("на связи")


async def guest_chat(context: BrowserContext, base: str) -> Page:
    chat = await context.new_page()
    await chat.goto(base + "/chat")
    await chat.locator("#guest").click()
    await expect(chat.locator("#status")).to_have_attribute("data-state", "online")
    return chat


async def customer_types(chat: Page, text: str) -> None:
    await chat.fill("#input", text)
    await chat.click("#send")


async def test_operator_is_alerted_accepts_answers_from_the_kb_and_a_supervisor_finds_the_closed_conversation(
    gateway: TestClient[web.Request, web.Application], browser: Browser
) -> None:
    base = base_of(gateway)
    customer_context = await browser.new_context(locale="ru-RU")
    operator_context = await staff_context(browser)
    supervisor_context = await staff_context(browser)
    console = await operator_context.new_page()
    await sign_in(console, base, "kate")
    await goes_online(console, gateway)
    supervisor = await supervisor_context.new_page()
    await sign_in(supervisor, base, "sveta")

    # A guest asks the bot about activating a card, then for a person; the bot hands over and Kate gets it.
    chat = await guest_chat(customer_context, base)
    await customer_types(chat, "Как активировать карту?")
    await expect(chat.locator("#messages")).to_contain_text("ПИН-код", timeout=BOT_TIMEOUT_MS)
    await customer_types(chat, ASK_FOR_OPERATOR)
    await expect(chat.locator("#messages")).to_contain_text("Соединяю вас с оператором", timeout=BOT_TIMEOUT_MS)

    # Kate is alerted: the alert is recorded (sound and desktop notification), the tab title counts unread.
    await console.wait_for_function(
        "() => window.__consoleAlerts.some((a) => a.kind === 'assigned')", timeout=BOT_TIMEOUT_MS
    )
    alert = await console.evaluate("window.__consoleAlerts.find((a) => a.kind === 'assigned')")
    assert alert["notification"] is True, "notifications were granted, so a desktop notification is shown"
    await expect(console).to_have_title(re.compile(r"^\(\d+\) Консоль оператора"))
    row = console.locator("#rows li.row").first
    await expect(row).to_contain_text("Гость")
    await expect(row).to_contain_text("новый")
    await expect(row.locator(".waiting")).to_contain_text("ждёт")

    # Nobody has looked at it yet, so the customer has not been told an operator joined.
    await gateway.app[BUS_KEY].drain()
    assert JOINED not in await chat.locator("#messages").inner_text()

    # Kate opens it: that accepts it, and only now the customer hears who joined.
    await row.locator("a").click()
    await expect(console).to_have_url(re.compile(r"/console/c/[0-9a-f]+$"))
    await expect(chat.locator("#messages")).to_contain_text(JOINED, timeout=BOT_TIMEOUT_MS)
    await expect(console).to_have_title("Консоль оператора — Демо-Банк")
    await expect(console.locator("#reason")).to_have_text("просьба клиента")

    # The last line says nothing about cards; the suggestions still come from the whole conversation.
    await customer_types(chat, "Алло, вы тут?")
    await expect(console.locator("#transcript li.msg.customer .text").last).to_have_text("Алло, вы тут?")
    suggestion = console.locator("#kb li", has_text="Активация карты")
    await expect(suggestion).to_have_count(1, timeout=BOT_TIMEOUT_MS)
    await suggestion.get_by_role("button", name=re.compile("Вставить ответ")).click()
    composer = console.locator("#composer-text")
    await expect(composer).to_have_value(re.compile(r"^Чтобы активировать карту, задайте ПИН-код в приложении"))
    await expect(composer).to_be_focused()
    await composer.press("End")
    await composer.type(" Подскажу, если что-то не получится.")
    await composer.press("Enter")
    await expect(chat.locator("#messages")).to_contain_text("Подскажу, если что-то не получится.")
    await expect(composer).to_have_value("")

    # "/" opens the canned responses with search; Enter picks one, filled in for a guest without a gap.
    await composer.type("/привет")
    await expect(console.locator("#canned").get_by_role("option")).to_have_count(1)
    await expect(console.locator("#canned").get_by_role("option")).to_contain_text("Приветствие")
    await composer.press("Enter")
    await expect(composer).to_have_value("Здравствуйте! Меня зовут Kate, я помогу вам.")
    await composer.fill("")

    # Shift+Enter is a new line; a private note shows in the timeline and never reaches the customer.
    await console.get_by_text("Заметка (клиент не видит)").click()
    await composer.type("клиент новый")
    await composer.press("Shift+Enter")
    await composer.type("вторая строка")
    await composer.press("Enter")
    await expect(console.locator("#transcript li.note")).to_contain_text("клиент новый\nвторая строка")

    if folder := os.environ.get("CC_SCREENSHOTS"):  # README's picture: CC_SCREENSHOTS=docs/screenshots
        await console.screenshot(path=str(Path(folder) / "console.png"))

    # The URL survives a reload: the same conversation opens again.
    url = console.url
    await console.reload()
    await expect(console.locator("#connection")).to_have_text("на связи")
    assert console.url == url
    await expect(console.locator("#transcript")).to_contain_text("Подскажу, если что-то не получится.")
    assert await axe_violations(console) == []

    # Closing asks for a resolution and a confirmation; then the header and composer follow at once.
    await console.click("#close")
    await expect(console.locator("#banner")).to_contain_text("Сначала выберите итог разговора.")
    await console.select_option("#resolution", "information_given")
    await console.click("#close")
    await expect(console.locator("#confirm-close")).to_contain_text("информация дана")
    await console.click("#confirm-close-yes")
    await expect(console.locator("#conv-state")).to_have_text("закрыт")
    await expect(console.locator("#banner")).to_contain_text("Разговор закрыт.")
    await expect(console.locator("#banner")).to_have_class(re.compile(r"\bok\b"))
    await expect(console.locator("#composer")).to_have_count(0)
    await expect(chat.locator("#messages")).to_contain_text("Оцените, пожалуйста, нашу помощь от 1 до 5.")
    assert "клиент новый" not in await chat.locator("#messages").inner_text()

    # The supervisor finds the closed conversation by what the customer wrote and opens it read only.
    await supervisor.fill("#search", "активировать карту")
    await supervisor.press("#search", "Enter")
    found = supervisor.locator("#rows li.row")
    await expect(found).to_have_count(1)
    await expect(found).to_contain_text("закрыт")
    await found.locator("a").click()
    await expect(supervisor.locator("#conv-state")).to_have_text("закрыт")
    await expect(supervisor.locator("#read-only")).to_have_text("Только чтение")
    await expect(supervisor.locator("#transcript")).to_contain_text("Подскажу, если что-то не получится.")
    await expect(supervisor.locator("#composer")).to_have_count(0)
    for context in (customer_context, operator_context, supervisor_context):
        await context.close()


async def test_unverified_customer_who_lost_a_card_is_verified_and_the_operator_blocks_it(
    gateway: TestClient[web.Request, web.Application], browser: Browser
) -> None:
    base = base_of(gateway)
    customer_context = await browser.new_context(locale="ru-RU")
    operator_context = await staff_context(browser)
    supervisor_context = await staff_context(browser)
    console = await operator_context.new_page()
    await sign_in(console, base, "kate")
    await goes_online(console, gateway)
    supervisor = await supervisor_context.new_page()
    await sign_in(supervisor, base, "sveta")

    chat = await guest_chat(customer_context, base)
    # The bot cannot block a guest's card; the customer presses its "call an operator" button.
    await customer_types(chat, "Я потерял карту")
    await expect(chat.locator("#messages")).to_contain_text("убедился, что карта ваша", timeout=BOT_TIMEOUT_MS)
    await chat.get_by_role("button", name="Позвать оператора").click()
    row = console.locator("#rows li.row").first
    await expect(row).to_be_visible(timeout=BOT_TIMEOUT_MS)
    await row.locator("a").click()
    await expect(console.locator("#profile")).to_have_text("Гость — личность не подтверждена")
    await expect(console.locator("#transcript")).to_contain_text("нажал(а) кнопку «Позвать оператора»")

    # Wrong digits: refused in the page's language, and the attempt is audited.
    await customer_types(chat, "Мой телефон +7 916 000-00-01, карта на 5678")
    await console.fill("#verify-phone", "+7 916 000-00-01")
    await console.fill("#verify-last4", "0000")
    await console.click("#verify-check")
    await expect(console.locator("#banner")).to_contain_text(
        "Цифры не совпадают ни с одной картой клиента. Осталось попыток: 2."
    )
    await console.fill("#verify-last4", "5678")
    await console.click("#verify-check")
    await expect(console.locator("#banner")).to_contain_text("Личность клиента подтверждена.")
    await expect(console.locator("#profile")).to_have_text("Иван Петров")
    await expect(console.locator("#verified-by")).to_contain_text("оператором: телефон и 4 цифры карты")
    card = console.locator("#cards li[data-last4='5678']")
    await expect(card).to_contain_text("действует")

    # Blocking asks first; then the card reads blocked and the bank's audit log names the operator.
    await card.get_by_role("button", name=re.compile("Заблокировать карту")).click()
    await card.locator(".confirm-block").click()
    await expect(console.locator("#banner")).to_contain_text("заблокирована")
    await expect(card.locator(".card-status")).to_have_text("заблокирована")
    await console.locator("#composer-text").fill("Карта •••• 5678 заблокирована. Новую можно заказать в приложении.")
    await console.locator("#composer-text").press("Enter")
    await expect(chat.locator("#messages")).to_contain_text("Карта •••• 5678 заблокирована.")

    db = gateway.app[DB_KEY]
    audit = await db.audit_log.find({"actor": "operator:kate"}).sort("at", 1).to_list()
    # Each time Kate's console showed Ivan's cards and balances, that view was audited too.
    views = [r for r in audit if r["action"] == "bank_data.viewed"]
    assert views and {r["customer_id"] for r in views} == {"demo-ivan"}
    audit = [r for r in audit if r["action"] != "bank_data.viewed"]
    assert [(r["action"], r["result"]) for r in audit] == [
        ("identity.verify", "mismatch"),
        ("identity.verify", "verified"),
        ("card.block", "blocked"),
    ]
    assert audit[-1]["customer_id"] == "demo-ivan" and audit[-1]["card_last4"] == "5678"
    card_doc = await db.bank_cards.find_one({"customer_id": "demo-ivan", "last4": "5678"})
    assert card_doc is not None and card_doc["status"] == "blocked"

    # The supervisor sees the conversation under the customer's name among all open ones.
    await supervisor.click("#view-open")
    await expect(supervisor.locator("#rows li.row", has_text="Иван Петров")).to_have_count(1)
    for context in (customer_context, operator_context, supervisor_context):
        await context.close()


async def test_a_callback_is_done_with_an_outcome_and_a_transfer_and_a_return_update_both_consoles(
    gateway: TestClient[web.Request, web.Application], browser: Browser
) -> None:
    base = base_of(gateway)
    customer_context = await browser.new_context(locale="ru-RU")
    kate_context, olga_context, supervisor_context = [await staff_context(browser) for _ in range(3)]

    # Nobody is online: the guest asks for a callback and leaves a number.
    chat = await guest_chat(customer_context, base)
    await customer_types(chat, ASK_FOR_OPERATOR)
    await expect(chat.locator("#messages")).to_contain_text("операторы заняты", timeout=BOT_TIMEOUT_MS)
    await chat.get_by_role("button", name="Заказать обратный звонок").click()
    await expect(chat.locator("#messages")).to_contain_text("Напишите номер телефона")
    await customer_types(chat, "+7 916 555-44-33")
    await expect(chat.locator("#messages")).to_contain_text("+79165554433")

    # Kate comes online and gets the conversation; the callback task names who, which number, when, where.
    kate = await kate_context.new_page()
    await sign_in(kate, base, "kate")
    await goes_online(kate, gateway)
    await kate.click("#view-callbacks")
    task = kate.locator("#callbacks li.task").first
    await expect(task).to_contain_text("Гость")
    await expect(task).to_contain_text("+79165554433")
    await expect(task).to_contain_text("попросил(а)")
    await task.get_by_role("link", name="Открыть разговор").click()
    await expect(kate).to_have_url(re.compile(r"/console/c/[0-9a-f]+$"))
    await expect(chat.locator("#messages")).to_contain_text(JOINED, timeout=BOT_TIMEOUT_MS)
    await task.get_by_label("Итог звонка").select_option("reached")
    await task.get_by_role("button", name="Выполнено").click()
    await expect(kate.locator("#banner")).to_contain_text("Задача отмечена выполненной.")
    await expect(kate.locator("#callbacks li.task")).to_have_count(0)
    done = await gateway.app[DB_KEY].callback_tasks.find_one({})
    assert done is not None and done["status"] == "done" and done["outcome"] == "reached"

    # The supervisor finds the conversation by the number the guest left.
    supervisor = await supervisor_context.new_page()
    await sign_in(supervisor, base, "sveta")
    await supervisor.fill("#search", "916 555-44-33")
    await supervisor.press("#search", "Enter")
    await expect(supervisor.locator("#rows li.row")).to_have_count(1)
    await expect(supervisor.locator("#rows li.row")).to_contain_text("у Kate")

    # Olga comes online; Kate's transfer list is read fresh and offers neither herself nor the supervisor.
    olga = await olga_context.new_page()
    await sign_in(olga, base, "olga")
    await goes_online(olga, gateway)
    await kate.click("#open-transfer")
    options = kate.locator("#transfer-target option")
    await expect(options.filter(has_text="Ольга")).to_contain_text("на линии")
    assert not any("Светлана" in o or "Kate" in o for o in await options.all_inner_texts())
    await kate.select_option("#transfer-target", "op:olga")
    await kate.fill("#transfer-note", "просит перезвонить вечером")
    await kate.click("#transfer")
    await expect(kate.locator("#banner")).to_contain_text("Разговор передан: Ольга.")
    await expect(kate.locator("#banner")).to_have_class(re.compile(r"\bok\b"))
    await expect(kate.locator("#conv-state")).to_have_text("у оператора: Ольга")
    await expect(kate.locator("#composer")).to_have_count(0)
    await expect(kate.locator("#read-only")).to_be_visible()

    # Olga is alerted, opens it, reads the transfer note, and gives the conversation back to the bot.
    await olga.wait_for_function("() => window.__consoleAlerts.some((a) => a.kind === 'assigned')")
    await olga.locator("#rows li.row a").first.click()
    await expect(olga.locator("#transcript li.note")).to_contain_text("Заметка при передаче · Kate")
    await expect(olga.locator("#transcript li.note")).to_contain_text("просит перезвонить вечером")
    await expect(chat.locator("#messages")).to_contain_text("К чату подключился оператор Ольга", timeout=BOT_TIMEOUT_MS)
    await olga.click("#return-to-bot")
    await expect(olga.locator("#banner")).to_contain_text("Разговор возвращён боту.")
    await expect(olga.locator("#conv-state")).to_have_text("с ботом")
    await expect(olga.locator("#composer")).to_have_count(0)
    await expect(kate.locator("#conv-state")).to_have_text("с ботом")
    for context in (customer_context, kate_context, olga_context, supervisor_context):
        await context.close()
