"""A supervisor's campaigns: checked input, the state machine, planning on schedule, results and export.

Bad input is refused whole with what is wrong (a CSV with any bad row imports nothing and lists
every bad row with its reason), so nothing is ever half-created.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from core.banking import BankingBackend, find_many_by
from core.csv_cells import SafeWriter
from core.db import Database
from handoff import surveys
from outbound import store
from outbound.messages import LANGUAGES, TemplateError, check_template
from outbound.models import (
    TRANSITIONS,
    Attempt,
    AttemptState,
    AudienceType,
    Campaign,
    CampaignState,
    Channel,
    Kind,
)
from outbound.planner import MAX_DAYS_AHEAD, Plan, plan_campaign

MAX_CSV_ROWS = 100_000
MAX_ID_CHARS = 64
MAX_NAME_CHARS = 200
MAX_TEMPLATE_CHARS = 1000
QUESTION_TYPES = tuple(t.value for t in surveys.QuestionType)
_EXTRA_VARIABLES = {Kind.FRAUD_ALERT: ("merchant",), Kind.SERVICE_NOTICE: ("text",)}

DeferMany = Callable[[Sequence[tuple[str, datetime]]], Awaitable[None]]


class CampaignError(ValueError):
    """Bad input; the message is for the supervisor, `rows` lists bad CSV rows."""

    def __init__(self, message: str, code: str = "bad_request", rows: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.rows = rows or []


class BadState(Exception):
    """The campaign's state does not allow this."""

    def __init__(self, state: CampaignState) -> None:
        super().__init__(f"Not possible while the campaign is {state.value}.")
        self.state = state


def parse_csv(text: str, known: set[str]) -> list[str]:
    """Customer ids from the first column (header `customer_id` allowed, `,` or `;`); every bad row refuses the file.

    Raises:
        CampaignError: with one entry per bad row: empty, too long, duplicate, unknown customer.
    """
    if not isinstance(text, str) or not text.strip():
        raise CampaignError("The CSV file is empty.", code="bad_csv")
    dialect = ";" if text.split("\n", 1)[0].count(";") > text.split("\n", 1)[0].count(",") else ","
    rows = list(csv.reader(io.StringIO(text), delimiter=dialect))
    if len(rows) > MAX_CSV_ROWS + 1:
        raise CampaignError(f"At most {MAX_CSV_ROWS} rows per file.", code="bad_csv")
    ids: list[str] = []
    bad: list[dict[str, Any]] = []
    seen: set[str] = set()
    for number, row in enumerate(rows, start=1):
        value = (row[0] if row else "").strip().lstrip("\ufeff")
        if number == 1 and value.lower() in ("customer_id", "customer", "id"):
            continue
        if not value:
            if any(cell.strip() for cell in row):
                bad.append({"row": number, "value": "", "reason": "empty"})
            continue
        if len(value) > MAX_ID_CHARS:
            bad.append({"row": number, "value": value[:MAX_ID_CHARS], "reason": "too long"})
        elif value in seen:
            bad.append({"row": number, "value": value, "reason": "duplicate"})
        elif value not in known:
            bad.append({"row": number, "value": value, "reason": "unknown customer"})
        else:
            seen.add(value)
            ids.append(value)
    if bad:
        raise CampaignError(f"{len(bad)} bad row(s); nothing was imported.", code="bad_csv", rows=bad)
    if not ids:
        raise CampaignError("The CSV file names no customers.", code="bad_csv")
    return ids


def _time(body: dict[str, Any], name: str) -> datetime:
    value = body.get(name)
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError as err:
        raise CampaignError(
            f"'{name}' must be an ISO 8601 time with an offset, e.g. 2026-12-07T09:00:00+03:00."
        ) from err
    if moment.tzinfo is None:
        raise CampaignError(f"'{name}' needs a UTC offset, e.g. +03:00.")
    return moment


async def campaign_from_body(
    body: dict[str, Any], bank: BankingBackend, *, base: Campaign | None, campaign_id: str, actor: str, now: datetime
) -> Campaign:
    """A checked campaign from a create (base None) or an edit (fields missing from `body` keep `base`'s)."""
    merged: dict[str, Any] = {} if base is None else _as_body(base)
    merged.update(body)
    name = merged.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME_CHARS:
        raise CampaignError(f"'name' must be a non-empty text of at most {MAX_NAME_CHARS} characters.")
    try:
        kind = Kind(str(merged.get("kind")))
    except ValueError as err:
        raise CampaignError(f"'kind' must be one of {', '.join(k.value for k in Kind)}.") from err
    channels_raw = merged.get("channels") or []
    try:
        channels = [Channel(c) for c in channels_raw]
    except (ValueError, TypeError) as err:
        raise CampaignError("'channels' must list telegram, sms and/or call, in order of preference.") from err
    if not channels or len(set(channels)) != len(channels):
        raise CampaignError("'channels' must list at least one channel, each once.")
    start, end = _time(merged, "start"), _time(merged, "end")
    if end <= start:
        raise CampaignError("'end' must be later than 'start'.")
    if end - start > timedelta(days=MAX_DAYS_AHEAD):
        raise CampaignError(f"A campaign may run at most {MAX_DAYS_AHEAD} days.")
    templates = merged.get("templates") or {}
    if not isinstance(templates, dict) or set(templates) - set(LANGUAGES):
        raise CampaignError("'templates' must map ru and/or en to a text.")
    for language, text in templates.items():
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEMPLATE_CHARS:
            raise CampaignError(f"The {language} template must be a text of at most {MAX_TEMPLATE_CHARS} characters.")
        try:
            check_template(text, _EXTRA_VARIABLES.get(kind, ()))
        except TemplateError as err:
            raise CampaignError(f"The {language} template: {err}.") from err
    if kind in (Kind.OFFER, Kind.SERVICE_NOTICE) and not templates:
        raise CampaignError(f"A {kind.value} campaign needs its text: 'templates' with ru and/or en.")
    audience = await _audience(merged.get("audience"), bank, kind, keep=base.audience if base else None)
    survey = _survey(merged.get("survey")) if kind is Kind.SURVEY else None
    return Campaign(
        id=campaign_id,
        name=name.strip(),
        kind=kind,
        state=base.state if base else CampaignState.DRAFT,
        audience=audience,
        templates={k: v.strip() for k, v in templates.items()},
        channels=channels,
        start=start,
        end=end,
        survey=survey,
        created_by=base.created_by if base else actor,
        created_at=base.created_at if base else now,
        updated_at=now,
    )


def _as_body(campaign: Campaign) -> dict[str, Any]:
    return {
        "name": campaign.name,
        "kind": campaign.kind.value,
        "channels": [c.value for c in campaign.channels],
        "start": campaign.start.isoformat(),
        "end": campaign.end.isoformat(),
        "templates": campaign.templates,
        "survey": campaign.survey,
        "audience": {"keep": True},
    }


async def _audience(raw: Any, bank: BankingBackend, kind: Kind, keep: dict[str, Any] | None) -> dict[str, Any]:
    if isinstance(raw, dict) and raw.get("keep") and keep is not None:
        return keep
    if not isinstance(raw, dict):
        raise CampaignError('\'audience\' must be {"type": "csv", "csv": "..."} or {"type": "due_in_days", "days": N}.')
    if raw.get("type") == AudienceType.CSV:
        text = raw.get("csv")
        if not isinstance(text, str):
            raise CampaignError("'audience.csv' must be the text of the CSV file.", code="bad_csv")
        candidates = sorted(
            {(row[0] if row else "").strip() for row in csv.reader(io.StringIO(text.replace(";", ",")))}
        )
        known = set(await bank.contact_profiles([c for c in candidates if c and len(c) <= MAX_ID_CHARS]))
        return {"type": "csv", "customer_ids": parse_csv(text, known)}
    if raw.get("type") == AudienceType.DUE_IN_DAYS:
        if kind is not Kind.PAYMENT_REMINDER:
            raise CampaignError("A 'due_in_days' audience is for payment_reminder campaigns.")
        days = raw.get("days")
        if not isinstance(days, int) or isinstance(days, bool) or not 0 <= days <= MAX_DAYS_AHEAD:
            raise CampaignError(f"'audience.days' must be a whole number from 0 to {MAX_DAYS_AHEAD}.")
        products = raw.get("products") or ["loan", "credit_card"]
        if not isinstance(products, list) or not products or set(products) - {"loan", "credit_card"}:
            raise CampaignError("'audience.products' must list loan and/or credit_card.")
        return {"type": "due_in_days", "days": days, "products": sorted(set(products))}
    raise CampaignError("'audience.type' must be csv or due_in_days.")


def _survey(raw: Any) -> dict[str, Any]:
    """The survey's questions, checked by the platform's survey mechanism (handoff/surveys.py)."""
    if raw is None:
        return {"questions": [{"id": "rating", "type": "rating_1_5"}]}
    try:
        questions = surveys.parse_questions(raw.get("questions") if isinstance(raw, dict) else None)
    except surveys.BadSurvey as err:
        raise CampaignError(f"'survey.questions': {err}") from err
    return {"questions": [q.to_dict() for q in questions]}


async def transition(pool: store.Pool, campaign: Campaign, action: str, now: datetime) -> Campaign:
    """Pause, resume or cancel (schedule has its own function); BadState when the state does not allow it."""
    allowed = TRANSITIONS[action]
    target = allowed.get(campaign.state)
    if target is None or not await store.set_campaign_state(pool, campaign.id, target, [campaign.state], now):
        raise BadState(campaign.state)
    if action == "cancel":
        await store.cancel_open_attempts(pool, campaign.id, now)
    return replace(campaign, state=target, updated_at=now)


async def schedule(
    pool: store.Pool, db: Database, bank: BankingBackend, campaign: Campaign, defer_many: DeferMany, now: datetime
) -> tuple[Campaign, Plan]:
    """Draft -> scheduled (running when its start has come): plan every attempt and queue its delivery job."""
    target = CampaignState.RUNNING if campaign.start <= now else CampaignState.SCHEDULED
    if campaign.state is not CampaignState.DRAFT or not await store.set_campaign_state(
        pool, campaign.id, target, [CampaignState.DRAFT], now
    ):
        raise BadState(campaign.state)
    plan = await plan_campaign(campaign, pool, db, bank, now)
    await store.insert_attempts(pool, plan.attempts)
    await defer_many([(a.id, a.earliest_at) for a in plan.attempts if a.state is AttemptState.QUEUED])
    return replace(campaign, state=target, updated_at=now), plan


async def resume(pool: store.Pool, campaign: Campaign, defer_many: DeferMany, now: datetime) -> Campaign:
    """Paused -> running, and every queued attempt gets its job again (paused jobs ended without sending)."""
    resumed = await transition(pool, campaign, "resume", now)
    await defer_many([(i, max(at, now)) for i, at in await store.queued_of_campaign(pool, campaign.id)])
    return resumed


async def results(pool: store.Pool, campaign: Campaign, db: Database, zone: ZoneInfo) -> dict[str, Any]:
    """Outcomes, suppressions by reason and the survey's figures per day in `zone` (docs/outbound-api.md)."""
    attempts, _ = await store.list_attempts(pool, campaign_id=campaign.id, limit=MAX_CSV_ROWS * 2)
    counts: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    for a in attempts:
        counts[a.state.value] += 1
        if a.state is AttemptState.SUPPRESSED and a.reason is not None:
            reasons[a.reason.value] += 1
        if a.sent_at is not None:
            counts["sent_total"] += 1
        if a.answer in ("paid", "stop", "operator"):
            counts[{"paid": "paid", "stop": "opted_out", "operator": "handed_off"}[a.answer]] += 1
        if a.answer is not None:
            counts["replied_total"] += 1
    if campaign.kind is Kind.PAYMENT_REMINDER:
        counts["paid_after_reminder"] = await _paid_after(db, attempts)
    # The answers are stored by the platform's one survey mechanism (handoff/surveys.py).
    survey = (
        (await surveys.results(db, campaign_id=campaign.id, zone=zone)).to_dict()
        if campaign.kind is Kind.SURVEY
        else None
    )
    return {
        "counts": dict(sorted(counts.items())),
        "suppressed_by_reason": dict(sorted(reasons.items())),
        "survey": survey,
    }


async def _paid_after(db: Database, attempts: Sequence[Attempt]) -> int:
    """Reminders whose payment arrived after they were sent (the demo bank's payments)."""
    sent = {str(a.data["payment_id"]): a.sent_at for a in attempts if a.sent_at and a.data.get("payment_id")}
    payments = await find_many_by(db.bank_payments, "_id", sorted(sent))
    return sum(
        1
        for doc in payments
        if doc.get("paid_at") is not None and (at := sent.get(doc["_id"])) is not None and doc["paid_at"] > at
    )


EXPORT_COLUMNS = (
    "attempt_id",
    "customer_id",
    "channel",
    "state",
    "reason",
    "answer",
    "earliest_at",
    "sent_at",
    "outcome_at",
    "error",
)


async def export_csv(pool: store.Pool, campaign: Campaign) -> str:
    """One row per attempt."""
    attempts, _ = await store.list_attempts(pool, campaign_id=campaign.id, limit=MAX_CSV_ROWS * 2)
    out = io.StringIO()
    writer = SafeWriter(out)  # answers are the customers' own words: no cell runs as a formula (core/csv_cells.py)
    writer.writerow(EXPORT_COLUMNS)
    for a in sorted(attempts, key=lambda a: (a.earliest_at, a.id)):
        writer.writerow(
            [
                a.id,
                a.customer_id,
                a.channel.value,
                a.state.value,
                a.reason.value if a.reason else "",
                a.answer or "",
                a.earliest_at.isoformat(),
                a.sent_at.isoformat() if a.sent_at else "",
                a.outcome_at.isoformat() if a.outcome_at else "",
                a.error or "",
            ]
        )
    return out.getvalue()
