"""What the browser tests share: Debian's headless Chromium, driven by Python Playwright."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from playwright.async_api import Browser, Page, Response, async_playwright, expect

from core.keys import BUS_KEY

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """A fresh headless Chromium for one test (Debian's, so Playwright downloads no browser)."""
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


WEB = Path(__file__).resolve().parents[2] / "web"
AXE = WEB / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture(scope="session", autouse=True)
def web_build() -> None:
    """The staff pages built from web/ (as scripts/setup does); rebuilt only when a source or the lock changed."""
    if not (WEB / "node_modules" / "esbuild").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=WEB, check=True)
    subprocess.run(["node", "build.mjs", "--if-changed"], cwd=WEB, check=True)


async def axe_violations(page: Page, *, impacts: tuple[str, ...] = ("serious", "critical")) -> list[str]:
    """Run axe-core (the pinned npm package) in the page; the serious and critical violations, one line each."""
    await page.add_script_tag(path=str(AXE))
    found: list[dict[str, Any]] = await page.evaluate("async () => (await axe.run(document)).violations")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in found
        if v.get("impact") in impacts
    ]


async def goes_online(page: Page, gateway: TestClient[web.Request, web.Application]) -> None:
    """The status select shows "online" at once; the operator is online once the server has answered the change."""

    def status_change(response: Response) -> bool:
        return response.url.endswith("/api/console/status") and response.request.method == "POST"

    async with page.expect_response(status_change) as answer:
        await page.select_option("#status", "online")
    assert (await answer.value).ok
    await expect(page.locator("#status")).to_have_value("online")
    await gateway.app[BUS_KEY].drain()
