"""The supervisor page in headless Chromium, with a web-chat customer and an operator at the same time.

A guest asks the real bot for a person; the operator Kate (through the console's
API, as her page does) accepts and answers; the supervisor Sveta, in her own
browser context, finds the conversation in the live list, reads it, joins it and
writes to the customer, who sees her name, then takes it over. After Kate's
colleague closes it and the customer rates and comments, the figures show the
comment with a link back to the conversation. The pages pass axe-core and are
photographed for the README.
"""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from playwright.async_api import Browser, BrowserContext, Page, expect

from core.app import create_app
from core.keys import BUS_KEY, DB_KEY
from core.stack import Stack
from handoff import verify_limits
from handoff.setup import DEMO_STAFF_PASSWORD

from ..handoff_support import Operator, _close_operator_sessions, gateway_settings
from .conftest import axe_violations

__all__ = ["_close_operator_sessions"]

BOT_TIMEOUT_MS = 20_000
# The docs' pictures are refreshed with CC_SCREENSHOTS=docs/screenshots; a plain run leaves the checkout clean.
SCREENSHOTS = Path(os.environ.get("CC_SCREENSHOTS") or Path(tempfile.gettempdir()) / "cc-screenshots")


@pytest.fixture
async def gateway(stack: Stack, aiohttp_client: Any) -> TestClient[web.Request, web.Application]:
    client: TestClient[web.Request, web.Application] = await aiohttp_client(
        create_app(gateway_settings(stack, "supervisor_browser"))
    )
    return client


async def staff_context(browser: Browser) -> BrowserContext:
    # bypass_csp lets the test inject axe-core; the page's own scripts still come only from the gateway.
    return await browser.new_context(locale="ru-RU", viewport={"width": 1280, "height": 800}, bypass_csp=True)


async def supervisor_signs_in(page: Page, base: str) -> None:
    await page.goto(base + "/supervisor")
    await expect(page.get_by_role("heading", name="Панель супервизора")).to_be_visible()
    assert "Консоль оператора" not in await page.locator("body").inner_text()
    assert await axe_violations(page) == [], "the sign-in form"
    await page.fill("#login", "sveta")
    await page.fill("#password", DEMO_STAFF_PASSWORD)
    await page.click("#sign-in-button")
    await expect(page.locator("#connection")).to_have_text("на связи")


async def test_a_supervisor_reads_joins_and_takes_over_a_live_conversation(
    gateway: TestClient[web.Request, web.Application], browser: Browser
) -> None:
    base = str(gateway.make_url("")).rstrip("/")
    kate = Operator(gateway, "kate")
    await kate.signs_in()
    await kate.goes_online()
    await gateway.app[BUS_KEY].drain()

    customer_context = await browser.new_context(locale="ru-RU", viewport={"width": 390, "height": 844})
    supervisor_context = await staff_context(browser)
    try:
        chat = await customer_context.new_page()
        await chat.goto(base + "/chat")
        await chat.locator("#guest").click()
        await expect(chat.locator("#status")).to_have_attribute("data-state", "online")
        await chat.fill("#input", "позовите оператора")
        await chat.press("#input", "Enter")
        await expect(chat.locator("#messages")).to_contain_text("Ваш номер в очереди", timeout=BOT_TIMEOUT_MS)
        conversation_id = str(await chat.evaluate("() => localStorage.getItem('bankchat.conversation_id')"))
        await gateway.app[BUS_KEY].drain()
        await kate.conversation(conversation_id, "accept")
        await kate.conversation(conversation_id, "reply", {"text": "Здравствуйте! Смотрю ваш вопрос."})

        supervisor = await supervisor_context.new_page()
        await supervisor_signs_in(supervisor, base)
        await expect(supervisor.get_by_role("link", name="Консоль оператора")).to_have_attribute("href", "/console")
        # Kate is an operator with capacity; Sveta supervises and is not listed among them.
        await expect(supervisor.locator("#operators")).to_contain_text("Kate")
        await expect(supervisor.locator("#operators")).not_to_contain_text("Светлана")

        row = supervisor.locator(f"#open-conversations li[data-conversation='{conversation_id}']")
        await expect(row).to_contain_text("Гость")
        await expect(row).to_contain_text("оператор: Kate")
        await row.get_by_role("button", name="Читать").click()
        await expect(supervisor.locator("#viewer-transcript")).to_contain_text("Здравствуйте! Смотрю ваш вопрос.")
        assert f"conversation={conversation_id}" in supervisor.url

        # The customer writes; the supervisor's reading pane follows live.
        await chat.fill("#input", "Мне нужно закрыть счёт")
        await chat.press("#input", "Enter")
        await expect(supervisor.locator("#viewer-transcript")).to_contain_text("Мне нужно закрыть счёт")

        # Writing to the customer waits for joining: the customer and Kate are told who is in the chat first.
        await expect(supervisor.locator("#say-text")).to_be_disabled()
        await supervisor.locator("#join").click()
        await expect(chat.locator("#messages")).to_contain_text("К чату подключился руководитель смены Светлана.")
        await supervisor.fill("#say-text", "Я помогу коллеге с вашим вопросом.")
        await supervisor.press("#say-text", "Enter")
        said = chat.locator(".msg--operator", has_text="Я помогу коллеге с вашим вопросом.")
        await expect(said.locator(".msg__label")).to_have_text("Оператор · Светлана")
        await expect(supervisor.locator("#viewer-transcript")).to_contain_text("Оператор · Светлана")
        context = await kate.conversation(conversation_id)
        assert any("Светлана" in note["text"] for note in context["notes"]), "Kate reads that Sveta joined"

        await supervisor.locator("#take-over").click()
        await expect(supervisor.locator("#viewer-state")).to_contain_text("у оператора · Светлана")
        # The customer reads one message about it, not "transferred" and "an operator joined".
        await expect(chat.locator("#messages")).to_contain_text("Вашим вопросом теперь занимается руководитель смены")
        assert "подключился оператор Светлана" not in await chat.locator("#messages").inner_text()
        await expect(supervisor.get_by_role("link", name="Открыть в консоли")).to_have_attribute(
            "href", f"/console/c/{conversation_id}"
        )
        conversation = await gateway.app[DB_KEY].conversations.find_one({"_id": conversation_id})
        assert conversation is not None and conversation["assignee"]["id"] == "sveta"
        assert await axe_violations(supervisor) == [], "the dashboard with a conversation open"
        assert await supervisor.evaluate("() => document.scrollingElement.scrollWidth") <= 1280, "fits 1280 px"
        await supervisor.screenshot(path=str(SCREENSHOTS / "supervisor-live.png"), full_page=True)
        await chat.screenshot(path=str(SCREENSHOTS / "webchat-phone.png"))

        # Sveta finishes it as an operator would; the customer rates and comments.
        sveta = Operator(gateway, "sveta")
        await sveta.signs_in()
        await sveta.conversation(conversation_id, "close", {"resolution": "information_given"})
        await chat.locator(".choice", has_text="4").click()
        await expect(chat.locator("#messages")).to_contain_text("Спасибо за оценку!")
        await chat.fill("#input", "Помогли, но ждал долго")
        await chat.press("#input", "Enter")
        await expect(chat.locator("#messages")).to_contain_text("Спасибо за отзыв!")
        await gateway.app[BUS_KEY].drain()

        await supervisor.goto(base + "/supervisor")
        comment = supervisor.locator("#comments li", has_text="Помогли, но ждал долго")
        await expect(comment).to_contain_text("оценка 4")
        await expect(comment).to_contain_text("Светлана")
        await expect(supervisor.locator("#kpi-conversations .kpi-value")).to_have_text("1")
        await expect(supervisor.locator("#kpi-containment .kpi-value")).to_have_text("0\u00a0%")
        await expect(supervisor.locator("#kpi-escalated")).to_contain_text("сразу: 1")
        await expect(supervisor.locator("#chart-conversations svg rect.bar")).not_to_have_count(0)
        await expect(supervisor.locator("#per-operator")).to_contain_text("Светлана")
        await comment.get_by_role("link", name="Открыть разговор").click()
        await expect(supervisor.locator("#viewer-read-only")).to_be_visible()
        await expect(supervisor.locator("#viewer-transcript")).to_contain_text("Я помогу коллеге с вашим вопросом.")
        assert await axe_violations(supervisor) == [], "the figures"
        await supervisor.screenshot(path=str(SCREENSHOTS / "supervisor-figures.png"), full_page=True)

        csv_text = await supervisor.evaluate("async (url) => (await fetch(url)).text()", "/api/supervisor/figures.csv")
        assert f'"Помогли, но ждал долго",{base}/supervisor?conversation={conversation_id}' in csv_text

        # The supervisor prefers English: the page turns English at once, units and all.
        await supervisor.locator(".ui-lang").get_by_role("button", name="EN").click()
        await expect(supervisor.get_by_role("heading", name="Supervisor dashboard")).to_be_visible()
        await expect(supervisor.locator("#kpi-escalated")).to_contain_text("at once: 1")
    finally:
        await customer_context.close()
        await supervisor_context.close()


async def test_a_supervisor_lifts_a_customer_s_verification_lock(
    gateway: TestClient[web.Request, web.Application], browser: Browser
) -> None:
    base = str(gateway.make_url("")).rstrip("/")
    db = gateway.app[DB_KEY]
    # Someone keyed three wrong endings of Anna's cards on the phone line: her checks are locked.
    caller = {"actor": "caller:twiml:CA-lock", "channel": "voice", "conversation_id": None}
    for guess in ("0001", "0002", "0003"):
        checked = await verify_limits.guarded_check(
            db, ["customer:demo-anna"], _never_matches, now=datetime.now(UTC), fields={**caller, "guess": guess}
        )
        assert isinstance(checked, verify_limits.Checked)
        for locked in checked.newly_locked:
            await verify_limits.raise_alert(db, gateway.app[BUS_KEY], locked, now=datetime.now(UTC), fields=caller)

    context = await staff_context(browser)
    try:
        supervisor = await context.new_page()
        await supervisor_signs_in(supervisor, base)
        lock = supervisor.locator("#verification-locks li[data-subject='customer:demo-anna']")
        await expect(lock).to_contain_text("Клиент demo-anna: неверные цифры карты")
        assert await axe_violations(supervisor) == [], "the dashboard with a lock"
        await lock.get_by_role("button", name="Снять").click()
        await expect(supervisor.locator("#banner")).to_contain_text("Блокировка снята")
        await expect(supervisor.get_by_text("Никто не заблокирован.")).to_be_visible()
    finally:
        await context.close()
    lifted = await db.audit_log.find_one({"action": "identity.lock_lifted"})
    assert lifted is not None and (lifted["actor"], lifted["customer_id"]) == ("supervisor:sveta", "demo-anna")
    assert not (await verify_limits.standing(db, "customer:demo-anna", datetime.now(UTC))).locked


async def _never_matches() -> bool:
    return False
