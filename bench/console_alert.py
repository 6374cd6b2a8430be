"""Time from a customer's message to the operator's alert in the real console page, at 1, 20 and 50 open conversations.

Runs the real gateway app (in this process, on a free port) on its own FerretDB, with a scripted stand-in
for Rasa that hands every conversation over (the bot's speed is bench.latency's business). OPERATORS
operators keep /console open in headless Chromium (the built web/dist page), each in its own browser context,
so every event reaches every page. Customers escalate over the REST channel until the operators carry OPEN
conversations between them; then customers write one at a time and the figure is the time from sending the
message (before the HTTP request) to the owning operator's page alert for it (window.__consoleAlerts, written
when the sound/notification fires). Both clocks are this machine's wall clock in milliseconds. Prints one
line per configuration, then the gateway process's CPU time per message (the gateway runs in this process:
the figure includes the REST client's share, the same in every configuration).
Usage: `. scripts/env.sh && $APP_VENV/bin/python -m bench.console_alert [messages] [configurations]`
(default 100 messages per configuration; configurations as OPENxOPERATORS, e.g. `50x5,20x1`).
"""

from __future__ import annotations

import asyncio
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from pathlib import Path

import aiohttp
from aiohttp import web
from playwright.async_api import Page, async_playwright

from bench.handoff import scripted_rasa
from bench.latency import percentile
from core.app import create_app
from core.keys import DB_KEY
from core.settings import LOCAL_REST_API_KEY, Settings
from core.stack import Stack, free_port
from core.staff import Role, save_staff
from handoff import operators

PASSWORD = "bench-password"  # noqa: S105 -- throwaway account in a throwaway database
# (open conversations, operators signed in)
CONFIGURATIONS = ((1, 1), (20, 1), (50, 5))
DEFAULT_MESSAGES = 100
PAUSE_SECONDS = 0.3
WEB = Path(__file__).resolve().parent.parent / "web"


async def open_console(page: Page, base: str, login: str) -> None:
    await page.goto(base + "/console")
    await page.fill("#login", login)
    await page.fill("#password", PASSWORD)
    await page.click("#sign-in-button")
    await page.wait_for_selector("#connection[data-state='live']")
    await page.select_option("#status", "online")


async def measure(
    pages: list[Page], customers: aiohttp.ClientSession, base: str, senders: list[str], ids: list[str], messages: int
) -> list[float]:
    """Customers write in turn; the latency of each message's alert in milliseconds."""
    latencies: list[float] = []
    for n in range(messages):
        index = n % len(senders)
        sent_ms = time.time() * 1000
        async with customers.post(
            base + "/api/channels/rest/messages",
            json={"sender": senders[index], "text": f"вопрос {n}"},
            headers={"X-Api-Key": LOCAL_REST_API_KEY},
        ) as resp:
            assert resp.status == 200, await resp.text()
        alert_ms = await pages[index].evaluate(
            """async ([cid, after]) => {
                for (let i = 0; i < 500; i++) {
                    const hit = window.__consoleAlerts.find(
                        (a) => a.conversationId === cid && a.kind === 'message' && a.at >= after);
                    if (hit) return hit.at;
                    await new Promise((r) => setTimeout(r, 5));
                }
                return null;
            }""",
            [ids[index], sent_ms - 5],
        )
        if alert_ms is not None:
            latencies.append(max(0.0, alert_ms - sent_ms))
        await asyncio.sleep(PAUSE_SECONDS)
    return latencies


async def main(messages: int, configurations: tuple[tuple[int, int], ...] = CONFIGURATIONS) -> None:
    await asyncio.to_thread(subprocess.run, ["node", "build.mjs", "--if-changed"], cwd=WEB, check=True)
    stack = Stack(data_dir=Path(tempfile.mkdtemp(prefix="bench-console-alert-")))
    await asyncio.to_thread(stack.start_ferretdb)
    rasa_port, gateway_port = free_port(), free_port()
    rasa = await scripted_rasa(rasa_port)
    settings = replace(
        Settings(),
        mongodb_uri=stack.mongodb_uri,
        mongodb_db=f"bench_{uuid.uuid4().hex[:8]}",
        rasa_url=f"http://127.0.0.1:{rasa_port}",
    )
    app = create_app(settings)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", gateway_port).start()
    base = f"http://127.0.0.1:{gateway_port}"
    db = app[DB_KEY]
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average {os.getloadavg()}")
    try:
        async with async_playwright() as playwright, aiohttp.ClientSession() as customers:
            browser = await playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
            for open_count, operator_count in configurations:
                logins = [f"bench-op-{open_count}-{k}" for k in range(operator_count)]
                capacity = -(-open_count // operator_count)
                contexts, page_of = [], {}
                for login in logins:
                    await save_staff(db, login, PASSWORD, display_name=login, roles=(Role.OPERATOR,))
                    await operators.save_operator(db, login, display_name=login, languages=("ru",), capacity=capacity)
                    context = await browser.new_context(viewport={"width": 1280, "height": 800})
                    page_of[login] = await context.new_page()
                    await open_console(page_of[login], base, login)
                    contexts.append(context)
                senders = [f"bench-{open_count}-{i}" for i in range(open_count)]
                ids = []
                for sender in senders:
                    async with customers.post(
                        base + "/api/channels/rest/messages",
                        json={"sender": sender, "text": "оператора"},
                        headers={"X-Api-Key": LOCAL_REST_API_KEY},
                    ) as resp:
                        ids.append((await resp.json())["conversation_id"])
                owners: list[Page] = []
                for cid in ids:  # wait until the operators carry them all
                    owner = None
                    for _ in range(400):
                        doc = await db.conversations.find_one({"_id": cid})
                        owner = ((doc or {}).get("assignee") or {}).get("id")
                        if owner in page_of:
                            break
                        await asyncio.sleep(0.05)
                    owners.append(page_of[str(owner)])
                # Measure a quiet console: every page shows all its conversations (the lists re-read after
                # the assignments are done), then a pause for anything still in flight.
                for page in page_of.values():
                    mine = sum(1 for owner_page in owners if owner_page is page)
                    await page.wait_for_function(
                        "n => document.querySelectorAll('#rows li.row').length >= n", arg=mine, timeout=120_000
                    )
                await asyncio.sleep(3)
                cpu_before = resource.getrusage(resource.RUSAGE_SELF)
                latencies = await measure(owners, customers, base, senders, ids, messages)
                cpu_after = resource.getrusage(resource.RUSAGE_SELF)
                gateway_cpu_ms = (
                    (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
                ) * 1000
                print(
                    f"alert_latency_ms open={open_count} operators={operator_count} "
                    f"p50={statistics.median(latencies):.0f} p95={percentile(latencies, 95):.0f} "
                    f"max={max(latencies):.0f} "
                    f"n={len(latencies)}/{messages}"
                )
                print(
                    f"gateway_cpu_ms_per_message open={open_count} operators={operator_count} "
                    f"{gateway_cpu_ms / messages:.1f}"
                )
                for context in contexts:
                    await context.close()
            await browser.close()
    finally:
        await runner.cleanup()
        await rasa.cleanup()
        stack.stop()


if __name__ == "__main__":
    chosen = (
        tuple((int(a), int(b)) for a, b in (item.split("x") for item in sys.argv[2].split(",")))
        if len(sys.argv) > 2
        else CONFIGURATIONS
    )
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_MESSAGES, chosen))
