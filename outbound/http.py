"""The outbound HTTP API (docs/outbound-api.md): campaigns for supervisors, single notices for integrations.

The gateway opens the outbound database and the job queue (to defer deliveries; workers run
elsewhere). Without OUTBOUND_DATABASE_URL every route answers 503 with what to set.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import procrastinate
from aiohttp import web
from redis.asyncio import Redis

from connectors.rest import integration_of, presented_key
from connectors.twilio_outbound import TwilioWebhooks
from core import staff_http
from core.banking import BankingBackend, create_banking_backend
from core.keys import BUS_KEY, DB_KEY, SETTINGS_KEY
from core.staff import Role
from outbound import campaigns, notices, store
from outbound.config import OutboundSettings
from outbound.delivery import call_ended, facts_of
from outbound.delivery import ensure_indexes as ensure_mongo_indexes
from outbound.limits import SharedRateLimit, SharedSlots
from outbound.messages import DEFAULT_TEMPLATES, LANGUAGES, VARIABLES, buttons_for, render, template_for
from outbound.models import Attempt, AttemptState, Campaign, CampaignState, Channel, Kind
from outbound.planner import plan_campaign, targets_of
from outbound.queue import create_queue_app, defer_deliveries, ensure_queue_schema
from outbound.replies import SurveyAnswers
from outbound.rules import DEFAULT_POLICIES

_MAX_PAGE = 500


@dataclass
class Outbound:
    """The gateway's outbound side: the attempts' database and the queue it defers jobs to."""

    settings: OutboundSettings
    pool: store.Pool | None = None
    queue: procrastinate.App | None = None
    clock: Any = field(default=lambda: datetime.now(UTC))
    # The outbound calls' shared line count (released when a call ends); None without Redis.
    slots: SharedSlots | None = None
    redis: Redis | None = None

    async def defer_many(self, attempts: Sequence[tuple[str, datetime]]) -> None:
        """Queue delivery jobs."""
        assert self.queue is not None  # noqa: S101 -- routes check `ready` first
        await defer_deliveries(self.queue, attempts)


OUTBOUND_KEY = web.AppKey("outbound", Outbound)


async def outbound_context(app: web.Application) -> AsyncIterator[None]:
    """Open the outbound database and queue for the app's lifetime (when configured)."""
    outbound = app[OUTBOUND_KEY]
    await ensure_mongo_indexes(app[DB_KEY])
    if outbound.settings.database_url:
        outbound.pool = await store.open_pool(outbound.settings.database_url, max_size=5)
        await store.ensure_schema(outbound.pool)
        outbound.queue = create_queue_app(outbound.settings.database_url)
        await outbound.queue.open_async()
        await ensure_queue_schema(outbound.queue)
        # A survey answer (handoff/surveys.py) is the customer's reply to its attempt.
        app[BUS_KEY].subscribe(SurveyAnswers(lambda: outbound.pool), local_only=True)
    if outbound.settings.redis_url:
        outbound.redis = Redis.from_url(outbound.settings.redis_url)
        outbound.slots = SharedSlots(outbound.redis, "calls", outbound.settings.max_calls)
    yield
    if outbound.redis is not None:
        await outbound.redis.aclose()
    if outbound.queue is not None:
        await outbound.queue.close_async()
    if outbound.pool is not None:
        await outbound.pool.close()


def shared_telegram_limit(app: web.Application) -> SharedRateLimit | None:
    """The outbound workers' Telegram budget in Redis, for the gateway's own replies (None without Redis)."""
    outbound = app.get(OUTBOUND_KEY)
    if outbound is None or outbound.redis is None:
        return None
    return SharedRateLimit(outbound.redis, "telegram", outbound.settings.telegram_per_second)


def _error(status: int, message: str, code: str, **extra: Any) -> web.HTTPException:
    cls = {400: web.HTTPBadRequest, 401: web.HTTPUnauthorized, 404: web.HTTPNotFound, 409: web.HTTPConflict}.get(
        status, web.HTTPServiceUnavailable
    )
    return cls(text=json.dumps({"error": message, "code": code, **extra}), content_type="application/json")


def _ready(request: web.Request) -> tuple[Outbound, store.Pool]:
    outbound = request.app[OUTBOUND_KEY]
    if outbound.pool is None:
        raise _error(503, "Outbound is not configured: set OUTBOUND_DATABASE_URL.", "outbound_off")
    return outbound, outbound.pool


def _bank(request: web.Request) -> BankingBackend:
    return create_banking_backend(request.app[SETTINGS_KEY], request.app[DB_KEY])


async def _supervisor(request: web.Request) -> str:
    session = await staff_http.require_staff(request, request.app[DB_KEY], Role.SUPERVISOR)
    return session.user.login


async def _campaign(request: web.Request, pool: store.Pool) -> Campaign:
    found = await store.get_campaign(pool, request.match_info["campaign_id"])
    if found is None:
        raise _error(404, "No such campaign.", "not_found")
    return found


def _bad(err: campaigns.CampaignError) -> web.HTTPException:
    extra = {"rows": err.rows} if err.rows else {}
    return _error(400, str(err), err.code, **extra)


def _bad_state(err: campaigns.BadState) -> web.HTTPException:
    return _error(409, str(err), "bad_state", state=err.state.value)


# --- Supervisor routes -------------------------------------------------------------------------------


async def meta(request: web.Request) -> web.Response:
    """What the campaign form offers."""
    await _supervisor(request)
    return web.json_response(
        {
            "kinds": [k.value for k in Kind],
            "channels": [c.value for c in Channel],
            "variables": list(VARIABLES),
            "languages": list(LANGUAGES),
            "default_templates": {k.value: v for k, v in DEFAULT_TEMPLATES.items()},
            "question_types": list(campaigns.QUESTION_TYPES),
            "rules": {
                k.value: {"window": p.windows, "caps": p.caps, "opt_out": p.honours_opt_out, "consent": p.needs_consent}
                for k, p in DEFAULT_POLICIES.items()
            },
        }
    )


async def list_campaigns(request: web.Request) -> web.Response:
    """Newest first, optionally of one state."""
    await _supervisor(request)
    _, pool = _ready(request)
    raw_state = request.query.get("state")
    try:
        state = CampaignState(raw_state) if raw_state else None
    except ValueError as err:
        raise _error(
            400, f"'state' must be one of {', '.join(s.value for s in CampaignState)}.", "bad_request"
        ) from err
    return web.json_response({"campaigns": [c.to_dict() for c in await store.list_campaigns(pool, state)]})


async def create_campaign(request: web.Request) -> web.Response:
    """A new draft."""
    login = await _supervisor(request)
    outbound, pool = _ready(request)
    body = await staff_http.json_body(request)
    try:
        campaign = await campaigns.campaign_from_body(
            body, _bank(request), base=None, campaign_id=store.new_id("cmp"), actor=login, now=outbound.clock()
        )
    except campaigns.CampaignError as err:
        raise _bad(err) from err
    await store.insert_campaign(pool, campaign)
    return web.json_response(campaign.to_dict(), status=201)


async def get_campaign(request: web.Request) -> web.Response:
    """One campaign with its counts."""
    await _supervisor(request)
    _, pool = _ready(request)
    return web.json_response((await _campaign(request, pool)).to_dict())


async def edit_campaign(request: web.Request) -> web.Response:
    """Change a draft."""
    login = await _supervisor(request)
    outbound, pool = _ready(request)
    campaign = await _campaign(request, pool)
    if campaign.state is not CampaignState.DRAFT:
        raise _bad_state(campaigns.BadState(campaign.state))
    body = await staff_http.json_body(request)
    try:
        edited = await campaigns.campaign_from_body(
            body, _bank(request), base=campaign, campaign_id=campaign.id, actor=login, now=outbound.clock()
        )
    except campaigns.CampaignError as err:
        raise _bad(err) from err
    if not await store.update_campaign(pool, edited, only_in=CampaignState.DRAFT):
        raise _bad_state(campaigns.BadState((await _campaign(request, pool)).state))
    return web.json_response((await _campaign(request, pool)).to_dict())


async def preview(request: web.Request) -> web.Response:
    """The message in both languages for a sample customer of the audience (or the one asked for)."""
    await _supervisor(request)
    _, pool = _ready(request)
    campaign = await _campaign(request, pool)
    bank = _bank(request)
    wanted = request.query.get("customer_id")
    sample = campaign
    if campaign.audience.get("type") == "csv":
        # One customer's message: plan the sample alone, not a CSV of 100,000 (reminders read payments).
        ids = campaign.audience.get("customer_ids", [])
        one = [wanted] if wanted in ids else ids[:1]
        sample = replace(campaign, audience={"type": "csv", "customer_ids": one})
    targets = await targets_of(sample, bank)
    target = (
        next((t for t in targets if t.customer_id == wanted), None) if wanted else (targets[0] if targets else None)
    )
    customer_id = wanted or (target.customer_id if target else None)
    profile = (await bank.contact_profiles([customer_id])).get(customer_id) if customer_id else None
    if profile is None:
        raise _error(404, "No such customer in the bank.", "unknown_customer")
    channel = campaign.channels[0]
    probe = Attempt(
        id="preview",
        kind=campaign.kind,
        customer_id=profile.customer_id,
        channel=channel,
        state=AttemptState.PLANNED,
        earliest_at=campaign.start,
        data=target.data if target else {},
    )
    facts = facts_of(probe, profile)
    return web.json_response(
        {
            "customer_id": customer_id,
            "channel": channel.value,
            "messages": {
                lang: render(template_for(campaign.templates, campaign.kind, lang), facts, lang, channel, campaign.kind)
                for lang in LANGUAGES
            },
            "buttons": {
                lang: [b.title for b in buttons_for(campaign.kind, lang, campaign.survey)]
                if channel is Channel.TELEGRAM
                else []
                for lang in LANGUAGES
            },
        }
    )


async def forecast(request: web.Request) -> web.Response:
    """The planner's dry run: how many today, later, suppressed and why (nothing stored)."""
    await _supervisor(request)
    outbound, pool = _ready(request)
    campaign = await _campaign(request, pool)
    plan = await plan_campaign(campaign, pool, request.app[DB_KEY], _bank(request), outbound.clock())
    return web.json_response(plan.summary())


async def act(request: web.Request) -> web.Response:
    """Schedule, pause, resume or cancel."""
    await _supervisor(request)
    outbound, pool = _ready(request)
    campaign = await _campaign(request, pool)
    action = request.match_info["action"]
    now = outbound.clock()
    try:
        if action == "schedule":
            campaign, _ = await campaigns.schedule(
                pool, request.app[DB_KEY], _bank(request), campaign, outbound.defer_many, now
            )
        elif action == "resume":
            campaign = await campaigns.resume(pool, campaign, outbound.defer_many, now)
        else:
            campaign = await campaigns.transition(pool, campaign, action, now)
    except campaigns.BadState as err:
        raise _bad_state(err) from err
    return web.json_response((await _campaign(request, pool)).to_dict())


def _page(request: web.Request) -> tuple[int, int]:
    try:
        limit = int(request.query.get("limit", "50"))
        offset = int(request.query.get("offset", "0"))
    except ValueError as err:
        raise _error(400, "'limit' and 'offset' must be whole numbers.", "bad_request") from err
    if not 1 <= limit <= _MAX_PAGE or offset < 0:
        raise _error(400, f"'limit' must be 1-{_MAX_PAGE} and 'offset' at least 0.", "bad_request")
    return limit, offset


def _states(request: web.Request) -> list[AttemptState]:
    raw = request.query.get("state")
    try:
        return [AttemptState(s) for s in raw.split(",")] if raw else []
    except ValueError as err:
        raise _error(400, f"'state' must be among {', '.join(s.value for s in AttemptState)}.", "bad_request") from err


async def attempts(request: web.Request) -> web.Response:
    """A page of the campaign's attempts."""
    await _supervisor(request)
    _, pool = _ready(request)
    campaign = await _campaign(request, pool)
    limit, offset = _page(request)
    found, total = await store.list_attempts(
        pool, campaign_id=campaign.id, states=_states(request), limit=limit, offset=offset
    )
    return web.json_response({"attempts": [a.to_dict() for a in found], "total": total})


async def results(request: web.Request) -> web.Response:
    """Outcomes, suppressions and survey figures."""
    await _supervisor(request)
    _, pool = _ready(request)
    campaign = await _campaign(request, pool)
    zone = ZoneInfo(request.app[SETTINGS_KEY].operator_timezone)
    return web.json_response(await campaigns.results(pool, campaign, request.app[DB_KEY], zone))


async def export(request: web.Request) -> web.Response:
    """Every attempt as CSV."""
    await _supervisor(request)
    _, pool = _ready(request)
    campaign = await _campaign(request, pool)
    return web.Response(
        text=await campaigns.export_csv(pool, campaign),
        content_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="campaign-{campaign.id}.csv"'},
    )


async def unknown(request: web.Request) -> web.Response:
    """Attempts left unknown (a worker lost between send and record, a provider that did not answer)."""
    await _supervisor(request)
    _, pool = _ready(request)
    found, total = await store.list_attempts(pool, states=[AttemptState.UNKNOWN], limit=_MAX_PAGE)
    return web.json_response({"attempts": [a.to_dict() for a in found], "total": total})


async def resolve(request: web.Request) -> web.Response:
    """A person decides what became of an unknown attempt: sent or failed (never resent automatically)."""
    login = await _supervisor(request)
    outbound, pool = _ready(request)
    body = await staff_http.json_body(request)
    outcome = body.get("outcome")
    if outcome not in ("sent", "failed"):
        raise _error(400, "'outcome' must be sent or failed.", "bad_request")
    attempt_id = request.match_info["attempt_id"]
    changed = await store.set_attempt(
        pool,
        attempt_id,
        to=AttemptState(outcome),
        from_states=[AttemptState.UNKNOWN],
        outcome_at=outbound.clock(),
        error=f"resolved as {outcome} by {login}",
    )
    found = await store.get_attempt(pool, attempt_id)
    if found is None:
        raise _error(404, "No such attempt.", "not_found")
    if not changed:
        raise _error(409, "Only an unknown attempt can be resolved.", "bad_state", state=found.state.value)
    return web.json_response(found.to_dict())


async def customer_contacts(request: web.Request) -> web.Response:
    """A customer's outbound contacts, suppressed ones included (the console's customer history)."""
    await staff_http.require_staff(request, request.app[DB_KEY], Role.OPERATOR, Role.SUPERVISOR)
    _, pool = _ready(request)
    limit, _ = _page(request)
    found, _total = await store.list_attempts(pool, customer_id=request.match_info["customer_id"], limit=limit)
    return web.json_response({"contacts": [a.to_dict() for a in found]})


async def set_preferences(request: web.Request) -> web.Response:
    """An operator's or supervisor's mark: opted out of reminders/surveys/offers, on the do-not-contact list."""
    session = await staff_http.require_staff(request, request.app[DB_KEY], Role.OPERATOR, Role.SUPERVISOR)
    body = await staff_http.json_body(request)
    customer_id = request.match_info["customer_id"]
    opted_out, listed = body.get("opted_out"), body.get("do_not_contact")
    if (opted_out is None and listed is None) or any(
        v is not None and not isinstance(v, bool) for v in (opted_out, listed)
    ):
        raise _error(400, "Send 'opted_out' and/or 'do_not_contact' as true or false.", "bad_request")
    bank = _bank(request)
    if customer_id not in await bank.contact_profiles([customer_id]):
        raise _error(404, "No such customer.", "unknown_customer")
    if opted_out is not None:
        await bank.set_opt_out(customer_id, opted_out=opted_out, actor=session.user.login, source="staff")
    if listed is not None:
        await bank.set_do_not_contact(customer_id, listed=listed, actor=session.user.login)
    profile = (await bank.contact_profiles([customer_id]))[customer_id]
    return web.json_response(
        {"customer_id": customer_id, "opted_out": profile.opted_out, "do_not_contact": profile.do_not_contact}
    )


# --- Integration routes ------------------------------------------------------------------------------


def _integration(request: web.Request) -> str:
    name = integration_of(presented_key(request.headers), request.app[SETTINGS_KEY].rest_api_keys)
    if name is None:
        raise _error(401, "Send a valid API key: X-Api-Key or Authorization: Bearer.", "unauthorized")
    return name


async def create_notice(request: web.Request) -> web.Response:
    """A single notice: a fraud alert, card ready, payment received."""
    integration = _integration(request)
    outbound, pool = _ready(request)
    body = await staff_http.json_body(request)
    try:
        attempt, new = await notices.create(
            pool, request.app[DB_KEY], _bank(request), integration, body, outbound.clock()
        )
    except notices.NoticeError as err:
        raise _error(err.status, str(err), err.code) from err
    if new and attempt.state is AttemptState.QUEUED:
        await outbound.defer_many([(attempt.id, attempt.earliest_at)])
    return web.json_response(notices.status_of(attempt), status=202 if new else 200)


async def get_notice(request: web.Request) -> web.Response:
    """What became of a notice (answered yes/no, card blocked, handed to an operator)."""
    integration = _integration(request)
    _, pool = _ready(request)
    found = await store.find_notice(pool, integration, request.match_info["notice_id"])
    if found is None:
        raise _error(404, "No such notice from this integration.", "not_found")
    return web.json_response(notices.status_of(found))


def setup_outbound(app: web.Application) -> None:
    """Register the outbound side's context and routes."""
    outbound = Outbound(OutboundSettings.from_env())
    app[OUTBOUND_KEY] = outbound
    app.cleanup_ctx.append(outbound_context)

    async def on_call_status(attempt_id: str, status: str, answered_by: str, call_sid: str) -> None:
        if outbound.pool is None:
            return

        async def defer(one: str, at: datetime) -> None:
            await outbound.defer_many([(one, at)])

        await call_ended(outbound.pool, attempt_id, status, answered_by, outbound.clock(), defer)
        if outbound.slots is not None:
            await outbound.slots.release(attempt_id)

    TwilioWebhooks(outbound.settings.twilio_auth_token, outbound.settings.public_url, on_call_status).register(app)
    add = app.router
    base = "/api/supervisor/campaigns"
    add.add_get(base + "/meta", meta, name="outbound_meta")
    add.add_get(base, list_campaigns, name="outbound_campaigns")
    add.add_post(base, create_campaign, name="outbound_create_campaign")
    add.add_get(base + "/{campaign_id}", get_campaign, name="outbound_campaign")
    add.add_patch(base + "/{campaign_id}", edit_campaign, name="outbound_edit_campaign")
    add.add_get(base + "/{campaign_id}/preview", preview, name="outbound_preview")
    add.add_get(base + "/{campaign_id}/forecast", forecast, name="outbound_forecast")
    add.add_post(base + "/{campaign_id}/{action:schedule|pause|resume|cancel}", act, name="outbound_act")
    add.add_get(base + "/{campaign_id}/attempts", attempts, name="outbound_attempts")
    add.add_get(base + "/{campaign_id}/results", results, name="outbound_results")
    add.add_get(base + "/{campaign_id}/export.csv", export, name="outbound_export")
    add.add_get("/api/supervisor/outbound/unknown", unknown, name="outbound_unknown")
    add.add_post("/api/supervisor/outbound/attempts/{attempt_id}/resolve", resolve, name="outbound_resolve")
    add.add_get("/api/outbound/customers/{customer_id}/contacts", customer_contacts, name="outbound_contacts")
    add.add_put("/api/outbound/customers/{customer_id}/preferences", set_preferences, name="outbound_preferences")
    add.add_post("/api/notices", create_notice, name="outbound_create_notice")
    add.add_get("/api/notices/{notice_id}", get_notice, name="outbound_notice")
