"""An outbound worker process: `python -m outbound.worker` (run as many as needed, on any machine).

It runs procrastinate's worker on the outbound queue: each job delivers one attempt
(outbound/delivery.py), and a job every minute reaps attempts whose worker died mid-send.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

import procrastinate
from redis.asyncio import Redis

from connectors.asterisk_outbound import AmiConfig, AsteriskCallSender
from connectors.telegram_outbound import TelegramSender, create_outbound_bot
from connectors.twilio_outbound import CallSender, SmsSender, twilio_client
from core import db as core_db
from core.banking import create_banking_backend
from core.log import setup_logging
from core.settings import Settings
from outbound import store
from outbound.config import OutboundSettings
from outbound.delivery import Deliverer, ensure_indexes, reap
from outbound.limits import LocalRateLimit, SharedRateLimit, SharedSlots
from outbound.models import Channel
from outbound.queue import DELIVER_TASK, QUEUE, REAP_TASK, create_queue_app, defer_delivery, ensure_queue_schema
from outbound.senders import Sender

logger = logging.getLogger(__name__)


@dataclass
class Runtime:
    """What the worker's jobs use, opened once per process."""

    queue: procrastinate.App
    pool: store.Pool
    deliverer: Deliverer


async def senders_from(settings: Settings, outbound: OutboundSettings, redis: Redis | None) -> dict[Channel, Sender]:
    """The channels configured here: Telegram with a bot token, SMS and calls with a Twilio account."""
    senders: dict[Channel, Sender] = {}
    if settings.telegram_bot_token:
        limit: SharedRateLimit | LocalRateLimit = (
            SharedRateLimit(redis, "telegram", outbound.telegram_per_second, per_key_per_second=1)
            if redis is not None
            else LocalRateLimit("telegram", outbound.telegram_per_second, per_key_per_second=1)
        )
        bot = create_outbound_bot(settings.telegram_bot_token, settings.telegram_api_base)
        senders[Channel.TELEGRAM] = TelegramSender(bot, limit)
    if outbound.twilio_account_sid and outbound.twilio_auth_token and outbound.twilio_from_number:
        client = twilio_client(outbound.twilio_account_sid, outbound.twilio_auth_token, outbound.twilio_api_base)
        senders[Channel.SMS] = SmsSender(client, outbound.twilio_from_number)
        slots = SharedSlots(redis, "calls", outbound.max_calls) if redis is not None else None
        senders[Channel.CALL] = CallSender(client, outbound.twilio_from_number, outbound.public_url, slots)
    if outbound.ami_host:
        # Calls through the bank's own Asterisk (AMI Originate into the FastAGI voice session) instead.
        senders[Channel.CALL] = AsteriskCallSender(
            AmiConfig(
                host=outbound.ami_host,
                port=outbound.ami_port,
                username=outbound.ami_username,
                secret=outbound.ami_secret,
                channel=outbound.ami_channel,
                agi_url=outbound.ami_agi_url,
                caller_id=outbound.ami_caller_id,
                context=outbound.ami_context,
            ),
            slots=SharedSlots(redis, "calls", outbound.max_calls) if redis is not None else None,
        )
    return senders


@asynccontextmanager
async def runtime(settings: Settings, outbound: OutboundSettings) -> AsyncIterator[Runtime]:
    """Open the database pools, the queue and the senders; register the tasks."""
    if not outbound.database_url:
        raise SystemExit("OUTBOUND_DATABASE_URL is not set: the outbound worker has no queue to serve")
    pool = await store.open_pool(outbound.database_url)
    await store.ensure_schema(pool)
    queue = create_queue_app(outbound.database_url)
    client = core_db.connect(settings)
    redis = Redis.from_url(outbound.redis_url) if outbound.redis_url else None
    async with queue.open_async():
        await ensure_queue_schema(queue)
        db = core_db.database(client, settings)
        await ensure_indexes(db)
        senders = await senders_from(settings, outbound, redis)

        async def defer(attempt_id: str, at: datetime) -> None:
            await defer_delivery(queue, attempt_id, at)

        deliverer = Deliverer(pool, db, create_banking_backend(settings, db), senders, defer)
        register_tasks(queue, pool, deliverer)
        try:
            yield Runtime(queue, pool, deliverer)
        finally:
            for sender in senders.values():
                close = getattr(sender, "close", None)
                if close is not None:
                    await close()
            if redis is not None:
                await redis.aclose()
            await client.close()
            await pool.close()


def register_tasks(queue: procrastinate.App, pool: store.Pool, deliverer: Deliverer, *, reaper: bool = True) -> None:
    """The delivery job and (unless `reaper` is False: a story that watches a campaign run) the periodic reaper."""

    @queue.task(name=DELIVER_TASK, queue=QUEUE)
    async def deliver(attempt_id: str) -> None:
        await deliverer.deliver(attempt_id)

    async def defer(attempt_id: str, at: datetime) -> None:
        await defer_delivery(queue, attempt_id, at)

    if not reaper:
        return

    @queue.periodic(cron="* * * * *", periodic_id="reap")
    @queue.task(name=REAP_TASK, queue=QUEUE, queueing_lock="outbound-reap")
    async def reap_lost(timestamp: int) -> None:
        unknown, again = await reap(pool, deliverer.clock(), defer)
        if unknown or again:
            logger.warning("Outbound reaper: %s attempts left unknown, %s deferred again", unknown, again)


async def main_async(concurrency: int | None) -> None:
    """Serve the queue until stopped (SIGINT/SIGTERM finish the running jobs first)."""
    settings = Settings.from_env()
    outbound = OutboundSettings.from_env()
    if outbound.worker_nice > 0:
        # A campaign must not slow the conversations customers start: on a shared host the gateway, Rasa
        # and the action server get the CPU first (bench/outbound.py, "inbound while a campaign runs").
        os.nice(outbound.worker_nice)
    async with runtime(settings, outbound) as rt:
        logger.info("Outbound worker serving queue %r", QUEUE)
        await rt.queue.run_worker_async(
            queues=[QUEUE],
            concurrency=concurrency or outbound.worker_concurrency,
            install_signal_handlers=True,
            delete_jobs="successful",
        )


def main() -> None:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--concurrency", type=int, default=None, help="jobs at once (OUTBOUND_WORKER_CONCURRENCY)")
    args = parser.parse_args()
    setup_logging()
    asyncio.run(main_async(args.concurrency))


if __name__ == "__main__":
    main()
