"""The Campaigns section of the supervisor page in headless Chromium, with Telegram customers answering.

The gateway is the real app factory with outbound on (PostgreSQL attempts, the real procrastinate
queue worked in this process), Telegram on the local Bot API stand-in (Telegram cannot be reached
from here: the stand-in answers exactly as api.telegram.org does) and a scripted Rasa (no story
here needs the bot's understanding). The clock of the outbound side is a Tuesday noon in Moscow,
inside every contact window, so the stories do not depend on when they run.

Sveta, a supervisor, uploads a CSV with a bad row (refused whole, the row named with its reason),
uploads it fixed, reads the reminder in both languages, sees how many will be contacted today and
why the others will not, schedules it and watches the progress while Ivan answers "already paid"
in Telegram; the contact is in Ivan's history in the operator console. Then a survey campaign's
answers (rating, recommendation score, comment) come back as its results. The pages pass axe-core
at 1280x800 and 390x844 and are photographed for docs/supervisors.md.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from playwright.async_api import Browser, BrowserContext, Page, ViewportSize, expect

from connectors.telegram import SECRET_HEADER
from core.db import Database
from handoff.setup import DEMO_STAFF_PASSWORD
from outbound import store
from outbound.http import OUTBOUND_KEY

from ..channel_support import TELEGRAM_SECRET, Updates, scripted_rasa
from ..handoff_support import _close_operator_sessions
from ..outbound_support import (
    NOON,
    MakeGateway,
    bank_db,
    link_telegram,
    outbound_gateway,
    outbound_stack,
    pg,
    telegram_webhook_settings,
)
from ..test_outbound_delivery import IVAN_CHAT, TelegramStandIn, Workers, telegram
from .conftest import axe_violations

__all__ = [
    "_close_operator_sessions",
    "bank_db",
    "outbound_gateway",
    "outbound_stack",
    "pg",
    "scripted_rasa",
    "telegram",
]

# The docs' pictures are refreshed with CC_SCREENSHOTS=docs/screenshots; a plain run leaves the checkout clean.
SCREENSHOTS = Path(os.environ.get("CC_SCREENSHOTS") or Path(tempfile.gettempdir()) / "cc-screenshots")
ANNA_CHAT = 700_200_300
# Start and end as the supervisor types them (the browser is in Moscow): the week of the outbound clock's noon.
START, END = "2026-12-01T10:00", "2026-12-04T20:00"
Gateway = TestClient[web.Request, web.Application]
# One source of updates for the whole session: each update gets its own id, as Telegram's do.
UPDATES = Updates()


@pytest.fixture
async def gateway(outbound_gateway: MakeGateway, telegram: tuple[TelegramStandIn, str]) -> Gateway:
    client = await outbound_gateway(**telegram_webhook_settings(telegram[1]))
    client.app[OUTBOUND_KEY].clock = lambda: NOON
    return client


@pytest.fixture
async def sveta(browser: Browser, gateway: Gateway) -> AsyncIterator[Page]:
    """Sveta's browser at 1280x800 in Moscow, signed in on the Campaigns section."""
    context = await staff_context(browser, ViewportSize(width=1280, height=800))
    page = await context.new_page()
    base = str(gateway.make_url("")).rstrip("/")
    await page.goto(base + "/supervisor")
    await page.fill("#login", "sveta")
    await page.fill("#password", DEMO_STAFF_PASSWORD)
    await page.click("#sign-in-button")
    await page.get_by_role("navigation").get_by_role("link", name="Кампании").click()
    await expect(page.get_by_role("heading", name="Кампании", exact=True)).to_be_visible()
    yield page
    await context.close()


async def staff_context(browser: Browser, viewport: ViewportSize) -> BrowserContext:
    # bypass_csp lets the test inject axe-core; the page's own scripts still come only from the gateway.
    return await browser.new_context(
        locale="ru-RU",
        timezone_id="Europe/Moscow",
        viewport=viewport,
        bypass_csp=True,
    )


def csv_file(text: str) -> dict[str, Any]:
    return {"name": "december.csv", "mimeType": "text/csv", "buffer": text.encode("utf-8")}


async def fill_campaign(page: Page, name: str, kind: str, csv_text: str) -> None:
    await page.get_by_role("button", name="Новая кампания").click()
    await page.get_by_label("Название", exact=True).fill(name)
    await page.get_by_label("Вид кампании").select_option(kind)
    await page.locator("#campaign-csv").set_input_files(csv_file(csv_text))  # type: ignore[arg-type]
    for channel in ("SMS", "звонок"):
        await page.get_by_role("checkbox", name=channel).uncheck()
    await page.get_by_label("Начало").fill(START)
    await page.get_by_label("Конец").fill(END)


async def work_the_queue(gateway: Gateway, pool: store.Pool, url: str, bank: Database, telegram_url: str) -> None:
    # Without the periodic reaper, which finishes a campaign with nothing left to send whenever a minute
    # turns: the supervisor still pauses, resumes and cancels it in this story.
    async with Workers(url, pool, bank, telegram_url, None, reaper=False) as workers:
        await workers.run_until_idle()


async def ivan_presses(gateway: Gateway, api: TelegramStandIn, button_text: str) -> None:
    """Ivan presses a button of the last message that has it, as Telegram delivers the press."""
    for message in reversed(api.sent(IVAN_CHAT)):
        markup = message.get("reply_markup") or {}
        keyboard = (json.loads(markup) if isinstance(markup, str) else markup).get("inline_keyboard", [])
        pressed = [b for row in keyboard for b in row if b["text"] == button_text]
        if pressed:
            update = UPDATES.callback(IVAN_CHAT, pressed[0]["callback_data"])
            break
    else:
        raise AssertionError(f"No button {button_text!r} in {api.sent(IVAN_CHAT)}")
    before = len(api.sent(IVAN_CHAT))
    resp = await gateway.post("/telegram/webhook", json=update, headers={SECRET_HEADER: TELEGRAM_SECRET})
    assert resp.status == 200, await resp.text()
    await api.wait_for(lambda: len(api.sent(IVAN_CHAT)) > before)


async def ivan_writes(gateway: Gateway, api: TelegramStandIn, text: str) -> None:
    before = len(api.sent(IVAN_CHAT))
    update = UPDATES.message(IVAN_CHAT, text)
    resp = await gateway.post("/telegram/webhook", json=update, headers={SECRET_HEADER: TELEGRAM_SECRET})
    assert resp.status == 200, await resp.text()
    await api.wait_for(lambda: len(api.sent(IVAN_CHAT)) > before)


async def test_a_supervisor_runs_a_payment_reminder_campaign_from_a_csv(
    gateway: Gateway,
    sveta: Page,
    browser: Browser,
    bank_db: Database,
    pg: tuple[store.Pool, str],
    telegram: tuple[TelegramStandIn, str],
) -> None:
    api, api_url = telegram
    await link_telegram(bank_db, "demo-ivan", IVAN_CHAT)
    page = sveta

    # A file with an unknown customer is refused whole: the row and the reason are named, nothing is imported.
    await fill_campaign(page, "Декабрьские платежи", "payment_reminder", "customer_id\ndemo-ivan\nnobody\ndemo-anna\n")
    await expect(page.locator("#csv-chosen")).to_contain_text("строк 4")
    await page.get_by_role("button", name="Создать черновик").click()
    await expect(page.locator("#csv-errors")).to_contain_text("Строка 3: «nobody» — такого клиента нет")
    await expect(page.locator("#campaigns-empty")).to_be_visible()
    assert await axe_violations(page) == [], "the form with the refused file"

    await page.locator("#campaign-csv").set_input_files(csv_file("customer_id\ndemo-ivan\ndemo-anna\n"))  # type: ignore[arg-type]
    await page.get_by_role("button", name="Создать черновик").click()
    campaign = page.locator("#campaign")
    await expect(campaign).to_have_attribute("data-state", "draft")
    await expect(page.locator("#banner")).to_contain_text("Черновик «Декабрьские платежи» создан")
    await expect(campaign).to_contain_text("Клиентов в списке: 2")

    # Both languages for a sample customer; who will be reached today, and why Anna will not.
    await expect(page.locator("#preview-ru .bubble")).to_contain_text("Иван")
    await expect(page.locator("#preview-ru")).to_contain_text("Уже оплатил")
    await expect(page.locator("#preview-en")).to_contain_text("Already paid")
    await page.get_by_label("Клиент для примера").fill("demo-anna")
    await page.get_by_role("button", name="Показать").click()
    await expect(page.locator("#preview-for")).to_contain_text("demo-anna")
    await expect(page.locator("#forecast-audience .kpi-value")).to_have_text("2")
    await expect(page.locator("#forecast-today .kpi-value")).to_have_text("1")
    await expect(page.locator("#forecast-reasons")).to_contain_text("нет Telegram и телефона")
    assert await axe_violations(page) == [], "the draft with its preview and forecast"
    await page.screenshot(path=str(SCREENSHOTS / "supervisor-campaign-draft.png"), full_page=True)

    await page.get_by_role("button", name="Запланировать").click()
    await expect(page.locator("#banner")).to_contain_text("Кампания запланирована.")
    await expect(campaign).to_have_attribute("data-state", "running")
    await expect(page.locator("#outcomes [data-outcome='queued'] .kpi-value")).to_have_text("1")
    await expect(page.locator("#outcomes [data-outcome='suppressed'] .kpi-value")).to_have_text("1")

    # The worker sends the reminder; the page follows without a reload.
    pool, url = pg
    await work_the_queue(gateway, pool, url, bank_db, api_url)
    assert "Иван" in api.sent(IVAN_CHAT)[-1]["text"]
    await expect(page.locator("#outcomes [data-outcome='sent'] .kpi-value")).to_have_text("1")
    await expect(page.locator("#outcomes [data-outcome='queued'] .kpi-value")).to_have_text("0")
    row = page.locator("#campaign-list tr", has_text="Декабрьские платежи")
    await expect(row).to_contain_text("идёт")
    await expect(row.locator("progress")).to_have_attribute("value", "2")

    await ivan_presses(gateway, api, "Уже оплатил")
    await expect(page.locator("#outcomes [data-outcome='paid'] .kpi-value")).to_have_text("1")
    await expect(page.locator("#outcomes [data-outcome='replied'] .kpi-value")).to_have_text("1")
    await expect(page.locator("#attempts")).to_contain_text("уже оплатил")
    assert await axe_violations(page) == [], "the running campaign"
    await page.screenshot(path=str(SCREENSHOTS / "supervisor-campaigns.png"), full_page=True)

    exported = await page.evaluate("async () => (await fetch(document.querySelector('#campaign-export').href)).text()")
    assert "demo-ivan" in exported and "no_channel" in exported

    await page.get_by_role("button", name="Пауза").click()
    await expect(campaign).to_have_attribute("data-state", "paused")
    await page.get_by_role("button", name="Продолжить").click()
    await expect(campaign).to_have_attribute("data-state", "running")
    await page.get_by_role("button", name="Отменить кампанию").click()
    await page.get_by_role("button", name="Да, отменить").click()
    await expect(campaign).to_have_attribute("data-state", "cancelled")

    # The contact is in Ivan's history in the operator console.
    conversation = await bank_db.conversations.find_one({"channel_user_id": str(IVAN_CHAT)})
    assert conversation is not None
    await page.goto(page.url.split("/supervisor")[0] + f"/console/c/{conversation['_id']}")
    contacts = page.locator("#outbound-contacts")
    await expect(contacts).to_contain_text("напоминание о платеже · Telegram · клиент ответил")
    await expect(contacts).to_contain_text("ответ: уже оплатил")

    # On a phone the section fits the screen and passes axe too.
    phone = await staff_context(browser, ViewportSize(width=390, height=844))
    try:
        small = await phone.new_page()
        await small.goto(page.url.split("/console")[0] + "/supervisor")
        await small.fill("#login", "sveta")
        await small.fill("#password", DEMO_STAFF_PASSWORD)
        await small.click("#sign-in-button")
        await small.get_by_role("link", name="Кампании").click()
        await small.get_by_role("link", name="Декабрьские платежи").click()
        await expect(small.locator("#campaign")).to_have_attribute("data-state", "cancelled")
        assert await small.evaluate("() => document.scrollingElement.scrollWidth") <= 390, "fits 390 px"
        assert await axe_violations(small) == [], "the campaign on a phone"
        await small.screenshot(path=str(SCREENSHOTS / "supervisor-campaign-phone.png"), full_page=True)
    finally:
        await phone.close()


async def test_a_survey_campaign_shows_its_answers(
    gateway: Gateway,
    sveta: Page,
    bank_db: Database,
    pg: tuple[store.Pool, str],
    telegram: tuple[TelegramStandIn, str],
) -> None:
    api, api_url = telegram
    await link_telegram(bank_db, "demo-ivan", IVAN_CHAT)
    page = sveta
    await fill_campaign(page, "Опрос: декабрь", "survey", "demo-ivan\n")
    await page.get_by_role("checkbox", name="Свободный комментарий").check()
    await page.get_by_role("button", name="Создать черновик").click()
    await page.get_by_role("button", name="Запланировать").click()
    await expect(page.locator("#campaign")).to_have_attribute("data-state", "running")
    await expect(page.locator("#survey-results")).to_contain_text("Ответов пока нет.")

    pool, url = pg
    await work_the_queue(gateway, pool, url, bank_db, api_url)
    await ivan_presses(gateway, api, "4")
    await ivan_presses(gateway, api, "9")
    await ivan_writes(gateway, api, "Приложение стало лучше, спасибо")
    assert "Спасибо" in api.sent(IVAN_CHAT)[-1]["text"]

    # One survey mechanism: the answers are stored as the post-conversation rating's are, one per question.
    stored = {a["question"]: a async for a in bank_db.survey_answers.find({"key": {"$regex": "^campaign:"}})}
    assert (stored["rating"]["value"], stored["nps"]["value"]) == (4, 9)
    assert stored["comment"]["comment"] == "Приложение стало лучше, спасибо"
    await expect(page.locator("#outcomes [data-outcome='replied'] .kpi-value")).to_have_text("1")
    await expect(page.locator("#survey-rating .kpi-value")).to_have_text("4")
    await expect(page.locator("#survey-nps .kpi-value")).to_have_text("100")
    await expect(page.locator("#survey-comments")).to_contain_text("Приложение стало лучше, спасибо")
    await expect(page.locator("#chart-survey-rating svg rect.bar")).to_have_count(1)
    await expect(page.locator("#survey-by-day tbody tr")).to_have_count(1)
    await expect(page.locator("#survey-by-day tbody tr")).to_contain_text("100")
    assert await axe_violations(page) == [], "the survey's results"
    await page.screenshot(path=str(SCREENSHOTS / "supervisor-survey-results.png"), full_page=True)

    # The supervisor prefers English: the results read in English at once.
    await page.locator(".ui-lang").get_by_role("button", name="EN").click()
    await expect(page.locator("#survey-heading")).to_have_text("Survey results")
    await expect(page.locator("#survey-nps .kpi-label")).to_have_text("Recommendation score (NPS)")
