"""Delivering outbound contacts: planned by a campaign, sent by procrastinate workers through the Telegram client.

Real PostgreSQL (attempts and the procrastinate queue), FerretDB (bank, conversations), Redis
(shared send rate) and aiogram's Bot API client; Telegram itself is the local Bot API stand-in
(tests/channel_support.py), which records each request and answers as api.telegram.org does,
including 403 "bot was blocked by the user" and 429 flood control.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from redis.asyncio import Redis

from connectors.telegram_outbound import TelegramSender, create_outbound_bot
from core.db import Database
from handoff import transcript
from outbound import campaigns, notices, store
from outbound.delivery import SENDING_LEASE, Deliverer, reap
from outbound.limits import SharedRateLimit
from outbound.models import AttemptState, Campaign, CampaignState, Channel
from outbound.queue import create_queue_app, defer_deliveries, ensure_queue_schema
from outbound.senders import FinalFailure, OutboundMessage, SendResult, Sent
from outbound.worker import register_tasks

from .channel_support import BOT_TOKEN, ApiCall, FakeBotApi
from .outbound_support import NOON, OutboundStack, backend, bank_db, link_telegram, outbound_stack, pg

__all__ = ["bank_db", "outbound_stack", "pg"]

IVAN_CHAT, ANNA_CHAT, JOHN_CHAT = 700_001, 700_002, 700_003


class TelegramStandIn(FakeBotApi):
    """The Bot API stand-in, plus chats whose user blocked the bot (Telegram answers 403)."""

    def __init__(self) -> None:
        super().__init__()
        self.blocked: set[int] = set()

    async def handle(self, request: web.Request) -> web.Response:
        if request.match_info["method"].lower() == "sendmessage":
            form = await request.post()
            if int(str(form["chat_id"])) in self.blocked:
                self.calls.append(ApiCall("sendMessage:403", dict(form)))
                return web.json_response(
                    {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"},
                    status=403,
                )
        return await super().handle(request)


@pytest.fixture
async def telegram() -> AsyncIterator[tuple[TelegramStandIn, str]]:
    api = TelegramStandIn()
    url = await api.start()
    yield api, url
    await api.close()


async def reminder_campaign(pool: store.Pool, bank: Database, customers: Sequence[str], **changes: Any) -> Campaign:
    body = {
        "name": "Декабрьские платежи",
        "kind": "payment_reminder",
        "channels": ["telegram"],
        "start": NOON.isoformat(),
        "end": (NOON + timedelta(days=5)).isoformat(),
        "audience": {"type": "csv", "csv": "customer_id\n" + "\n".join(customers)},
    } | changes
    campaign = await campaigns.campaign_from_body(
        body, backend(bank), base=None, campaign_id=store.new_id("cmp"), actor="super1", now=NOON
    )
    await store.insert_campaign(pool, campaign)
    return campaign


class Workers:
    """Procrastinate workers in this process, each with its own Deliverer, on the real queue."""

    def __init__(
        self,
        url: str,
        pool: store.Pool,
        bank: Database,
        telegram_url: str,
        redis: Redis | None,
        clock: Callable[[], datetime] = lambda: NOON,
        *,
        reaper: bool = True,
    ) -> None:
        self.url, self.pool, self.bank, self.telegram_url, self.redis = url, pool, bank, telegram_url, redis
        self.clock = clock
        self.reaper = reaper
        self.queue = create_queue_app(url)
        self.deliverer: Deliverer | None = None

    async def __aenter__(self) -> Workers:
        await self.queue.open_async()
        await ensure_queue_schema(self.queue)
        limit = SharedRateLimit(self.redis, "telegram", 25) if self.redis else None
        sender = TelegramSender(create_outbound_bot(BOT_TOKEN, self.telegram_url), limit)

        async def defer(attempt_id: str, at: datetime) -> None:
            await defer_deliveries(self.queue, [(attempt_id, at)])

        self.deliverer = Deliverer(
            self.pool, self.bank, backend(self.bank), {Channel.TELEGRAM: sender}, defer, clock=self.clock
        )
        register_tasks(self.queue, self.pool, self.deliverer, reaper=self.reaper)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.deliverer is not None
        await self.deliverer.senders[Channel.TELEGRAM].close()  # type: ignore[attr-defined]
        await self.queue.close_async()

    async def run_until_idle(self) -> None:
        """Work the queue until no job is left that is due now."""
        await self.queue.run_worker_async(queues=["outbound"], concurrency=4, wait=False, install_signal_handlers=False)

    async def defer_many(self, attempts: Sequence[tuple[str, datetime]]) -> None:
        await defer_deliveries(self.queue, attempts)


async def test_a_reminder_campaign_reaches_ivan_in_telegram_with_its_buttons_and_without_the_amount(
    pg: tuple[store.Pool, str], bank_db: Database, telegram: tuple[TelegramStandIn, str], outbound_stack: OutboundStack
) -> None:
    pool, url = pg
    api, api_url = telegram
    await link_telegram(bank_db, "demo-ivan", IVAN_CHAT)
    await link_telegram(bank_db, "demo-john", JOHN_CHAT)
    redis = Redis.from_url(outbound_stack.redis_url)
    campaign = await reminder_campaign(pool, bank_db, ["demo-ivan", "demo-anna", "demo-john"])
    async with Workers(url, pool, bank_db, api_url, redis) as workers:
        scheduled, plan = await campaigns.schedule(pool, bank_db, backend(bank_db), campaign, workers.defer_many, NOON)
        assert scheduled.state is CampaignState.RUNNING
        assert plan.summary() == {
            "audience": 3,
            "today": 2,
            "later": 0,
            "suppressed": 1,
            "by_reason": {"no_channel": 1},
        }, "Anna has not linked Telegram and the campaign has no other channel"
        await workers.run_until_idle()
    await redis.aclose()

    [to_ivan] = api.sent(IVAN_CHAT)
    assert to_ivan["text"].startswith("Иван, напоминаем")
    assert "₽" not in to_ivan["text"], "no amount of a debt in a written message"
    titles = [row[0]["text"] for row in to_ivan["reply_markup"]["inline_keyboard"]]
    assert titles == ["Уже оплатил", "Напомнить завтра", "Связаться с оператором", "Не присылать"]
    [to_john] = api.sent(JOHN_CHAT)
    assert to_john["text"].startswith("John, a reminder")
    assert to_john["reply_markup"]["inline_keyboard"][0][0]["text"] == "Already paid"

    attempts, total = await store.list_attempts(pool, campaign_id=campaign.id)
    assert total == 3
    by_customer = {a.customer_id: a for a in attempts}
    assert by_customer["demo-ivan"].state is AttemptState.SENT
    assert by_customer["demo-anna"].state is AttemptState.SUPPRESSED
    ivan_turns = await transcript.all_messages(bank_db, str(by_customer["demo-ivan"].conversation_id))
    assert ivan_turns[-1]["direction"] == "outbound"
    assert ivan_turns[-1]["outbound"]["campaign_id"] == campaign.id


async def test_a_customer_who_blocked_the_bot_is_a_final_failure_and_flood_control_is_retried_later(
    pg: tuple[store.Pool, str], bank_db: Database, telegram: tuple[TelegramStandIn, str]
) -> None:
    pool, url = pg
    api, api_url = telegram
    api.blocked.add(IVAN_CHAT)
    api.flood_answers = 1  # John's message meets a 429 first
    await link_telegram(bank_db, "demo-ivan", IVAN_CHAT)
    await link_telegram(bank_db, "demo-john", JOHN_CHAT)
    campaign = await reminder_campaign(pool, bank_db, ["demo-ivan", "demo-john"])
    async with Workers(url, pool, bank_db, api_url, None) as workers:
        await campaigns.schedule(pool, bank_db, backend(bank_db), campaign, workers.defer_many, NOON)
        await workers.run_until_idle()
    by_customer = {a.customer_id: a for a in (await store.list_attempts(pool, campaign_id=campaign.id))[0]}
    assert by_customer["demo-ivan"].state is AttemptState.FAILED
    assert "blocked" in str(by_customer["demo-ivan"].error)
    john = by_customer["demo-john"]
    assert john.state is AttemptState.QUEUED, "flood control is temporary: queued again"
    assert john.earliest_at > NOON and "flood control" in str(john.error)


class SlowSender:
    """A channel that takes a moment, and counts what it was asked to send."""

    channel = Channel.TELEGRAM

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def reserve(self, address: str) -> None:
        return None

    async def send(self, message: OutboundMessage) -> SendResult:
        self.sent.append(message.attempt_id)
        await asyncio.sleep(0.05)
        return Sent(provider_id=f"p-{len(self.sent)}")


async def test_two_workers_given_the_same_attempts_at_once_send_each_exactly_once(
    pg: tuple[store.Pool, str], bank_db: Database
) -> None:
    pool, _ = pg
    await link_telegram(bank_db, "demo-ivan", IVAN_CHAT)
    await link_telegram(bank_db, "demo-john", JOHN_CHAT)
    campaign = await reminder_campaign(pool, bank_db, ["demo-ivan", "demo-john"])

    async def nothing(*_: object) -> None:
        return None

    await campaigns.schedule(pool, bank_db, backend(bank_db), campaign, nothing, NOON)
    sender = SlowSender()
    workers = [
        Deliverer(pool, bank_db, backend(bank_db), {Channel.TELEGRAM: sender}, nothing, clock=lambda: NOON, worker=w)
        for w in ("w1", "w2", "w3")
    ]
    ids = [a.id for a in (await store.list_attempts(pool, campaign_id=campaign.id))[0]]
    await asyncio.gather(*(w.deliver(i) for w in workers for i in ids))
    assert sorted(sender.sent) == sorted(ids)
    assert {a.state for a in (await store.list_attempts(pool, campaign_id=campaign.id))[0]} == {AttemptState.SENT}


async def test_an_attempt_whose_worker_died_mid_send_is_left_unknown_for_review_and_never_resent(
    pg: tuple[store.Pool, str], bank_db: Database
) -> None:
    pool, _ = pg
    await link_telegram(bank_db, "demo-ivan", IVAN_CHAT)
    campaign = await reminder_campaign(pool, bank_db, ["demo-ivan"])
    deferred: list[tuple[str, datetime]] = []

    async def remember(attempts: Sequence[tuple[str, datetime]]) -> None:
        deferred.extend(attempts)

    await campaigns.schedule(pool, bank_db, backend(bank_db), campaign, remember, NOON)
    [(attempt_id, _)] = deferred
    async with store.customer_lock(pool, "demo-ivan") as conn:
        assert await store.claim(conn, attempt_id, "killed-worker", NOON)  # ...and the process dies here

    async def defer(attempt_id: str, at: datetime) -> None:
        deferred.append((attempt_id, at))

    assert await reap(pool, NOON + SENDING_LEASE / 2, defer) == (0, 0), "within the lease it may still be sending"
    assert await reap(pool, NOON + SENDING_LEASE + timedelta(seconds=1), defer) == (1, 0)
    sender = SlowSender()
    again = Deliverer(pool, bank_db, backend(bank_db), {Channel.TELEGRAM: sender}, defer, clock=lambda: NOON)
    assert await again.deliver(attempt_id) is None
    assert sender.sent == []
    [unknown], _ = await store.list_attempts(pool, states=[AttemptState.UNKNOWN])
    assert unknown.id == attempt_id and "between sending and recording" in str(unknown.error)


async def test_a_campaign_finishes_once_nothing_is_left_to_send(pg: tuple[store.Pool, str], bank_db: Database) -> None:
    pool, _ = pg
    await link_telegram(bank_db, "demo-ivan", IVAN_CHAT)
    campaign = await reminder_campaign(pool, bank_db, ["demo-ivan"])

    async def nothing(*_: object) -> None:
        return None

    await campaigns.schedule(pool, bank_db, backend(bank_db), campaign, nothing, NOON)
    assert await store.advance_campaigns(pool, NOON) == (0, 0), "Ivan's reminder is still queued"
    deliverer = Deliverer(
        pool, bank_db, backend(bank_db), {Channel.TELEGRAM: SlowSender()}, nothing, clock=lambda: NOON
    )
    [attempt], _ = await store.list_attempts(pool, campaign_id=campaign.id)
    assert await deliverer.deliver(attempt.id) is AttemptState.SENT
    assert await store.advance_campaigns(pool, NOON) == (0, 1)
    finished = await store.get_campaign(pool, campaign.id)
    assert finished is not None and finished.state is CampaignState.FINISHED


class BlockedChat:
    """Telegram's answer for a customer who blocked the bot, as the sender reports it."""

    channel = Channel.TELEGRAM

    async def reserve(self, address: str) -> None:
        return None

    async def send(self, message: OutboundMessage) -> SendResult:
        return FinalFailure("blocked: Forbidden: bot was blocked by the user")


async def test_a_fraud_alert_to_a_customer_who_blocked_the_bot_falls_back_to_sms(
    pg: tuple[store.Pool, str], bank_db: Database
) -> None:
    pool, _ = pg
    await link_telegram(bank_db, "demo-ivan", IVAN_CHAT)
    body: dict[str, Any] = {
        "notice_id": "n-1",
        "kind": "fraud_alert",
        "customer_id": "demo-ivan",
        "data": {"card_last4": "5678", "amount": "990.00", "merchant": "SHOP"},
    }
    alert, _ = await notices.create(pool, bank_db, backend(bank_db), "bank-core", body, NOON)
    assert alert.channel is Channel.TELEGRAM
    deferred: list[str] = []

    async def defer(attempt_id: str, _at: datetime) -> None:
        deferred.append(attempt_id)

    sms = SlowSender()
    deliverer = Deliverer(
        pool, bank_db, backend(bank_db), {Channel.TELEGRAM: BlockedChat(), Channel.SMS: sms}, defer, clock=lambda: NOON
    )
    assert await deliverer.deliver(alert.id) is AttemptState.FAILED
    [follow_up] = deferred
    assert await deliverer.deliver(follow_up) is AttemptState.SENT
    assert sms.sent == [follow_up]
    by_sms = await store.get_attempt(pool, follow_up)
    assert by_sms is not None and by_sms.channel is Channel.SMS and by_sms.data["fallback_of"] == alert.id
