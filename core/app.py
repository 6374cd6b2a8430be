"""The gateway's app factory: wires settings, storage, the bot client, the router and the channels."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
from aiohttp import web

from connectors.rest import RestChannel
from connectors.telegram import setup_telegram
from connectors.voice.intents import RasaIntentParser
from connectors.voice.setup import setup_voice
from connectors.webchat import WebChatChannel
from core import db as core_db
from core import home, pg_indexes, readiness
from core.banking import create_banking_backend
from core.demo_data import seed_demo_bank
from core.keys import BUS_KEY, DB_KEY, DELIVERY_KEY, HTTP_SESSION_KEY, MONGO_CLIENT_KEY, ROUTER_KEY, SETTINGS_KEY
from core.metrics_http import setup_metrics
from core.middlewares import setup_middlewares
from core.openapi import setup_openapi
from core.production import refuse_unsafe_production
from core.settings import Settings, SettingsError
from handoff import conversations, transcript
from handoff.bot import RasaBot
from handoff.bot_pool import BotPool
from handoff.callbacks import registered_phones
from handoff.delivery import DeliveryRegistry
from handoff.router import Router
from handoff.setup import bus_context, setup_handoff, working_hours
from knowledge_base.setup import setup_knowledge_base
from outbound.http import OUTBOUND_KEY, setup_outbound
from outbound.replies import OutboundReplies

STATIC_DIR = Path(__file__).parent / "static"


async def mongo_context(app: web.Application) -> AsyncIterator[None]:
    """Own the MongoDB client for the app's lifetime and prepare indexes and demo data."""
    settings = app[SETTINGS_KEY]
    client = core_db.connect(settings)
    app[MONGO_CLIENT_KEY] = client
    db = core_db.database(client, settings)
    app[DB_KEY] = db
    try:
        await refuse_unsafe_production(settings, db)  # before anything is seeded or served
    except SettingsError:
        await client.close()
        raise
    await conversations.ensure_indexes(db)
    await transcript.ensure_indexes(db)
    if settings.banking_backend == "demo":
        await seed_demo_bank(db)
    create_banking_backend(settings, db)  # fail at start, not at the first customer, on a bad backend name
    yield
    await client.close()


async def router_context(app: web.Application) -> AsyncIterator[None]:
    """Own the HTTP session to Rasa and build the router on it."""
    settings = app[SETTINGS_KEY]
    session = aiohttp.ClientSession()
    app[HTTP_SESSION_KEY] = session
    bot = BotPool(
        [
            RasaBot(session, url, settings.rasa_token, settings.bot_timeout_seconds, settings.identity_signing_secret)
            for url in settings.rasa_urls or (settings.rasa_url,)
        ],
        concurrency=settings.bot_concurrency,
        busy_notice_seconds=settings.bot_busy_notice_seconds,
        queue_timeout_seconds=settings.bot_queue_timeout_seconds,
        down_after_seconds=settings.bot_timeout_seconds,
    )
    app[ROUTER_KEY] = Router(
        db=app[DB_KEY],
        bot=bot,
        max_message_chars=settings.max_message_chars,
        bus=app[BUS_KEY],
        delivery=app[DELIVERY_KEY],
        hours=working_hours(settings),
        phones=registered_phones(create_banking_backend(settings, app[DB_KEY])),
        outbound_replies=OutboundReplies(
            lambda: app[OUTBOUND_KEY].pool,
            create_banking_backend(settings, app[DB_KEY]),
            RasaIntentParser(session, settings.rasa_url, settings.rasa_token),
        ),
    )
    yield
    await session.close()


async def postgres_indexes(app: web.Application) -> AsyncIterator[None]:
    """GIN twins of the declared indexes, which FerretDB's PostgreSQL filters can use (core/pg_indexes.py).

    Once at start, after every package declared its indexes, then every few
    minutes for collections that a first insert created since.
    """
    settings = app[SETTINGS_KEY]
    if not settings.ferretdb_postgres_url:
        yield
        return
    await pg_indexes.ensure_gin_indexes(settings.ferretdb_postgres_url, settings.mongodb_db)
    task = asyncio.create_task(pg_indexes.keep_gin_indexes(settings.ferretdb_postgres_url, settings.mongodb_db))
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def setup_routes(app: web.Application) -> None:
    """Every route of the gateway, named."""
    # /health stays for existing probes; /healthz and /readyz are the names load balancers expect.
    app.router.add_get("/health", readiness.healthz, name="health")
    app.router.add_get("/healthz", readiness.healthz, name="healthz")
    app.router.add_get("/readyz", readiness.readyz, name="readyz")
    # Scripts every staff page shares (the UI-language switch of the editor, console and supervisor page).
    app.router.add_static("/static", STATIC_DIR, name="static")
    RestChannel().register(app, "/api/channels/rest/messages")
    setup_telegram(app, "/telegram/webhook")
    setup_voice(app, "/voice/twiml")
    WebChatChannel().register(app, "/chat")
    home.setup_routes(app)
    setup_openapi(app)


def create_app(settings: Settings) -> web.Application:
    """Build the gateway application; it only wires things up."""
    app = web.Application(client_max_size=256 * 1024)
    app[SETTINGS_KEY] = settings
    app[DELIVERY_KEY] = DeliveryRegistry()
    app.cleanup_ctx.append(mongo_context)
    app.cleanup_ctx.append(bus_context)
    app.cleanup_ctx.append(router_context)
    setup_handoff(app)
    setup_knowledge_base(app)
    setup_outbound(app)
    setup_routes(app)
    setup_middlewares(app)
    setup_metrics(app)
    # Last, so it runs after every context that declares indexes (mongo, handoff, knowledge base).
    app.cleanup_ctx.append(postgres_indexes)
    return app
