"""Wiring of the handoff side into the gateway: event bus, services, listeners, routes."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import importlib
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from aiohttp import web

from core import staff
from core.banking import create_banking_backend
from core.db import Database
from core.keys import BUS_KEY, DB_KEY, DELIVERY_KEY, HANDOFF_KEY, HTTP_SESSION_KEY, ROUTER_KEY, SETTINGS_KEY
from core.settings import Settings
from core.staff import Role
from handoff import (
    bot_idle,
    canned,
    canned_http,
    console,
    inbox,
    operators,
    priority_migration,
    reporting,
    service_levels,
    snooze,
    supervisor_http,
    surveys,
    triage,
    triage_http,
    verify_limits,
)
from handoff import bus as bus_module
from handoff.assignment import AssignmentService, AutoAssignListener, reconcile_forever
from handoff.bus import EventBus, RedisTransport
from handoff.context import KbSearch, ProfileSource, TrackerClient
from handoff.desk import CustomerNoticeListener, Desk
from handoff.hours import WorkingHours
from handoff.hub import ConsoleHub
from handoff.outbox import DeliveryListener
from handoff.reporting import ReportingListener
from handoff.service_levels import ServiceLevels
from handoff.services import HandoffServices
from handoff.snooze import CustomerReplyWaker

logger = logging.getLogger(__name__)

# Documented demo accounts for local runs (README, "Operator console"); never created elsewhere.
DEMO_STAFF_PASSWORD = "local-dev-staff-password"  # noqa: S105 -- documented local default
_DEMO_OPERATORS: list[dict[str, Any]] = [
    {"login": "olga", "display_name": "Ольга", "languages": ("ru",), "skills": ("cards",), "capacity": 3},
    {"login": "kate", "display_name": "Kate", "languages": ("ru", "en"), "skills": ("cards", "loans"), "capacity": 3},
]
DEMO_SUPERVISOR_LOGIN = "sveta"
# Every demo staff login of the handoff side (the front page lists them in local runs).
DEMO_STAFF_LOGINS: tuple[str, ...] = (*(spec["login"] for spec in _DEMO_OPERATORS), DEMO_SUPERVISOR_LOGIN)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def working_hours(settings: Settings) -> WorkingHours | None:
    """The configured hours, or None when operators work around the clock."""
    hours = WorkingHours.parse(settings.operator_hours, settings.operator_timezone)
    return None if hours.closes is None and hours.opens.hour == 0 and hours.opens.minute == 0 else hours


async def bus_context(app: web.Application) -> AsyncIterator[None]:
    """Own the event bus; over Redis when more than one gateway process is configured."""
    settings = app[SETTINGS_KEY]
    transport = RedisTransport(settings.redis_url) if settings.gateway_processes > 1 else None
    bus = EventBus(app[DB_KEY], transport=transport)
    await bus_module.ensure_indexes(app[DB_KEY])
    await bus.start()
    app[BUS_KEY] = bus
    yield
    await bus.close()


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: _plain(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def banking_profile_source(settings: Settings, db: Database) -> ProfileSource:
    """The customer profile from the bank backend; cards and accounts only by their last four digits."""
    backend = create_banking_backend(settings, db)

    async def profile(customer_id: str) -> dict[str, Any] | None:
        customer = await backend.get_customer(customer_id)
        if customer is None:
            return None
        cards = await backend.list_cards(customer_id)
        accounts = await backend.list_accounts(customer_id)
        return {
            "customer": {"id": customer.customer_id, "full_name": customer.full_name, "language": customer.language},
            "cards": [
                {
                    "card": card.display_name,
                    "product": card.product_name,
                    "kind": card.kind.value,
                    "status": card.status.value,
                    "balance": _plain(card.balance),
                    "credit_limit": _plain(card.credit_limit),
                    "available": _plain(card.available),
                }
                for card in cards
            ],
            "accounts": [
                {"account": account.masked_number, "product": account.product_name, "balance": _plain(account.balance)}
                for account in accounts
            ],
        }

    return profile


def kb_search_source(db: Database) -> KbSearch | None:
    """KB suggestions, when the knowledge base exposes `knowledge_base.suggest(db, text, language)`."""
    try:
        module = importlib.import_module("knowledge_base")
    except ImportError:
        return None
    suggest = getattr(module, "suggest", None)
    if suggest is None:
        return None

    async def search(text: str, language: str) -> list[dict[str, Any]]:
        found = await suggest(db, text, language)
        return [_plain(item) for item in found]

    return search


async def seed_demo_staff(db: Database) -> None:
    """Demo operators and a supervisor (local runs only)."""
    for spec in _DEMO_OPERATORS:
        await staff.ensure_staff(
            db, spec["login"], DEMO_STAFF_PASSWORD, display_name=spec["display_name"], roles=(Role.OPERATOR,)
        )
        if await operators.get_operator(db, spec["login"]) is None:
            await operators.save_operator(
                db,
                spec["login"],
                display_name=spec["display_name"],
                languages=spec["languages"],
                skills=spec["skills"],
                capacity=spec["capacity"],
            )
    await staff.ensure_staff(
        db, "sveta", DEMO_STAFF_PASSWORD, display_name="Светлана", roles=(Role.SUPERVISOR, Role.OPERATOR)
    )
    if await operators.get_operator(db, "sveta") is None:
        await operators.save_operator(db, "sveta", display_name="Светлана", languages=("ru", "en"), skills=("cards",))


async def handoff_context(app: web.Application) -> AsyncIterator[None]:
    """Build the assignment service, the operator desk and the console hub, and subscribe the listeners."""
    settings, db, bus = app[SETTINGS_KEY], app[DB_KEY], app[BUS_KEY]
    await operators.ensure_indexes(db)
    await reporting.ensure_indexes(db)
    await surveys.ensure_indexes(db)
    await surveys.migrate_old_ratings(db, now=_utcnow())
    await staff.ensure_indexes(db)
    await inbox.ensure_indexes(db)
    await verify_limits.ensure_indexes(db)
    await canned.seed_defaults(db)
    if settings.demo_staff:
        await seed_demo_staff(db)
    for login, unknown in (await operators.operators_with_unknown_skills(db)).items():
        # Routing never sends them work for these; the supervisor fixes the profile or the team list.
        logger.error("Operator %s has skills that name no configured team: %s", login, ", ".join(unknown))
    router = app[ROUTER_KEY]
    levels = ServiceLevels.configured(settings.operator_hours, settings.operator_timezone)
    assignment = AssignmentService(db, bus, _utcnow, auto_assign=settings.handoff_auto_assign)
    hub = ConsoleHub(db)
    services = HandoffServices(
        bus=bus,
        assignment=assignment,
        desk=Desk(db, bus, assignment, router.bot, _utcnow),
        hub=hub,
        tracker_client=TrackerClient(app[HTTP_SESSION_KEY], settings.rasa_url, settings.rasa_token),
        profile_source=banking_profile_source(settings, db),
        kb_search=kb_search_source(db),
        clock=_utcnow,
        levels=levels,
    )
    # Local-only listeners act once, where the event happened; the others run in every process.
    bus.subscribe(AutoAssignListener(assignment), local_only=True)
    bus.subscribe(CustomerNoticeListener(db, bus, _utcnow), local_only=True)
    bus.subscribe(ReportingListener(db), local_only=True)
    bus.subscribe(DeliveryListener(db, app[DELIVERY_KEY]))
    bus.subscribe(hub)
    bus.subscribe(CustomerReplyWaker(db, bus), local_only=True)
    await triage.ensure_indexes(db)
    triage.reason_priorities()  # a malformed PRIORITY_BY_REASON stops the start, not the first handoff
    bot_idle.idle_after()  # so does a malformed BOT_IDLE_CLOSE_HOURS
    # Conversations stored with the old two-rank priorities read right (handoff/priority_migration.py).
    await priority_migration.migrate_priorities(db)
    app[HANDOFF_KEY] = services
    # Frees operator capacity that a failure left held for no conversation (handoff/assignment.py).
    reconciler = asyncio.create_task(reconcile_forever(assignment))
    # Snoozed conversations come back at their time; missed service-level targets are announced once.
    background = [
        asyncio.create_task(snooze.wake_forever(db, bus, _utcnow)),
        asyncio.create_task(service_levels.watch_forever(db, bus, levels, _utcnow)),
        # Bot-only conversations idle for BOT_IDLE_CLOSE_HOURS close by themselves.
        asyncio.create_task(bot_idle.close_idle_forever(db, bus, _utcnow)),
    ]
    yield
    reconciler.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await reconciler
    for task in background:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def close_consoles(app: web.Application) -> None:
    """Close console websockets on shutdown so requests can drain."""
    if HANDOFF_KEY in app:
        await app[HANDOFF_KEY].hub.close_all()


def setup_handoff(app: web.Application) -> None:
    """Add the handoff's cleanup contexts (after the router's), its shutdown hook and routes."""
    app.cleanup_ctx.append(handoff_context)
    app.on_shutdown.append(close_consoles)
    console.setup_routes(app)
    triage_http.setup_routes(app)
    canned_http.setup_routes(app)
    supervisor_http.setup_routes(app)
