"""Customers use the web chat in headless Chromium against the real platform (gateway, Rasa, actions, FerretDB)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable

import pytest
from playwright.async_api import Browser, BrowserContext, Dialog, Page, expect

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
