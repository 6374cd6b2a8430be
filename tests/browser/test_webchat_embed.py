"""A bank's website on another site adds the chat with one line; its customers chat, reload, sign in, use a phone.

The bank's site is the demo site (connectors/embed_demo.py) on http://localhost:<port>; the chat is a gateway
from the app factory on http://127.0.0.1:<port> (another site, so Chromium partitions the chat frame's
storage as it would on a real bank's site), on the real platform (Rasa, actions, FerretDB).
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, BrowserContext, Frame, Page, expect

from connectors.embed_demo import create_demo_site
from core.app import create_app
from core.stack import Stack, free_port

from ..handoff_support import gateway_settings
from .conftest import axe_violations

REPLY_TIMEOUT_MS = 20_000
STATE_KEY = "demobankchat.state"
assistant_bubbles = ".msg--bot .msg__bubble"
customer_bubbles = ".msg--out:not(.msg--pending) .msg__bubble"
FRAME_STORAGE = "() => { try { return localStorage.getItem('bankchat.visitor_id'); } catch (e) { return 'blocked'; } }"


@dataclass
class Sites:
    bank: str  # the bank's site, which embeds the chat
    chat: str  # the chat's gateway


@pytest.fixture
async def sites(stack: Stack) -> AsyncIterator[Sites]:
    """The bank's site and the chat, each on its own site; the chat lets the bank's site frame it."""
    bank_port, chat_port = free_port(), free_port()
    bank, chat = f"http://localhost:{bank_port}", f"http://127.0.0.1:{chat_port}"
    settings = gateway_settings(stack, "embed", chat_frame_ancestors=f"'self' {bank}")
    chat_server = TestServer(create_app(settings), host="127.0.0.1", port=chat_port)
    bank_server = TestServer(create_demo_site(chat, stack.customer_token_secret), host="localhost", port=bank_port)
    await chat_server.start_server()
    await bank_server.start_server()
    yield Sites(bank=bank, chat=chat)
    await bank_server.close()
    await chat_server.close()


async def open_bank_site(context: BrowserContext, sites: Sites) -> Page:
    page = await context.new_page()
    await page.goto(sites.bank)
    await expect(page.get_by_role("button", name="Чат с банком")).to_be_visible()
    return page


async def open_chat(page: Page) -> Frame:
    """Press the launcher; the chat frame once it is connected."""
    await page.get_by_role("button", name="Чат с банком").click()
    await expect(page.locator(".demobank-chat-panel")).to_be_visible()
    frame = page.frame_locator(".demobank-chat-frame")
    await expect(frame.locator("#status")).to_have_attribute("data-state", "online", timeout=REPLY_TIMEOUT_MS)
    found = next((f for f in page.frames if "/chat?embed=1" in f.url), None)
    assert found is not None, [f.url for f in page.frames]
    return found


async def say(frame: Frame, text: str) -> None:
    await frame.locator("#input").fill(text)
    await frame.locator("#input").press("Enter")


async def site_state(page: Page) -> dict[str, str | None]:
    raw = await page.evaluate(f"localStorage.getItem({json.dumps(STATE_KEY)})")
    assert raw, "the bank's site keeps the chat's conversation in its own storage"
    found: dict[str, str | None] = json.loads(raw)
    return found


async def test_a_customer_chats_on_the_banks_site_and_keeps_the_conversation_across_page_loads(
    browser: Browser, sites: Sites
) -> None:
    context = await browser.new_context(locale="ru-RU", viewport={"width": 1280, "height": 800})
    page = await open_bank_site(context, sites)
    frame = await open_chat(page)
    await expect(frame.locator("#demo-panel")).to_be_hidden()  # the bank's site signs customers in, not a demo
    await expect(frame.locator("#identity-who")).to_have_text("Вы: гость")

    await say(frame, "Здравствуйте! Как активировать карту?")
    await expect(frame.locator(assistant_bubbles).first).to_be_visible(timeout=REPLY_TIMEOUT_MS)
    saved = await site_state(page)
    assert saved["visitor_id"] and saved["conversation_id"]

    # A frame from another site gets no storage of its own (this Chromium refuses it; others partition it by
    # the bank's site or clear it after days): the chat must not depend on it.
    own_visitor = await frame.evaluate(FRAME_STORAGE)
    top_level = await context.new_page()
    await top_level.goto(f"{sites.chat}/chat")
    assert own_visitor == "blocked" or own_visitor != await top_level.evaluate(FRAME_STORAGE)
    await top_level.close()
    await frame.evaluate("() => { try { localStorage.clear(); } catch (e) { /* none to clear */ } }")
    await page.reload()
    frame = await open_chat(page)
    await expect(frame.locator(customer_bubbles).first).to_have_text("Здравствуйте! Как активировать карту?")
    assert (await site_state(page))["conversation_id"] == saved["conversation_id"]

    # Messages that do not come from the chat's frame, or not from the bank's page, change nothing.
    forged = {"source": "demobank-chat", "type": "state", "visitor_id": "forged-0000", "conversation_id": None}
    await page.evaluate("message => window.postMessage(message, '*')", forged)
    await frame.evaluate("() => window.postMessage({source: 'demobank-chat', type: 'sign-out'}, '*')")
    await page.wait_for_timeout(300)
    assert (await site_state(page))["visitor_id"] == saved["visitor_id"]
    await expect(frame.locator(customer_bubbles).first).to_have_text("Здравствуйте! Как активировать карту?")
    await context.close()


async def test_the_banks_site_signs_its_customer_in_to_the_chat(browser: Browser, sites: Sites) -> None:
    context = await browser.new_context(locale="ru-RU", viewport={"width": 1280, "height": 800})
    page = await open_bank_site(context, sites)
    await page.get_by_role("button", name="Войти как Иван Петров").click()
    await expect(page.locator("#who")).to_have_text("Вы: Иван Петров")
    frame = await open_chat(page)
    await expect(frame.locator("#identity-who")).to_have_text("Вы вошли в интернет-банк")
    await say(frame, "какой баланс на карте")
    await expect(frame.locator(assistant_bubbles).last).to_contain_text("₽", timeout=REPLY_TIMEOUT_MS)

    # The next page of the site passes the token again; signing out of the site starts a guest conversation.
    await page.reload()
    frame = await open_chat(page)
    await expect(frame.locator("#identity-who")).to_have_text("Вы вошли в интернет-банк")
    await expect(frame.locator(assistant_bubbles).last).to_contain_text("₽")
    before = (await site_state(page))["visitor_id"]
    await page.get_by_role("button", name="Выйти").click()
    await expect(frame.locator("#identity-who")).to_have_text("Вы: гость")
    await expect(frame.locator(assistant_bubbles)).to_have_count(0)
    assert (await site_state(page))["visitor_id"] != before
    await context.close()


async def test_on_a_phone_the_chat_fills_the_screen_and_closes_back_to_the_button(
    browser: Browser, sites: Sites
) -> None:
    context = await browser.new_context(
        locale="ru-RU", viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, device_scale_factor=3
    )
    page = await open_bank_site(context, sites)
    launcher = await page.get_by_role("button", name="Чат с банком").bounding_box()
    assert (
        launcher is not None and launcher["x"] + launcher["width"] <= 390 and launcher["y"] + launcher["height"] <= 844
    )
    frame = await open_chat(page)
    panel = await page.locator(".demobank-chat-panel").bounding_box()
    assert panel == {"x": 0, "y": 0, "width": 390, "height": 844}, panel
    assert await frame.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    await say(frame, "Привет")
    await expect(frame.locator(assistant_bubbles).first).to_be_in_viewport(timeout=REPLY_TIMEOUT_MS)
    await expect(frame.locator("#input")).to_be_in_viewport()

    await page.get_by_role("button", name="Свернуть чат").click()
    await expect(page.locator(".demobank-chat-panel")).to_be_hidden()
    await expect(page.get_by_role("button", name="Чат с банком")).to_be_visible()
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    await context.close()


async def test_the_button_and_panel_are_usable_with_assistive_technology(browser: Browser, sites: Sites) -> None:
    # axe-core is injected as an inline script, which the bank page's CSP rightly refuses: bypassed for this check.
    context = await browser.new_context(locale="ru-RU", viewport={"width": 1280, "height": 800}, bypass_csp=True)
    page = await open_bank_site(context, sites)
    assert not await axe_violations(page)
    await open_chat(page)
    assert not await axe_violations(page)
    await page.keyboard.press("Escape")
    await expect(page.locator(".demobank-chat-panel")).to_be_hidden()
    await expect(page.get_by_role("button", name="Чат с банком")).to_be_focused()
    await context.close()


async def test_the_embed_script_is_one_line_that_loads_from_the_chats_origin(sites: Sites) -> None:
    """The line a bank adds, as the demo site's page carries it."""
    page = (await _get(f"{sites.bank}/")).replace("\n", " ")
    assert re.search(rf'<script src="{re.escape(sites.chat)}/chat/static/embed\.js" async></script>', page)


async def _get(url: str) -> str:
    async with aiohttp.ClientSession() as http, http.get(url) as resp:
        assert resp.status == 200
        return await resp.text()
