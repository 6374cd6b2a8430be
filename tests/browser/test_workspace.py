"""The operator workspace on any screen, in headless Chromium (issue 21).

Stories on the real platform (the gateway on the stack's FerretDB and Rasa): a newcomer finds every page from
the front page; the console, the supervisor page and the knowledge-base editor fit a phone without sideways
scrolling; and on a phone an operator verifies a customer who lost a card and blocks it, while the timeline
and the panel follow at once and the customer reads the confirmation in their language. Each story runs
once per screen size (1280x800, 390x844) and each language once; every page passes axe-core.
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
from core.keys import DB_KEY
from core.stack import Stack
from handoff.setup import DEMO_STAFF_PASSWORD
from knowledge_base.setup import DEMO_EDITOR_PASSWORD

from ..handoff_support import REST, REST_HEADERS, gateway_settings
from .conftest import axe_violations, goes_online

BOT_TIMEOUT_MS = 20_000
PHONE = {"width": 390, "height": 844}
SMALL_PHONE = {"width": 360, "height": 740}
TABLET = {"width": 820, "height": 1180}
DESKTOP = {"width": 1280, "height": 800}


@pytest.fixture
async def gateway(stack: Stack, aiohttp_client: Any) -> TestClient[web.Request, web.Application]:
    client: TestClient[web.Request, web.Application] = await aiohttp_client(
        create_app(gateway_settings(stack, "workspace_browser"))
    )
    return client


def base_of(gateway: TestClient[web.Request, web.Application]) -> str:
    return str(gateway.make_url("")).rstrip("/")


async def staff_context(browser: Browser, locale: str, viewport: dict[str, int]) -> BrowserContext:
    # bypass_csp lets the test inject axe-core; the page's own scripts still come only from the gateway.
    context = await browser.new_context(locale=locale, viewport=viewport, bypass_csp=True)  # type: ignore[arg-type]
    await context.grant_permissions(["notifications"])
    return context


async def scrolls_sideways(page: Page) -> bool:
    return bool(await page.evaluate("() => document.documentElement.scrollWidth > window.innerWidth + 1"))


async def too_wide(page: Page) -> list[str]:
    """The innermost elements that reach past the window's right edge, to name the culprit in a failure."""
    return list(
        await page.evaluate(
            """() => [...document.querySelectorAll('body *')]
              .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1)
              .filter((e) => ![...e.children].some((c) => c.getBoundingClientRect().right > window.innerWidth + 1))
              .slice(0, 8)
              .map((e) => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + '.' + [...e.classList].join('.')
                + ' ' + Math.round(e.getBoundingClientRect().right) + ' ' + (e.textContent || '').slice(0, 30))"""
        )
    )


async def staff_signs_in(page: Page, url: str, login: str, password: str = DEMO_STAFF_PASSWORD) -> None:
    await page.goto(url)
    await page.fill("#login", login)
    await page.fill("#password", password)
    await page.click("#sign-in-button")


@pytest.mark.parametrize(
    ("locale", "viewport", "texts"),
    [
        (
            "ru-RU",
            PHONE,
            {"console": "Консоль оператора", "editor": "Редактор базы знаний", "live": "на связи", "bad_id": "Id: от"},
        ),
        (
            "en-US",
            DESKTOP,
            {"console": "Operator console", "editor": "Knowledge-base editor", "live": "live", "bad_id": "Id: 1 to 64"},
        ),
    ],
    ids=["ru-phone", "en-desktop"],
)
async def test_a_newcomer_finds_every_page_and_none_scrolls_sideways(
    gateway: TestClient[web.Request, web.Application],
    browser: Browser,
    locale: str,
    viewport: dict[str, int],
    texts: dict[str, str],
) -> None:
    base = base_of(gateway)
    context = await staff_context(browser, locale, viewport)
    page = await context.new_page()

    # The front page leads to the chat, the console, the supervisor page and the editor, with demo accounts.
    await page.goto(base + "/")
    pages = page.locator("#pages > li")
    await expect(pages).to_have_count(4)
    await expect(page.locator("#page-console")).to_contain_text("kate")
    await expect(page.locator("#page-console")).to_contain_text(DEMO_STAFF_PASSWORD)
    await expect(page.locator("#page-supervisor")).to_contain_text("sveta")
    await expect(page.locator("#page-editor")).to_contain_text(DEMO_EDITOR_PASSWORD)
    await expect(page.locator("#page-chat")).to_contain_text("John Smith")
    assert not await scrolls_sideways(page)
    assert await axe_violations(page) == [], "the front page"
    if (folder := os.environ.get("CC_SCREENSHOTS")) and locale == "en-US":  # docs' pictures
        await page.screenshot(path=str(Path(folder) / "front-page.png"))
    await page.get_by_role("link", name=texts["console"]).click()
    await expect(page).to_have_url(re.compile(r"/console$"))

    # Every staff page fits the screen once signed in.
    await staff_signs_in(page, base + "/console", "sveta")
    await expect(page.locator("#connection")).to_have_text(texts["live"])
    assert not await scrolls_sideways(page), "the console"
    assert await axe_violations(page) == [], "the console"
    await fits_the_smallest_phone_and_a_tablet(page, viewport, "#connection")
    await page.goto(base + "/supervisor")
    await expect(page.locator("#connection")).to_have_text(texts["live"])
    await expect(page.locator(".kpis")).to_be_visible()
    assert not await scrolls_sideways(page), "the supervisor page"
    assert await axe_violations(page) == [], "the supervisor page"
    await fits_the_smallest_phone_and_a_tablet(page, viewport, ".kpis")
    await page.goto(base + "/")
    await page.get_by_role("link", name=texts["editor"]).click()
    await staff_signs_in(page, base + "/kb/editor", "editor", DEMO_EDITOR_PASSWORD)
    await expect(page.locator("#articles li").first).to_be_visible()
    await page.locator("#articles li button").first.click()
    await expect(page.locator("#article-pane")).to_be_visible()
    assert not await scrolls_sideways(page), "the knowledge-base editor"
    assert await axe_violations(page) == [], "the knowledge-base editor"
    # A validation error reads in the page's language, not as the API's English.
    await page.click("#new-article")
    await page.click("#save")
    await expect(page.locator("#message")).to_contain_text(texts["bad_id"])
    await fits_the_smallest_phone_and_a_tablet(page, viewport, "#articles li")
    await context.close()


async def fits_the_smallest_phone_and_a_tablet(page: Page, viewport: dict[str, int], ready: str) -> None:
    """The page, resized to 360 px and to a tablet, still does not scroll sideways; then back to `viewport`."""
    for size in (SMALL_PHONE, TABLET):
        await page.set_viewport_size(size)  # type: ignore[arg-type]
        await page.reload()
        await expect(page.locator(ready).first).to_be_visible()
        assert not await scrolls_sideways(page), f"{page.url} at {size['width']} px: {await too_wide(page)}"
    await page.set_viewport_size(viewport)  # type: ignore[arg-type]


RUSSIAN_DESK = {
    "locale": "ru-RU",
    "live": "на связи",
    "lost": "Я потерял карту",
    "sign_in_first": "убедился, что карта ваша",
    "operator_button": "Позвать оператора",
    "alert": "Новый разговор: Гость",
    "channel": "веб-чат · ",
    "guest": "Гость — личность не подтверждена",
    "phone": "+7 916 000-00-01",
    "last4": "5678",
    "name": "Иван Петров",
    "verified": "Личность подтверждена",
    "yes": "да",
    "block": "Заблокировать карту",
    "blocked": "заблокирована",
    "verified_entry": "Личность подтверждена: оператором",
    "blocked_entry": "Kate заблокировал(а) карту",
    "confirmed": "Карта •••• 5678 заблокирована",
    "customer_id": "demo-ivan",
    "earlier_question": "какой у меня баланс?",
}
ENGLISH_DESK = {
    "locale": "en-US",
    "live": "live",
    "lost": "I lost my card",
    "sign_in_first": "make sure the card is yours",
    "operator_button": "Talk to an operator",
    "alert": "New conversation: Guest",
    "channel": "web chat · ",
    "guest": "Guest — identity not verified",
    "phone": "+7 916 000-00-03",
    "last4": "3344",
    "name": "John Smith",
    "verified": "Identity verified",
    "yes": "yes",
    "block": "Block card",
    "blocked": "blocked",
    "verified_entry": "Identity verified: operator",
    "blocked_entry": "Kate blocked card",
    "confirmed": "Card •••• 3344 is blocked",
    "customer_id": "demo-john",
    "earlier_question": "what is my balance?",
}


@pytest.mark.parametrize(
    ("texts", "viewport"), [(RUSSIAN_DESK, PHONE), (ENGLISH_DESK, DESKTOP)], ids=["ru-phone", "en-desktop"]
)
async def test_an_operator_verifies_a_customer_blocks_the_lost_card_and_the_timeline_follows(
    gateway: TestClient[web.Request, web.Application],
    browser: Browser,
    texts: dict[str, str],
    viewport: dict[str, int],
    mint_token: Any,
) -> None:
    base = base_of(gateway)
    phone = viewport == PHONE
    # Earlier the same customer asked the bot through another channel (the bank's app, over the REST API).
    earlier = {"sender": f"app-{texts['customer_id']}", "text": texts["earlier_question"]}
    resp = await gateway.post(
        REST, json={**earlier, "customer_token": mint_token(texts["customer_id"])}, headers=REST_HEADERS
    )
    assert resp.status == 200, await resp.text()
    earlier_id = (await resp.json())["conversation_id"]
    customer_context = await browser.new_context(locale=texts["locale"], viewport=viewport)  # type: ignore[arg-type]
    operator_context = await staff_context(browser, texts["locale"], viewport)
    console = await operator_context.new_page()
    await staff_signs_in(console, base + "/console", "kate")
    await expect(console.locator("#connection")).to_have_text(texts["live"])
    await goes_online(console, gateway)

    chat = await customer_context.new_page()
    await chat.goto(base + "/chat")
    await chat.locator("#guest").click()
    await expect(chat.locator("#status")).to_have_attribute("data-state", "online")
    await chat.fill("#input", texts["lost"])
    await chat.click("#send")
    await expect(chat.locator("#messages")).to_contain_text(texts["sign_in_first"], timeout=BOT_TIMEOUT_MS)
    await chat.get_by_role("button", name=texts["operator_button"]).click()

    # The alert names the customer, the channel and the reason; on a phone the list comes first, one pane at a time.
    await console.wait_for_function(
        "() => window.__consoleAlerts.some((a) => a.kind === 'assigned')", timeout=BOT_TIMEOUT_MS
    )
    alert = await console.evaluate("window.__consoleAlerts.find((a) => a.kind === 'assigned')")
    assert alert["title"] == texts["alert"]
    assert alert["body"].startswith(texts["channel"])
    row = console.locator("#rows li.row").first
    await expect(row).to_be_visible()
    if phone:
        await expect(console.locator("#conversation")).to_be_hidden()
    await row.locator("a").click()
    await expect(console.locator("#conversation")).to_be_visible()
    if phone:
        await expect(console.locator("nav.inbox")).to_be_hidden()
    assert not await scrolls_sideways(console)

    # On a phone the customer panel opens over the conversation and closes back to it; on a desktop it is beside it.
    if phone:
        await console.click("#show-panel")
    await expect(console.locator("#panel")).to_be_visible()
    await expect(console.locator("#profile")).to_have_text(texts["guest"])
    await console.fill("#verify-phone", texts["phone"])
    await console.fill("#verify-last4", texts["last4"])
    await console.click("#verify-check")
    # The panel and the timeline follow at once: verified, with an entry saying how.
    await expect(console.locator("#profile")).to_have_text(texts["name"])
    await expect(console.locator("#slots")).to_contain_text(texts["verified"])
    await expect(console.locator("#slots .slot", has_text=texts["verified"])).to_contain_text(texts["yes"])
    assert await axe_violations(console) == [], "the open customer panel"
    card = console.locator(f"#cards li[data-last4='{texts['last4']}']")
    await card.get_by_role("button", name=re.compile(texts["block"])).click()
    await card.locator(".confirm-block").click()
    await expect(card.locator(".card-status")).to_have_text(texts["blocked"])
    if phone:
        await console.click("#hide-panel")
    timeline = console.locator("#transcript")
    await expect(timeline.locator("li[data-event='customer.verified']")).to_contain_text(texts["verified_entry"])
    await expect(timeline.locator("li[data-event='card.blocked']")).to_contain_text(texts["blocked_entry"])
    await expect(timeline.locator("li[data-event='conversation.assigned']")).to_have_count(1)

    if (folder := os.environ.get("CC_SCREENSHOTS")) and phone:  # docs' pictures: CC_SCREENSHOTS=docs/screenshots
        await console.screenshot(path=str(Path(folder) / "console-phone.png"))

    # The customer reads the block confirmed in their language, without the operator typing it.
    await expect(chat.locator("#messages")).to_contain_text(texts["confirmed"], timeout=BOT_TIMEOUT_MS)
    assert not await scrolls_sideways(chat)

    if phone:
        # Back to the list: the row is there, and the conversation pane is hidden again.
        await console.click("#back-to-list")
        await expect(console.locator("nav.inbox")).to_be_visible()
        await expect(console.locator("#conversation")).to_be_hidden()
    assert not await scrolls_sideways(console)
    assert await axe_violations(console) == [], "the list"

    # The customer panel lists the customer's conversation on the other channel; it opens, read only.
    if phone:
        await console.locator("#rows li.row a").first.click()
        await console.click("#show-panel")
    other = console.locator("#earlier li a")
    await expect(other).to_have_count(1)
    await expect(other).to_contain_text("API")
    await other.click()
    await expect(console.locator("#transcript")).to_contain_text(texts["earlier_question"])
    entries = gateway.app[DB_KEY].events.find(
        {"name": {"$in": ["customer.verified", "card.blocked"]}, "conversation_id": {"$ne": earlier_id}}
    )
    assert sorted([e["name"] async for e in entries]) == ["card.blocked", "customer.verified"]
    for context in (customer_context, operator_context):
        await context.close()
