"""Customers use the web chat in headless Chromium against the real platform (gateway, Rasa, actions, FerretDB)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from playwright.async_api import Browser, BrowserContext, Dialog, Page, expect

from core.app import create_app
from core.db import Database
from core.keys import BUS_KEY, DB_KEY
from core.stack import Stack
from handoff.setup import DEMO_STAFF_PASSWORD

from ..handoff_support import Operator, _close_operator_sessions, gateway_settings
from .conftest import axe_violations, goes_online

__all__ = ["_close_operator_sessions"]

# The bot answers within its 4 s timeout; the first answer of a fresh Rasa can take a little longer.
REPLY_TIMEOUT_MS = 20_000
CYRILLIC = re.compile(r"[а-яё]", re.IGNORECASE)

customer_bubbles = ".msg--out:not(.msg--pending) .msg__bubble"
assistant_bubbles = ".msg--bot .msg__bubble"


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    """A fresh browser profile (empty localStorage) with a Russian browser language."""
    fresh = await browser.new_context(locale="ru-RU", viewport={"width": 420, "height": 800})
    yield fresh
    await fresh.close()


async def open_chat(context: BrowserContext, gateway_url: str, fragment: str = "") -> Page:
    page = await context.new_page()
    await page.goto(f"{gateway_url}/chat{fragment}")
    return page


async def continue_as_guest(page: Page) -> None:
    await page.get_by_role("button", name="Продолжить как гость").click()
    await expect(page.locator("#status")).to_have_attribute("data-state", "online")


async def type_message(page: Page, text: str) -> None:
    await page.locator("#input").fill(text)
    await page.locator("#input").press("Enter")


async def wait_for_assistant_replies(page: Page, count: int) -> None:
    await expect(page.locator(assistant_bubbles)).to_have_count(count, timeout=REPLY_TIMEOUT_MS)


async def test_a_guest_greets_in_russian_and_gets_a_russian_reply(context: BrowserContext, gateway_url: str) -> None:
    page = await open_chat(context, gateway_url)
    await expect(page.locator("#demo-panel")).to_be_visible()
    await expect(page.locator("#demo-panel")).to_contain_text("Демо-вход / Demo sign-in")
    await continue_as_guest(page)
    await expect(page.locator("#identity-who")).to_have_text("Вы: гость")

    await type_message(page, "Здравствуйте!")
    await expect(page.locator(customer_bubbles)).to_have_text(["Здравствуйте!"])
    await wait_for_assistant_replies(page, 1)
    reply = await page.locator(assistant_bubbles).first.inner_text()
    assert CYRILLIC.search(reply), reply
    await expect(page.locator(".msg--bot .msg__label").first).to_have_text("Ассистент")
    await expect(page.locator("#pending .msg")).to_have_count(0)


async def test_ivan_signs_in_sees_his_balance_presses_buttons_and_reload_restores_it_all(
    context: BrowserContext, gateway_url: str
) -> None:
    page = await open_chat(context, gateway_url)
    await page.get_by_role("button", name=re.compile("Иван Петров")).click()
    await expect(page.locator("#identity-who")).to_have_text("Вы: Иван Петров")
    await expect(page.locator("#demo-panel")).to_be_hidden()
    await expect(page.locator("#status")).to_have_attribute("data-state", "online")

    await type_message(page, "какой баланс на карте")
    await expect(page.locator(assistant_bubbles).last).to_contain_text("₽", timeout=REPLY_TIMEOUT_MS)
    balance = await page.locator(assistant_bubbles).last.inner_text()
    assert re.search(r"\d[\d\s\u00a0\u202f]*,\d\d\s?₽", balance), balance

    # Blocking asks which card with buttons; the pressed button's title shows as the customer's message.
    await type_message(page, "заблокируй карту")
    card_button = page.locator(".choice:not([disabled])", has_text="5678")
    await expect(card_button).to_be_visible(timeout=REPLY_TIMEOUT_MS)
    card_title = (await card_button.inner_text()).strip()
    await card_button.click()
    await expect(page.locator(customer_bubbles).last).to_have_text(card_title, timeout=REPLY_TIMEOUT_MS)
    no_button = page.get_by_role("button", name="Нет", exact=True)
    await expect(no_button).to_be_enabled(timeout=REPLY_TIMEOUT_MS)
    await no_button.click()
    await expect(page.locator(customer_bubbles).last).to_have_text("Нет", timeout=REPLY_TIMEOUT_MS)
    await expect(page.locator(".choice:not([disabled])")).to_have_count(0)
    await expect(page.locator("#typing")).to_be_hidden(timeout=REPLY_TIMEOUT_MS)
    await expect(page.locator("#pending .msg")).to_have_count(0)

    shown = await page.locator("#stored .msg__bubble").all_inner_texts()
    await page.reload()
    await expect(page.locator("#identity-who")).to_have_text("Вы: Иван Петров")
    await expect(page.locator("#stored .msg__bubble")).to_have_text(shown)
    # Buttons already answered stay answered after the reload.
    await expect(page.locator(".choice:not([disabled])")).to_have_count(0)


async def test_html_typed_by_a_customer_shows_as_text_and_runs_nothing(
    context: BrowserContext, gateway_url: str
) -> None:
    page = await open_chat(context, gateway_url)
    dialogs: list[str] = []

    async def record(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        await dialog.dismiss()

    page.on("dialog", record)
    await continue_as_guest(page)
    html = "<img src=x onerror=alert(1)>"
    await type_message(page, html)
    await expect(page.locator(customer_bubbles)).to_have_text([html])
    await wait_for_assistant_replies(page, 1)
    await page.reload()
    await expect(page.locator(customer_bubbles)).to_have_text([html])
    await page.wait_for_timeout(500)
    assert dialogs == []
    assert await page.locator("#messages img").count() == 0


async def test_a_message_typed_offline_is_delivered_once_when_the_network_returns(
    context: BrowserContext, gateway_url: str
) -> None:
    page = await open_chat(context, gateway_url)
    await continue_as_guest(page)
    await type_message(page, "Привет")
    await wait_for_assistant_replies(page, 1)

    await context.set_offline(True)
    await expect(page.locator("#status")).to_have_attribute("data-state", "offline")
    text = "Что ты умеешь?"
    await type_message(page, text)
    pending = page.locator("#pending .msg")
    await expect(pending).to_have_count(1)
    await expect(pending).to_contain_text("Ждёт сети")
    # The outbox is in localStorage, so a closed tab would send it next time too.
    outbox = await page.evaluate("JSON.parse(localStorage.getItem('bankchat.outbox'))")
    assert [entry["text"] for entry in outbox] == [text]

    await context.set_offline(False)
    await expect(page.locator("#status")).to_have_attribute("data-state", "online", timeout=REPLY_TIMEOUT_MS)
    await expect(pending).to_have_count(0, timeout=REPLY_TIMEOUT_MS)
    await wait_for_assistant_replies(page, 2)
    await page.wait_for_timeout(1000)
    await expect(page.locator(customer_bubbles, has_text=text)).to_have_count(1)

    # The server, too, has it once: a reload rebuilds the page from the transcript.
    await page.reload()
    await expect(page.locator(customer_bubbles)).to_have_text(["Привет", text])


async def test_the_english_switch_changes_the_page_and_is_remembered(context: BrowserContext, gateway_url: str) -> None:
    page = await open_chat(context, gateway_url)
    await continue_as_guest(page)
    await expect(page.locator("#lang-ru")).to_have_attribute("aria-pressed", "true")
    await page.locator("#lang-en").click()
    await expect(page.locator("#lang-en")).to_have_attribute("aria-pressed", "true")
    await expect(page.locator(".brand__subtitle")).to_have_text("Online support chat")
    await expect(page.locator("#input")).to_have_attribute("placeholder", "Type a message…")
    await expect(page.locator("#status")).to_have_text("Online")
    await expect(page.locator("html")).to_have_attribute("lang", "en")

    await page.reload()
    await expect(page.locator(".brand__subtitle")).to_have_text("Online support chat")
    await type_message(page, "Hello!")
    await wait_for_assistant_replies(page, 1)
    reply = await page.locator(assistant_bubbles).first.inner_text()
    assert not CYRILLIC.search(reply), reply
    await expect(page.locator(".msg--bot .msg__label").first).to_have_text("Assistant")


async def test_an_english_browser_starts_in_english(browser: Browser, gateway_url: str) -> None:
    english = await browser.new_context(locale="en-US")
    try:
        page = await english.new_page()
        await page.goto(f"{gateway_url}/chat")
        await expect(page.locator("#lang-en")).to_have_attribute("aria-pressed", "true")
        await expect(page.locator("#guest")).to_have_text("Continue as guest")
    finally:
        await english.close()


async def test_a_bad_token_from_the_bank_site_asks_to_sign_in_again(context: BrowserContext, gateway_url: str) -> None:
    page = await open_chat(context, gateway_url, "#customer_token=forged.token.value")
    await expect(page.locator("#notice")).to_contain_text("войдите снова")
    await expect(page.locator("#identity-who")).to_have_text("Вы: гость")
    assert "customer_token" not in page.url, "the token must leave the address bar"
    await page.get_by_role("button", name="Продолжить как гость").click()
    await type_message(page, "Привет")
    await wait_for_assistant_replies(page, 1)


async def test_the_bank_site_passes_a_token_with_bank_chat_init(
    context: BrowserContext, gateway_url: str, mint_token: Callable[..., str]
) -> None:
    page = await open_chat(context, gateway_url)
    await page.evaluate("token => window.BankChat.init({customerToken: token})", mint_token("demo-anna"))
    await expect(page.locator("#identity-who")).to_have_text("Вы вошли в интернет-банк")
    await expect(page.locator("#demo-panel")).to_be_hidden()
    await type_message(page, "какой баланс на карте")
    await expect(page.locator(assistant_bubbles).last).to_contain_text("₽", timeout=REPLY_TIMEOUT_MS)


# ---- the newest message in view, operators in the chat, a finished conversation after a reload ------------

# What "fully visible" means: the newest message and each of its buttons lie inside the message list's box.
NEWEST_FULLY_VISIBLE = """() => {
  const box = document.getElementById("messages").getBoundingClientRect();
  const all = document.querySelectorAll("#stored .msg, #pending .msg");
  if (!all.length) return false;
  const last = all[all.length - 1];
  const parts = [last, ...last.querySelectorAll(".choice")].map((node) => node.getBoundingClientRect());
  return parts.every((r) => r.bottom <= box.bottom + 0.5 && r.top >= box.top - 0.5);
}"""


async def newest_is_fully_visible(page: Page) -> None:
    # Waits for layout to settle (the reply arrives, then its buttons and the typing line change size);
    # a reply left below the fold stays there, so the wait fails.
    await page.wait_for_function(NEWEST_FULLY_VISIBLE, timeout=5_000)


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (390, 844)], ids=["desktop", "phone"])
async def test_the_newest_reply_and_its_buttons_are_fully_visible_after_each_message_and_a_reload(
    browser: Browser, gateway_url: str, bank: Database, width: int, height: int
) -> None:
    # Ivan's open conversation follows him between devices (issue 21); this story starts a new one, as if
    # his earlier chats of this session had been closed.
    await bank.conversations.update_many(
        {"channel": "webchat", "customer_id": "demo-ivan", "state": {"$ne": "closed"}}, {"$set": {"state": "closed"}}
    )
    context = await browser.new_context(locale="ru-RU", viewport={"width": width, "height": height})
    try:
        page = await open_chat(context, gateway_url)
        await page.get_by_role("button", name=re.compile("Иван Петров")).click()
        await expect(page.locator("#status")).to_have_attribute("data-state", "online")
        asked = 0
        for text in ("какой баланс на карте", "покажи последние операции", "что ты умеешь?", "заблокируй карту"):
            await type_message(page, text)
            asked += 1
            await expect(page.locator(customer_bubbles)).to_have_count(asked, timeout=REPLY_TIMEOUT_MS)
            await expect(page.locator("#stored .msg").last).not_to_have_class(
                re.compile("msg--out"), timeout=REPLY_TIMEOUT_MS
            )
            await newest_is_fully_visible(page)
        card_buttons = page.locator(".choice:not([disabled])", has_text="5678")
        await expect(card_buttons).to_be_visible()
        # The list is longer than the screen: it really scrolled.
        assert await page.evaluate("() => document.getElementById('messages').scrollTop > 0")

        await page.reload()
        await expect(page.locator("#status")).to_have_attribute("data-state", "online")
        await expect(page.locator(customer_bubbles)).to_have_count(asked)
        await newest_is_fully_visible(page)
        await expect(page.locator(".choice:not([disabled])", has_text="5678")).to_be_visible()
    finally:
        await context.close()


async def test_the_chat_fits_a_360_pixel_phone_and_has_no_serious_accessibility_violations(
    browser: Browser, gateway_url: str
) -> None:
    # bypass_csp lets the test inject axe-core; the page's own scripts still come only from the gateway.
    context = await browser.new_context(locale="ru-RU", viewport={"width": 360, "height": 640}, bypass_csp=True)
    try:
        page = await open_chat(context, gateway_url)
        assert await axe_violations(page) == [], "the demo sign-in panel"
        await continue_as_guest(page)
        await type_message(page, "позовите оператора")
        await expect(page.locator(".choice", has_text="Заказать обратный звонок")).to_be_visible(
            timeout=REPLY_TIMEOUT_MS
        )
        await newest_is_fully_visible(page)
        assert await page.evaluate("() => document.scrollingElement.scrollWidth") <= 360, "no sideways scrolling"
        composer = await page.locator("#composer").bounding_box()
        assert composer is not None and composer["x"] >= 0 and composer["x"] + composer["width"] <= 360
        assert await axe_violations(page) == [], "the conversation"
    finally:
        await context.close()


@pytest.fixture
async def gateway(stack: Stack, aiohttp_client: Any) -> TestClient[web.Request, web.Application]:
    """A gateway of this test's own (its database, its operators) on the real platform."""
    client: TestClient[web.Request, web.Application] = await aiohttp_client(
        create_app(gateway_settings(stack, "webchat_browser"))
    )
    return client


async def guest_asks_for_an_operator(context: BrowserContext, base: str) -> Page:
    page = await open_chat(context, base)
    await continue_as_guest(page)
    await type_message(page, "позовите оператора")
    return page


async def conversation_of(gateway: TestClient[web.Request, web.Application], page: Page) -> str:
    conversation_id = await page.evaluate("() => localStorage.getItem('bankchat.conversation_id')")
    assert conversation_id, "the page keeps its conversation id"
    return str(conversation_id)


async def test_typing_instead_of_pressing_a_button_keeps_the_callback_offer_usable(
    gateway: TestClient[web.Request, web.Application], context: BrowserContext
) -> None:
    page = await guest_asks_for_an_operator(context, str(gateway.make_url("")).rstrip("/"))
    callback = page.locator(".choice", has_text="Заказать обратный звонок")
    await expect(callback).to_be_enabled(timeout=REPLY_TIMEOUT_MS)
    await expect(page.locator("#messages")).not_to_contain_text("первый освободившийся специалист")

    await type_message(page, "а долго ждать?")
    await expect(page.locator("#messages")).to_contain_text("Ваше сообщение передано оператору")
    await expect(callback).to_be_enabled()
    await callback.click()
    await expect(page.locator("#messages")).to_contain_text("Напишите номер телефона, по которому вам перезвонить.")
    await expect(callback).to_be_disabled()

    # After a reload the offer is answered (its button was pressed): it stays disabled.
    await page.reload()
    await expect(page.locator(".choice", has_text="Заказать обратный звонок")).to_be_disabled()


async def test_a_signed_in_customer_books_a_callback_without_typing_a_phone(
    gateway: TestClient[web.Request, web.Application], context: BrowserContext
) -> None:
    page = await open_chat(context, str(gateway.make_url("")).rstrip("/"))
    await page.get_by_role("button", name=re.compile("Иван Петров")).click()
    await expect(page.locator("#status")).to_have_attribute("data-state", "online")
    await type_message(page, "позовите оператора")
    await page.locator(".choice", has_text="Заказать обратный звонок").click(timeout=REPLY_TIMEOUT_MS)
    await expect(page.locator("#messages")).to_contain_text("оканчивается на 0001")
    assert "Напишите номер телефона" not in await page.locator("#messages").inner_text()
    task = await gateway.app[DB_KEY].callback_tasks.find_one({"conversation_id": await conversation_of(gateway, page)})
    assert task is not None and task["phone"] == "+79160000001"


async def test_the_customer_sees_the_operator_typing_and_named_and_keeps_the_conversation_after_a_reload(
    gateway: TestClient[web.Request, web.Application], context: BrowserContext
) -> None:
    base = str(gateway.make_url("")).rstrip("/")
    kate = Operator(gateway, "kate")
    await kate.signs_in()
    await kate.goes_online()
    await gateway.app[BUS_KEY].drain()
    page = await guest_asks_for_an_operator(context, base)
    await expect(page.locator("#messages")).to_contain_text("Ваш номер в очереди", timeout=REPLY_TIMEOUT_MS)
    conversation_id = await conversation_of(gateway, page)
    await gateway.app[BUS_KEY].drain()
    await kate.conversation(conversation_id, "accept")
    await expect(page.locator("#messages")).to_contain_text("К чату подключился оператор Kate")

    await kate.conversation(conversation_id, "typing")
    await expect(page.locator("#typing")).to_be_visible()
    await expect(page.locator("#typing")).to_contain_text("Kate печатает")
    await kate.conversation(conversation_id, "reply", {"text": "Здравствуйте! Чем помочь?"})
    reply = page.locator(".msg--operator", has_text="Здравствуйте! Чем помочь?")
    await expect(reply.locator(".msg__label")).to_have_text("Оператор · Kate")
    await expect(page.locator("#typing")).to_be_hidden()
    await newest_is_fully_visible(page)

    await kate.conversation(conversation_id, "close", {"resolution": "information_given"})
    await page.locator(".choice", has_text="5").click()
    await expect(page.locator("#messages")).to_contain_text("Спасибо за оценку!")
    await type_message(page, "Всё понятно, спасибо")
    await expect(page.locator("#messages")).to_contain_text("Спасибо за отзыв!")

    # The conversation is over and rated; a reload still shows it, the operator's answer included.
    await page.reload()
    await expect(page.locator("#status")).to_have_attribute("data-state", "online")
    await expect(page.locator(".msg--operator", has_text="Здравствуйте! Чем помочь?")).to_be_visible()
    await expect(page.locator(".msg--operator .msg__label").first).to_have_text("Оператор · Kate")
    await newest_is_fully_visible(page)
    # Writing again starts a new conversation below the old one.
    await type_message(page, "ещё вопрос")
    await expect(page.locator("#messages")).to_contain_text("Начат новый разговор.")
    await expect(page.locator(".msg--operator", has_text="Здравствуйте! Чем помочь?")).to_be_visible()


async def test_a_guest_greeted_with_the_canned_greeting_reads_no_dangling_comma(
    gateway: TestClient[web.Request, web.Application], browser: Browser, context: BrowserContext
) -> None:
    base = str(gateway.make_url("")).rstrip("/")
    staff = await browser.new_context(locale="ru-RU", viewport={"width": 1280, "height": 800})
    try:
        console = await staff.new_page()
        await console.goto(base + "/console")
        await console.fill("#login", "kate")
        await console.fill("#password", DEMO_STAFF_PASSWORD)
        await console.click("#sign-in-button")
        await goes_online(console, gateway)

        chat = await guest_asks_for_an_operator(context, base)
        row = console.locator("#rows li.row", has_text="Гость").first
        await expect(row).to_be_visible(timeout=REPLY_TIMEOUT_MS)
        await row.locator("a").click()
        await expect(chat.locator("#messages")).to_contain_text("К чату подключился оператор Kate")

        # The operator types "/" and picks the greeting; the guest has no name, so it has no gap either.
        await console.fill("#composer-text", "/привет")
        await expect(console.locator("#canned li", has_text="Приветствие")).to_contain_text(
            "Здравствуйте! Меня зовут Kate, я помогу вам."
        )
        await console.press("#composer-text", "Enter")
        await expect(console.locator("#composer-text")).to_have_value("Здравствуйте! Меня зовут Kate, я помогу вам.")
        await console.press("#composer-text", "Enter")
        greeting = chat.locator(".msg--operator .msg__bubble", has_text="Меня зовут Kate")
        await expect(greeting).to_have_text("Здравствуйте! Меня зовут Kate, я помогу вам.")
        assert ", !" not in await chat.locator("#messages").inner_text()
        await newest_is_fully_visible(chat)
    finally:
        await staff.close()
