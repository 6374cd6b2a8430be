"""Alerts, callbacks, canned answers and reports in headless Chromium (issue 21), Russian, 1280x800.

A browser that holds sound back until a click (Chromium's autoplay rule after a reload) makes the console say
so and offer one click to enable it. A guest books a callback with the number and the time in one message;
the operator's task shows the wished-for time and counts down to it. The supervisor writes a canned answer
with a variable and previews it for a customer and for a guest, and reads the reports beside the previous
period. Every page passes axe-core.
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
# Headless Chromium lets Web Audio play without a click even with --autoplay-policy=user-gesture-required,
# so the rule a desktop browser applies after a reload is replayed here: an AudioContext starts suspended
# and resumes only within a user's click (transient activation), announcing it with "statechange".
AUTOPLAY_RULE = """
(() => {
  const Real = window.AudioContext;
  if (!Real) return;
  window.AudioContext = class extends Real {
    constructor(...args) { super(...args); this.__held = true; }
    get state() { return this.__held ? "suspended" : super.state; }
    async resume() {
      if (navigator.userActivation && navigator.userActivation.isActive) this.__held = false;
      await super.resume();
      this.dispatchEvent(new Event("statechange"));
    }
  };
})();
"""


@pytest.fixture
async def gateway(stack: Stack, aiohttp_client: Any) -> TestClient[web.Request, web.Application]:
    client: TestClient[web.Request, web.Application] = await aiohttp_client(
        create_app(gateway_settings(stack, "tools_browser"))
    )
    return client


async def signs_in(page: Page, base: str, login: str) -> None:
    await page.goto(base + "/console")
    await page.fill("#login", login)
    await page.fill("#password", DEMO_STAFF_PASSWORD)
    await page.click("#sign-in-button")
    await expect(page.locator("#connection")).to_have_text("на связи")


async def test_sound_callbacks_canned_answers_and_reports(gateway: TestClient[web.Request, web.Application]) -> None:
    base = str(gateway.make_url("")).rstrip("/")

    # A guest asks for a person while nobody is online and books a callback in one message.
    async def says(text: str) -> list[str]:
        resp = await gateway.post(REST, json={"sender": "tools-guest", "text": text}, headers=REST_HEADERS)
        assert resp.status == 200, await resp.text()
        return [reply["text"] for reply in (await resp.json())["replies"]]

    await says("позовите оператора")
    await says("/request_callback")
    said = await says("+7 999 123-45-67 после 18:00")
    assert re.search(r"перезвонит вам по номеру \+79991234567 (завтра )?после 18:00", said[0]), said

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        signing_in = await browser.new_context(locale="ru-RU", viewport=DESKTOP)  # type: ignore[arg-type]
        await signs_in(await signing_in.new_page(), base, "kate")
        # The same session opened anew, without a click on the page (as after a reload or a restart).
        context = await browser.new_context(
            locale="ru-RU",
            viewport=DESKTOP,  # type: ignore[arg-type]
            bypass_csp=True,
            storage_state=await signing_in.storage_state(),
        )
        await context.add_init_script(AUTOPLAY_RULE)
        kate = await context.new_page()
        await kate.goto(base + "/console")
        await expect(kate.locator("#connection")).to_have_text("на связи")
        await expect(kate.locator("#sound-blocked")).to_contain_text("Браузер заблокировал звук оповещений")
        assert await axe_violations(kate) == [], "the console with the sound notice"
        await kate.click("#enable-sound")
        await expect(kate.locator("#sound-blocked")).to_have_count(0)

        # The callback task shows the customer's time and counts down to it.
        await kate.click("#view-callbacks")
        task = kate.locator("#callbacks li.task").first
        await expect(task).to_contain_text("+79991234567")
        await expect(task.locator(".wish")).to_contain_text("Позвонить:")
        await expect(task.locator(".wish")).to_contain_text("после 18:00")
        await expect(task.locator(".countdown")).to_contain_text(re.compile(r"через \d+:\d\d"))

        # The supervisor writes a canned answer with a variable and previews it.
        sveta_context = await browser.new_context(locale="ru-RU", viewport=DESKTOP, bypass_csp=True)  # type: ignore[arg-type]
        sveta = await sveta_context.new_page()
        await sveta.goto(base + "/supervisor")
        await sveta.fill("#login", "sveta")
        await sveta.fill("#password", DEMO_STAFF_PASSWORD)
        await sveta.click("#sign-in-button")
        await sveta.fill("#canned-title", "Уточнение карты")
        await sveta.fill("#canned-text", "{name}, уточните, пожалуйста, последние 4 цифры карты.")
        await sveta.click("#canned-preview")
        preview = sveta.locator("#canned-preview-out")
        await expect(preview).to_contain_text("Иван, уточните, пожалуйста")
        await expect(preview).to_contain_text("Уточните, пожалуйста, последние 4 цифры карты.")
        await sveta.click("#canned-save")
        await expect(sveta.locator("#canned-list")).to_contain_text("Уточнение карты")
        await sveta.fill("#canned-title", "Ошибка")
        await sveta.fill("#canned-text", "Здравствуйте, {client}!")
        await sveta.click("#canned-save")
        await expect(sveta.locator("#banner")).to_contain_text("Неизвестные переменные: {client}")

        # The reports set the period beside the previous one.
        await expect(sveta.locator("#report-compare")).to_contain_text("Передано операторам")
        await expect(sveta.locator("#report-heat")).to_be_visible()
        assert await axe_violations(sveta) == [], "the supervisor page with canned answers and reports"
        await browser.close()
