"""Alerts, callbacks, canned answers and reports in headless Chromium (issue 21), in Russian at 1280x800 and in
English at 390x844.

Chromium holds sound back until a click on a page opened without one (its autoplay rule, made explicit with
--autoplay-policy=document-user-activation-required, as after a reload): the console says so and offers one
click to enable it. A guest books a callback with the number and the time in one message; the operator's
task shows the wished-for time and counts down to it. The supervisor writes a canned answer with a variable
and previews it for a customer and for a guest, and reads the reports beside the previous period. Every page
passes axe-core.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from playwright.async_api import Page, async_playwright, expect

from core.app import create_app
from core.stack import Stack
from handoff.setup import DEMO_STAFF_PASSWORD

from ..handoff_support import REST, REST_HEADERS, gateway_settings
from .conftest import CHROMIUM, CHROMIUM_ARGS, axe_violations

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
# Desktop Chrome's own rule, named so the test does not lean on a build's default: a page may start sound
# only after the user interacted with it. (Playwright's page.evaluate counts as a click, so the test reads
# the page's state only through what the page shows.)
AUTOPLAY_RULE = "--autoplay-policy=document-user-activation-required"

RUSSIAN = {
    "live": "на связи",
    "ask": "позовите оператора",
    "wish_text": "+7 999 123-45-67 после 18:00",
    "booked": r"перезвонит вам по номеру \+79991234567 (завтра )?после 18:00",
    "sound_blocked": "Браузер заблокировал звук оповещений",
    "wish": "Позвонить:",
    "after": "после 18:00",
    "countdown": r"через \d+:\d\d",
    "canned_title": "Уточнение карты",
    "canned_text": "{name}, уточните, пожалуйста, последние 4 цифры карты.",
    "as_customer": "Иван, уточните, пожалуйста",
    "as_guest": "Уточните, пожалуйста, последние 4 цифры карты.",
    "bad_title": "Ошибка",
    "bad_text": "Здравствуйте, {client}!",
    "unknown": "Неизвестные переменные: {client}",
    "escalated": "Передано операторам",
}
ENGLISH = {
    "live": "live",
    "ask": "I want to talk to a person",
    "wish_text": "+7 999 123-45-67 after 6pm",
    "booked": r"call you back on \+79991234567 (tomorrow )?after 18:00",
    "sound_blocked": "The browser blocked alert sounds",
    "wish": "Call:",
    "after": "after 18:00",
    "countdown": r"in \d+:\d\d",
    "canned_title": "Card check",
    "canned_text": "{name}, please confirm the last 4 digits of your card.",
    "as_customer": "John, please confirm",
    "as_guest": "Please confirm the last 4 digits of your card.",
    "bad_title": "Broken",
    "bad_text": "Hello, {client}!",
    "unknown": "Unknown variables: {client}",
    "escalated": "Passed to operators",
}


@pytest.fixture
async def gateway(stack: Stack, aiohttp_client: Any) -> TestClient[web.Request, web.Application]:
    client: TestClient[web.Request, web.Application] = await aiohttp_client(
        create_app(gateway_settings(stack, "tools_browser"))
    )
    return client


async def signs_in(page: Page, base: str, login: str, live: str) -> None:
    await page.goto(base + "/console")
    await page.fill("#login", login)
    await page.fill("#password", DEMO_STAFF_PASSWORD)
    await page.click("#sign-in-button")
    await expect(page.locator("#connection")).to_have_text(live)


@pytest.mark.parametrize(
    ("locale", "viewport", "texts"),
    [("ru-RU", DESKTOP, RUSSIAN), ("en-US", PHONE, ENGLISH)],
    ids=["ru-desktop", "en-phone"],
)
async def test_sound_callbacks_canned_answers_and_reports(
    gateway: TestClient[web.Request, web.Application], locale: str, viewport: dict[str, int], texts: dict[str, str]
) -> None:
    base = str(gateway.make_url("")).rstrip("/")

    # A guest asks for a person while nobody is online and books a callback in one message.
    async def says(text: str) -> list[str]:
        resp = await gateway.post(REST, json={"sender": "tools-guest", "text": text}, headers=REST_HEADERS)
        assert resp.status == 200, await resp.text()
        return [reply["text"] for reply in (await resp.json())["replies"]]

    await says(texts["ask"])
    await says("/request_callback")
    said = await says(texts["wish_text"])
    assert re.search(texts["booked"], said[0]), said

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, AUTOPLAY_RULE])
        signing_in = await browser.new_context(locale=locale, viewport=viewport)  # type: ignore[arg-type]
        await signs_in(await signing_in.new_page(), base, "kate", texts["live"])
        # The same session opened anew, without a click on the page (as after a reload or a restart).
        context = await browser.new_context(
            locale=locale,
            viewport=viewport,  # type: ignore[arg-type]
            bypass_csp=True,
            storage_state=await signing_in.storage_state(),
        )
        kate = await context.new_page()
        await kate.goto(base + "/console")
        await expect(kate.locator("#connection")).to_have_text(texts["live"])
        await expect(kate.locator("#sound-blocked")).to_contain_text(texts["sound_blocked"])
        assert await axe_violations(kate) == [], "the console with the sound notice"
        # Chromium itself lets the sound start on the operator's click.
        await kate.click("#enable-sound")
        await expect(kate.locator("#sound-blocked")).to_have_count(0)

        # The callback task shows the customer's time and counts down to it.
        await kate.click("#view-callbacks")
        task = kate.locator("#callbacks li.task").first
        await expect(task).to_contain_text("+79991234567")
        await expect(task.locator(".wish")).to_contain_text(texts["wish"])
        await expect(task.locator(".wish")).to_contain_text(texts["after"])
        await expect(task.locator(".countdown")).to_contain_text(re.compile(texts["countdown"]))

        # The supervisor writes a canned answer with a variable and previews it.
        sveta_context = await browser.new_context(locale=locale, viewport=viewport, bypass_csp=True)  # type: ignore[arg-type]
        sveta = await sveta_context.new_page()
        await sveta.goto(base + "/supervisor")
        await sveta.fill("#login", "sveta")
        await sveta.fill("#password", DEMO_STAFF_PASSWORD)
        await sveta.click("#sign-in-button")
        await sveta.fill("#canned-title", texts["canned_title"])
        await sveta.fill("#canned-text", texts["canned_text"])
        await sveta.click("#canned-preview")
        preview = sveta.locator("#canned-preview-out")
        await expect(preview).to_contain_text(texts["as_customer"])
        await expect(preview).to_contain_text(texts["as_guest"])
        await sveta.click("#canned-save")
        await expect(sveta.locator("#canned-list")).to_contain_text(texts["canned_title"])
        await sveta.fill("#canned-title", texts["bad_title"])
        await sveta.fill("#canned-text", texts["bad_text"])
        await sveta.click("#canned-save")
        await expect(sveta.locator("#banner")).to_contain_text(texts["unknown"])

        # The reports set the period beside the previous one.
        await expect(sveta.locator("#report-compare")).to_contain_text(texts["escalated"])
        await expect(sveta.locator("#report-heat")).to_be_visible()
        assert not await sveta.evaluate("() => document.documentElement.scrollWidth > window.innerWidth + 1")
        assert await axe_violations(sveta) == [], "the supervisor page with canned answers and reports"
        await browser.close()
