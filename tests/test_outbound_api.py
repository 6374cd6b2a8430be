"""Outbound over HTTP: a supervisor's campaign from CSV to results, and an integration's fraud alert answered "no".

The gateway is the real app factory (Telegram channel on the local Bot API stand-in, a scripted
Rasa); delivery runs on the real procrastinate queue in this process. Telegram cannot be reached
from here: the stand-in answers every Bot API call exactly as api.telegram.org does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from connectors.telegram import SECRET_HEADER
from core.app import create_app
from core.banking import CardStatus
from core.db import Database
from core.settings import LOCAL_REST_API_KEY
from outbound import store

from .channel_support import TELEGRAM_SECRET, Updates, channel_settings, scripted_rasa
from .handoff_support import Operator, _close_operator_sessions
from .outbound_support import (
    MakeGateway,
    OutboundStack,
    bank_db,
    link_telegram,
    outbound_gateway,
    outbound_stack,
    pg,
    telegram_webhook_settings,
)
from .test_outbound_delivery import IVAN_CHAT, JOHN_CHAT, TelegramStandIn, Workers, telegram

__all__ = [
    "_close_operator_sessions",
    "bank_db",
    "outbound_gateway",
    "outbound_stack",
    "pg",
    "scripted_rasa",
    "telegram",
]

API_KEY = {"X-Api-Key": LOCAL_REST_API_KEY}


@pytest.fixture
async def gateway(
    outbound_gateway: MakeGateway, telegram: tuple[TelegramStandIn, str]
) -> TestClient[web.Request, web.Application]:
    return await outbound_gateway(**telegram_webhook_settings(telegram[1]))


@pytest.fixture
async def supervisor(gateway: TestClient[web.Request, web.Application]) -> AsyncIterator[Operator]:
    sveta = Operator(gateway, "sveta")
    await sveta.signs_in()
    yield sveta


async def call(who: Operator, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    async with who.session.request(method, who.base + path, json=body, headers={"X-CSRF-Token": who.csrf}) as resp:
        return resp.status, (await resp.json() if resp.content_type == "application/json" else await resp.text())


def campaign_body(csv_text: str, **changes: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "name": "Опрос после обращения",
        "kind": "survey",
        "channels": ["telegram"],
        "start": now.isoformat(),
        "end": (now + timedelta(days=3)).isoformat(),
        "audience": {"type": "csv", "csv": csv_text},
    } | changes


async def test_a_csv_with_bad_rows_imports_nothing_and_names_each_bad_row(supervisor: Operator) -> None:
    status, body = await call(
        supervisor, "POST", "/api/supervisor/campaigns", campaign_body("customer_id\ndemo-ivan\nnobody\ndemo-ivan\n")
    )
    assert status == 400 and body["code"] == "bad_csv"
    assert body["rows"] == [
        {"row": 3, "value": "nobody", "reason": "unknown customer"},
        {"row": 4, "value": "demo-ivan", "reason": "duplicate"},
    ]
    status, listed = await call(supervisor, "GET", "/api/supervisor/campaigns")
    assert status == 200 and listed["campaigns"] == []


async def test_a_supervisor_previews_forecasts_schedules_pauses_and_cancels_a_survey(
    supervisor: Operator, bank_db: Database, pg: tuple[store.Pool, str]
) -> None:
    await link_telegram(bank_db, "demo-ivan", IVAN_CHAT)
    status, created = await call(
        supervisor, "POST", "/api/supervisor/campaigns", campaign_body("demo-ivan;\ndemo-anna;\ndemo-john;\n")
    )
    assert status == 201, created
    assert created["state"] == "draft" and created["audience"] == {"type": "csv", "customer_ids": 3}
    base = f"/api/supervisor/campaigns/{created['id']}"

    status, preview = await call(supervisor, "GET", base + "/preview?customer_id=demo-john")
    assert status == 200
    assert preview["messages"]["en"] == "John, please rate our service from 1 to 5."
    assert preview["messages"]["ru"].startswith("John, оцените")
    assert preview["buttons"]["ru"][:5] == ["1", "2", "3", "4", "5"]

    status, forecast = await call(supervisor, "GET", base + "/forecast")
    assert forecast["audience"] == 3 and forecast["by_reason"] == {"no_channel": 2}

    status, edited = await call(supervisor, "PATCH", base, {"name": "Опрос: декабрь"})
    assert status == 200 and edited["name"] == "Опрос: декабрь"
    status, scheduled = await call(supervisor, "POST", base + "/schedule")
    assert status == 200 and scheduled["state"] in ("running", "scheduled")
    assert scheduled["counts"]["queued"] == 1 and scheduled["counts"]["suppressed"] == 2
    status, refused = await call(supervisor, "PATCH", base, {"name": "x"})
    assert status == 409 and refused["code"] == "bad_state"

    status, paused = await call(supervisor, "POST", base + "/pause")
    assert paused["state"] == "paused"
    status, resumed = await call(supervisor, "POST", base + "/resume")
    assert resumed["state"] == "running"
    status, cancelled = await call(supervisor, "POST", base + "/cancel")
    assert cancelled["state"] == "cancelled" and cancelled["counts"]["cancelled"] == 1
    status, again = await call(supervisor, "POST", base + "/resume")
    assert status == 409 and again["state"] == "cancelled"

    status, exported = await call(supervisor, "GET", base + "/export.csv")
    assert status == 200 and exported.splitlines()[0].startswith("attempt_id,customer_id,channel,state,reason")
    assert sum("no_channel" in line for line in exported.splitlines()) == 2


async def test_a_fraud_alert_answered_no_blocks_the_card_and_brings_in_the_fraud_team(
    gateway: TestClient[web.Request, web.Application],
    pg: tuple[store.Pool, str],
    bank_db: Database,
    telegram: tuple[TelegramStandIn, str],
) -> None:
    api, api_url = telegram
    pool, url = pg
    await link_telegram(bank_db, "demo-ivan", IVAN_CHAT)
    alert = {
        "notice_id": "fraud-829173",
        "kind": "fraud_alert",
        "customer_id": "demo-ivan",
        "data": {"card_last4": "5678", "amount": "12990.00", "merchant": "ALIEXPRESS"},
    }
    resp = await gateway.post("/api/notices", json=alert, headers=API_KEY)
    assert resp.status == 202, await resp.text()
    queued = await resp.json()
    assert queued["channel"] == "telegram" and queued["state"] == "queued"
    repeat = await gateway.post("/api/notices", json=alert, headers=API_KEY)
    assert repeat.status == 200 and (await repeat.json())["attempt_id"] == queued["attempt_id"]
    assert (await gateway.post("/api/notices", json=alert)).status == 401

    async with Workers(url, pool, bank_db, api_url, None, clock=lambda: datetime.now(UTC)) as workers:
        await workers.run_until_idle()
    [message] = api.sent(IVAN_CHAT)
    assert (
        "•••• 5678" in message["text"]
        and "12\u00a0990,00\u00a0₽" in message["text"]
        and "ALIEXPRESS" in message["text"]
    )
    no_button = message["reply_markup"]["inline_keyboard"][1][0]
    assert no_button["text"] == "Нет, это не я"

    before = len(api.sent(IVAN_CHAT))
    update = Updates().callback(IVAN_CHAT, no_button["callback_data"])
    hook = await gateway.post("/telegram/webhook", json=update, headers={SECRET_HEADER: TELEGRAM_SECRET})
    assert hook.status == 200
    await api.wait_for(lambda: len(api.sent(IVAN_CHAT)) >= before + 2)
    blocked_text = api.sent(IVAN_CHAT)[before]["text"]
    assert blocked_text.startswith("Карта •••• 5678 заблокирована")

    card = await bank_db.bank_cards.find_one({"customer_id": "demo-ivan", "last4": "5678"})
    assert card is not None and card["status"] == CardStatus.BLOCKED.value and card["blocked_by"] == "bot"
    [audit] = [r async for r in bank_db.audit_log.find({"action": "card.block", "card_last4": "5678"})]
    assert audit["actor"] == "bot" and audit["channel"] == "telegram"
    conversation = await bank_db.conversations.find_one({"channel_user_id": str(IVAN_CHAT)})
    assert conversation is not None and conversation["state"] == "queued" and conversation["team"] == "fraud"
    assert conversation["handoff"]["context"]["fraud_alert"]["card_last4"] == "5678"

    status = await (await gateway.get("/api/notices/fraud-829173", headers=API_KEY)).json()
    assert status["answer"] == "no" and status["card_blocked"] and status["handed_off"]
    assert status["state"] == "replied"


async def test_outbound_routes_say_what_to_set_when_outbound_is_off(
    aiohttp_client: Any, bank_db: Database, outbound_stack: OutboundStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OUTBOUND_DATABASE_URL", raising=False)
    settings = channel_settings(outbound_stack.mongodb_uri, "http://127.0.0.1:9", mongodb_db=bank_db.name)
    client = await aiohttp_client(create_app(settings))
    resp = await client.post("/api/notices", json={}, headers=API_KEY)
    assert resp.status == 503
    assert await resp.json() == {
        "error": "Outbound is not configured: set OUTBOUND_DATABASE_URL.",
        "code": "outbound_off",
    }


async def test_ivan_asks_how_much_then_says_stop_and_the_next_reminder_is_suppressed(
    gateway: TestClient[web.Request, web.Application],
    pg: tuple[store.Pool, str],
    bank_db: Database,
    telegram: tuple[TelegramStandIn, str],
    supervisor: Operator,
) -> None:
    api, api_url = telegram
    pool, url = pg
    await link_telegram(bank_db, "demo-ivan", IVAN_CHAT)
    await link_telegram(bank_db, "demo-john", JOHN_CHAT)
    now = datetime.now(UTC)
    body = {
        "name": "Платежи по кредитам",
        "kind": "payment_reminder",
        "channels": ["telegram"],
        "start": now.isoformat(),
        "end": (now + timedelta(days=10)).isoformat(),
        "audience": {"type": "due_in_days", "days": 3, "products": ["loan"]},
    }
    status, created = await call(supervisor, "POST", "/api/supervisor/campaigns", body)
    assert status == 201, created
    status, forecast = await call(supervisor, "GET", f"/api/supervisor/campaigns/{created['id']}/forecast")
    assert forecast["audience"] == 2, "Ivan's and John's loans fall due within the campaign's days + 3"
    # Whatever the hour of the test run, the rules must let this go now: a window-free campaign is not
    # what is tested here, so Ivan's reminder is delivered by a worker whose clock says Tuesday noon.
    status, _ = await call(supervisor, "POST", f"/api/supervisor/campaigns/{created['id']}/schedule")
    assert status == 200
    noon = datetime.combine(now.date(), datetime.min.time(), UTC).replace(hour=9)
    async with store.customer_lock(pool, "demo-ivan") as conn:
        await conn.execute("UPDATE outbound_attempts SET earliest_at = %s", (noon - timedelta(days=1),))
    planned, _ = await store.list_attempts(pool, campaign_id=created["id"])
    async with Workers(
        url, pool, bank_db, api_url, None, clock=lambda: noon - timedelta(days=1) + timedelta(hours=3)
    ) as w:
        # Planned at the real hour, their jobs may wait for tomorrow's window: due now on the worker's clock.
        await w.defer_many([(a.id, noon - timedelta(days=1)) for a in planned])
        await w.run_until_idle()
    [reminder] = api.sent(IVAN_CHAT)
    assert "Потребительский кредит" in reminder["text"] and "₽" not in reminder["text"]

    updates = Updates()

    async def ivan_says(text: str) -> str:
        before = len(api.sent(IVAN_CHAT))
        resp = await gateway.post(
            "/telegram/webhook", json=updates.message(IVAN_CHAT, text), headers={SECRET_HEADER: TELEGRAM_SECRET}
        )
        assert resp.status == 200
        await api.wait_for(lambda: len(api.sent(IVAN_CHAT)) > before)
        return str(api.sent(IVAN_CHAT)[-1]["text"])

    answer = await ivan_says("сколько и до какого числа?")
    assert "12\u00a0450,00\u00a0₽" in answer and "Потребительский кредит" in answer, "his linked chat is verified"
    assert (await ivan_says("не присылайте мне больше")).startswith("Больше не будем присылать напоминания")
    prefs = await bank_db.bank_contact_preferences.find_one({"_id": "demo-ivan"})
    assert prefs is not None and prefs["opted_out"] is True

    body["name"] = "Ещё одно напоминание"
    status, second = await call(supervisor, "POST", "/api/supervisor/campaigns", body)
    status, forecast = await call(supervisor, "GET", f"/api/supervisor/campaigns/{second['id']}/forecast")
    assert forecast["by_reason"].get("opted_out") == 1

    status, marked = await call(
        supervisor, "PUT", "/api/outbound/customers/demo-john/preferences", {"do_not_contact": True}
    )
    assert status == 200 and marked == {"customer_id": "demo-john", "opted_out": False, "do_not_contact": True}
    status, forecast = await call(supervisor, "GET", f"/api/supervisor/campaigns/{second['id']}/forecast")
    assert forecast["by_reason"] == {"do_not_contact": 1, "opted_out": 1}

    # The bank's core system reports Ivan's payment: the reminder counts as paid after it was sent.
    paid = {
        "notice_id": "paid-demo-ivan-loan-1",
        "kind": "payment_received",
        "customer_id": "demo-ivan",
        "data": {"amount": "12450.00", "payment_id": "demo-ivan-loan-1"},
    }
    assert (await gateway.post("/api/notices", json=paid, headers=API_KEY)).status == 202
    status, results = await call(supervisor, "GET", f"/api/supervisor/campaigns/{created['id']}/results")
    assert results["counts"]["paid_after_reminder"] == 1 and results["counts"]["sent_total"] == 2
