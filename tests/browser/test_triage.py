"""Triage and service levels in the console and on the supervisor page, in headless Chromium (issue 21).

English staff pages at 1280x800 and Russian ones at 390x844 (one pane at a time) on the real platform.
Two customers wait for a person (one in the web chat, one over the REST channel); the inbox rows show what
the customers themselves wrote, why they came and how urgent they are, with the service-level clock. The
operator raises one to urgent, labels it (from the supervisor's list), snoozes it until the customer
replies, and the customer's reply brings it back; each step is a timeline entry. A target missed alerts the
operator and marks the supervisor's live list; the supervisor closes both conversations at once, each one
audited.
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
from core.keys import DB_KEY, HANDOFF_KEY
from core.stack import Stack
from core.teams import parse_teams
from handoff.setup import DEMO_STAFF_PASSWORD

from ..handoff_support import REST, REST_HEADERS, gateway_settings
from .conftest import axe_violations, goes_online

BOT_TIMEOUT_MS = 20_000
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
ENGLISH = {
    "locale": "en-US",
    "live": "live",
    "ask": "I want to talk to a person please",
    "ask_rest": "operator please",
    "no_operator": "leave a message",
    "reason": "customer request",
    "left": "left",
    "priority_entry": "Kate changed the priority: urgent",
    "urgent": "urgent",
    "labels": "Labels",
    "palette_next": "next",
    "help_command": "keyboard shortcuts",
    "view_name": "Urgent ones",
    "snoozed_entry": "until the customer replies",
    "still_there": "are you still there?",
    "woken_entry": "The customer replied",
    "sla_alert": "Target missed: first response",
    "over": "over",
    "closed": "Closed: 2",
    "rate": "rate",
}
RUSSIAN = {
    "locale": "ru-RU",
    "live": "на связи",
    "ask": "Я хочу поговорить с человеком, пожалуйста",
    "ask_rest": "позовите оператора",
    "no_operator": "оставить сообщение",
    "reason": "просьба клиента",
    "left": "осталось",
    "priority_entry": "Kate изменил(а) приоритет: срочный",
    "urgent": "срочный",
    "labels": "Метки",
    "palette_next": "следующий",
    "help_command": "сочетаний клавиш",
    "view_name": "Срочные",
    "snoozed_entry": "до ответа клиента",
    "still_there": "вы ещё здесь?",
    "woken_entry": "Клиент ответил",
    "sla_alert": "Просрочен срок: первый ответ",
    "over": "просрочено",
    "closed": "Закрыто: 2",
    "rate": "Оцените",
}
# Short targets, so a breach happens within the test (the shipped ones are minutes: core/teams.yml).
QUICK_TARGETS = {
    "teams": [
        {
            "name": name,
            "service_levels": {
                "urgent": {"first_response": 4, "next_response": 4},
                "high": {"first_response": 600, "next_response": 600},
                "normal": {"first_response": 600, "next_response": 600},
            },
        }
        for name in ("general", "cards", "loans")
    ]
}


@pytest.fixture
async def gateway(stack: Stack, aiohttp_client: Any) -> TestClient[web.Request, web.Application]:
    client: TestClient[web.Request, web.Application] = await aiohttp_client(
        create_app(gateway_settings(stack, "triage_browser"))
    )
    return client


async def staff_page(
    browser: Browser, base: str, login: str, texts: dict[str, str], viewport: dict[str, int]
) -> tuple[BrowserContext, Page]:
    # bypass_csp lets the test inject axe-core; the page's own scripts still come only from the gateway.
    context = await browser.new_context(locale=texts["locale"], viewport=viewport, bypass_csp=True)  # type: ignore[arg-type]
    await context.grant_permissions(["notifications"])
    page = await context.new_page()
    await page.goto(base + "/console")
    await page.fill("#login", login)
    await page.fill("#password", DEMO_STAFF_PASSWORD)
    await page.click("#sign-in-button")
    await expect(page.locator("#connection")).to_have_text(texts["live"])
    return context, page


async def back_to_the_list(page: Page) -> None:
    """On a phone the console shows one pane at a time: go back from the conversation to the list."""
    back = page.locator("#back-to-list")
    if await back.is_visible():
        await back.click()
    await expect(page.locator("#rows")).to_be_visible()


@pytest.mark.parametrize(("texts", "viewport"), [(ENGLISH, DESKTOP), (RUSSIAN, PHONE)], ids=["en-desktop", "ru-phone"])
async def test_an_operator_triages_snoozes_and_misses_a_target_and_the_supervisor_closes_in_bulk(
    gateway: TestClient[web.Request, web.Application], browser: Browser, texts: dict[str, str], viewport: dict[str, int]
) -> None:
    base = str(gateway.make_url("")).rstrip("/")
    db = gateway.app[DB_KEY]
    gateway.app[HANDOFF_KEY].levels.teams = parse_teams(QUICK_TARGETS)  # type: ignore[union-attr]

    # The supervisor keeps the label list.
    sveta_context, sveta = await staff_page(browser, base, "sveta", texts, viewport)
    await sveta.goto(base + "/supervisor")
    await sveta.fill("#new-label", "VIP")
    await sveta.click("#add-label")
    await expect(sveta.locator("#labels")).to_contain_text("VIP")

    # Two customers ask for a person: one in the web chat, one over the REST channel.
    customer_context = await browser.new_context(locale=texts["locale"])
    chat = await customer_context.new_page()
    await chat.goto(base + "/chat")
    await chat.locator("#guest").click()
    await expect(chat.locator("#status")).to_have_attribute("data-state", "online")
    await chat.fill("#input", texts["ask"])
    await chat.click("#send")
    resp = await gateway.post(REST, json={"sender": "triage-rest", "text": texts["ask_rest"]}, headers=REST_HEADERS)
    assert resp.status == 200, await resp.text()
    await expect(chat.locator("#messages")).to_contain_text(texts["no_operator"], timeout=BOT_TIMEOUT_MS)

    kate_context, kate = await staff_page(browser, base, "kate", texts, viewport)
    await goes_online(kate, gateway)
    await kate.click("#view-mine")
    rows = kate.locator("#rows li.row")
    await expect(rows).to_have_count(2, timeout=BOT_TIMEOUT_MS)
    # The rows show the customers' own words, the reason and the service-level clock.
    web_row = rows.filter(has_text=texts["ask"])
    await expect(web_row).to_have_count(1)
    await expect(web_row.locator(".reason")).to_have_text(texts["reason"])
    await expect(web_row.locator(".sla")).to_contain_text(texts["left"])
    assert "/request_operator" not in await kate.locator("#rows").inner_text()
    # The docs' pictures: CC_SCREENSHOTS=docs/screenshots
    if (folder := os.environ.get("CC_SCREENSHOTS")) and viewport == DESKTOP:
        await kate.screenshot(path=str(Path(folder) / "console-triage.png"))
    assert await axe_violations(kate) == [], "the inbox with triage"

    # Raise the web-chat customer to urgent and label it; the timeline notes both.
    await web_row.locator("a").click()
    await kate.select_option("#priority", "urgent")
    timeline = kate.locator("#transcript")
    await expect(timeline.locator("li[data-event='conversation.priority_changed']")).to_contain_text(
        texts["priority_entry"]
    )
    await kate.get_by_role("group", name=texts["labels"]).get_by_label("VIP").check()
    await expect(timeline.locator("li[data-event='conversation.labels_changed']")).to_contain_text("VIP")
    await expect(kate.locator("#rows li.row").first.locator(".prio")).to_have_text(texts["urgent"])

    # Filters narrow the inbox; the view is saved under a name.
    await back_to_the_list(kate)
    await kate.click("#toggle-filters")
    await kate.select_option("#filter-priority", "urgent")
    await expect(rows).to_have_count(1)
    await kate.fill("#view-name", texts["view_name"])
    await kate.click("#save-view")
    await expect(kate.locator("#saved-views option", has_text=texts["view_name"])).to_have_count(1)
    await kate.click("#clear-filters")
    await expect(rows).to_have_count(2)

    # The keyboard: Ctrl+K finds a command by name, Alt+N starts a private note, "?" lists the shortcuts.
    current = kate.url
    await kate.locator("body").press("Control+k")
    await kate.fill("#palette-input", texts["palette_next"])
    await kate.press("#palette-input", "Enter")
    await expect(kate).not_to_have_url(current)
    await expect(kate.locator("#composer-text")).to_be_visible()
    await kate.locator("body").press("Alt+KeyN")
    await expect(kate.locator("#composer-text")).to_be_focused()
    await expect(kate.locator("#composer")).to_have_class(re.compile(r"\bnote-mode\b"))
    await kate.locator("#composer-text").press("Escape")
    if await kate.locator("#open-help").is_visible():
        await kate.click("#open-help")
    else:  # on a phone the header has no room for the link: the palette lists it, even while typing
        await kate.locator("#composer-text").press("Control+k")
        await kate.fill("#palette-input", texts["help_command"])
        await kate.press("#palette-input", "Enter")
    await expect(kate.locator("#keys-help")).to_contain_text("Alt+J")
    assert await axe_violations(kate) == [], "the shortcut list"
    await kate.click("#keys-help-close")
    await back_to_the_list(kate)
    await web_row.locator("a").click()

    # Snoozed until the customer replies: it leaves "Mine"; the customer's reply brings it back.
    await kate.select_option("#snooze", "reply")
    await expect(timeline.locator("li[data-event='conversation.snoozed']")).to_contain_text(texts["snoozed_entry"])
    await expect(rows).to_have_count(1)
    await back_to_the_list(kate)
    await kate.click("#view-snoozed")
    await expect(rows).to_have_count(1)
    await chat.fill("#input", texts["still_there"])
    await chat.click("#send")
    await kate.click("#view-mine")
    await expect(rows).to_have_count(2)
    # The row now shows the customer's newest words.
    await rows.filter(has_text=texts["still_there"]).locator("a").click()
    await expect(timeline.locator("li[data-event='conversation.woken']")).to_contain_text(texts["woken_entry"])

    # Nobody has answered the urgent customer within its (test-short) target: Kate is alerted,
    # the supervisor's live list marks it.
    await kate.wait_for_function("() => window.__consoleAlerts.some((a) => a.kind === 'sla')", timeout=30_000)
    alert = await kate.evaluate("window.__consoleAlerts.find((a) => a.kind === 'sla')")
    assert alert["title"] == texts["sla_alert"]
    await expect(timeline.locator("li[data-event='sla.breached']")).to_be_visible()
    await sveta.reload()
    breached = sveta.locator("#open-conversations li.breached")
    await expect(breached).to_have_count(1, timeout=15_000)
    await expect(breached.locator(".sla")).to_contain_text(texts["over"])
    assert await axe_violations(sveta) == [], "the supervisor page with a breach"

    # The supervisor closes both at once from the console; each closing is audited.
    await sveta.goto(base + "/console")
    await sveta.click("#view-open")
    picks = sveta.locator("#rows input.pick")
    await expect(picks).to_have_count(2)
    for index in range(2):
        await picks.nth(index).check()
    await sveta.click("#bulk-close")
    await expect(sveta.locator("#banner")).to_contain_text(texts["closed"])
    audit = await db.audit_log.find({"action": "conversation.bulk_close"}).to_list()
    assert len(audit) == 2 and all(r["actor"] == "supervisor:sveta" and r["result"] == "done" for r in audit)
    await expect(chat.locator("#messages")).to_contain_text(texts["rate"], timeout=BOT_TIMEOUT_MS)
    for context in (sveta_context, kate_context, customer_context):
        await context.close()
