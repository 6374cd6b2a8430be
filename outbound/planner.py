"""Campaign -> contact attempts: the audience, a channel per customer, and the rules' first verdict.

The planner asks the same rules as the worker (outbound/rules.py), so a supervisor's forecast
("950 today, 200 later, 50 suppressed: 20 opted out, 30 over the weekly cap") is what will happen
unless time, opt-outs or other campaigns change it; the worker checks again when sending.
A rule audience ("loan or credit-card payment due in N days") is planned for the whole schedule at
once: each unpaid payment due in the campaign's days + N gets one attempt, N days before it is due.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from core.banking import BANK_TIMEZONE, BankingBackend, ContactProfile, ScheduledPayment
from core.db import Database
from outbound import store
from outbound.delivery import Addresses, recipient_of
from outbound.models import (
    Attempt,
    AttemptState,
    AudienceType,
    Campaign,
    Channel,
    Kind,
    PastContact,
    PlannedContact,
    Reason,
)
from outbound.rules import Calendar, Rules, RussianCalendar, Send, Suppress, Wait, decide

# The longest reminder lead and schedule the planner accepts (a rule campaign plans every day at once).
MAX_DAYS_AHEAD = 60


@dataclass(frozen=True)
class Target:
    """One contact to plan: a customer, what the message is about, and when it may go at the earliest."""

    customer_id: str
    earliest_at: datetime
    not_after: datetime
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Plan:
    """The attempts of a campaign and the forecast a supervisor sees."""

    attempts: list[Attempt]
    today: int = 0
    later: int = 0
    suppressed: Counter[str] = field(default_factory=Counter)

    def summary(self) -> dict[str, Any]:
        """The forecast of docs/outbound-api.md."""
        return {
            "audience": len(self.attempts),
            "today": self.today,
            "later": self.later,
            "suppressed": sum(self.suppressed.values()),
            "by_reason": dict(sorted(self.suppressed.items())),
        }


def payment_data(payment: ScheduledPayment) -> dict[str, Any]:
    """What a reminder may mention, stored on the attempt (the worker checks the payment is still unpaid)."""
    return {
        "payment_id": payment.payment_id,
        "product": payment.product_name,
        "amount": str(payment.amount),
        "due_date": payment.due_date.isoformat(),
        "card_last4": payment.card_last4 or "",
    }


def _bank_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), BANK_TIMEZONE).astimezone(UTC)


async def targets_of(campaign: Campaign, bank: BankingBackend) -> list[Target]:
    """The campaign's audience as contacts to plan."""
    audience = campaign.audience
    if audience.get("type") == AudienceType.CSV:
        ids = list(audience.get("customer_ids", []))
        if campaign.kind is not Kind.PAYMENT_REMINDER:
            return [Target(cid, campaign.start, campaign.end) for cid in ids]
        # A listed customer is reminded of their next unpaid payment; none left means nothing to remind of.
        first_day = campaign.start.astimezone(BANK_TIMEZONE).date()
        listed: list[Target] = []
        for cid in ids:
            unpaid = [p for p in await bank.list_payments(cid) if p.paid_at is None and p.due_date >= first_day]
            data = payment_data(unpaid[0]) if unpaid else {"nothing_due": True}
            listed.append(Target(cid, campaign.start, campaign.end, data))
        return listed
    days = int(audience.get("days", 3))
    products = set(audience.get("products") or ("loan", "credit_card"))
    first = campaign.start.astimezone(BANK_TIMEZONE).date()
    last = min(campaign.end.astimezone(BANK_TIMEZONE).date(), first + timedelta(days=MAX_DAYS_AHEAD))
    targets: list[Target] = []
    day = first
    while day <= last:
        for payment in await bank.payments_due(day + timedelta(days=days)):
            if payment.product.value not in products:
                continue
            earliest = max(campaign.start, _bank_midnight(day))
            # Past the due date a reminder is no longer a reminder.
            until = min(campaign.end, _bank_midnight(payment.due_date + timedelta(days=1)))
            targets.append(Target(payment.customer_id, earliest, until, payment_data(payment)))
        day += timedelta(days=1)
    return targets


def choose_channel(
    campaign_channels: Sequence[Channel], profile: ContactProfile, chats: dict[str, str]
) -> Channel | None:
    """The first of the campaign's channels the customer can be reached on, their own preference first."""
    reachable = [
        c
        for c in campaign_channels
        if (c is Channel.TELEGRAM and profile.customer_id in chats) or (c is not Channel.TELEGRAM and profile.phone)
    ]
    preferred = [c for c in reachable if c.value in profile.channels]
    ordered = preferred or reachable
    return ordered[0] if ordered else None


async def plan_campaign(
    campaign: Campaign,
    pool: store.Pool,
    db: Database,
    bank: BankingBackend,
    now: datetime,
    *,
    calendar: Calendar | None = None,
    rules: Rules | None = None,
) -> Plan:
    """Every attempt of the campaign with its state: queued (with its earliest time) or suppressed (with a reason)."""
    calendar = calendar or RussianCalendar()
    rules = rules or Rules()
    targets = await targets_of(campaign, bank)
    ids = sorted({t.customer_id for t in targets})
    profiles = await bank.contact_profiles(ids)
    chats = await Addresses(db).telegram_chats(ids)
    histories = await store.histories(pool, ids, now)
    plan = Plan(attempts=[])
    end_of_today = _bank_midnight(now.astimezone(BANK_TIMEZONE).date() + timedelta(days=1))
    for target in targets:
        attempt = Attempt(
            id=store.new_id("att"),
            kind=campaign.kind,
            customer_id=target.customer_id,
            channel=campaign.channels[0],
            state=AttemptState.QUEUED,
            earliest_at=max(now, target.earliest_at),
            campaign_id=campaign.id,
            not_after=target.not_after,
            data=target.data | ({"survey": campaign.survey} if campaign.survey else {}),
        )
        profile = profiles.get(target.customer_id)
        channel = choose_channel(campaign.channels, profile, chats) if profile else None
        if profile is None or channel is None or target.data.get("nothing_due"):
            reason = (
                Reason.UNKNOWN_CUSTOMER
                if profile is None
                else Reason.PAID
                if channel is not None
                else Reason.NO_CHANNEL
            )
            attempt.state, attempt.reason = AttemptState.SUPPRESSED, reason
        else:
            attempt.channel = channel
            later = campaign.channels[campaign.channels.index(channel) + 1 :]
            if later:
                attempt.data = attempt.data | {"fallback": [c.value for c in later]}
            history: list[PastContact] = histories.get(target.customer_id, [])
            contact = PlannedContact(campaign.kind, channel, attempt.earliest_at, target.not_after)
            decision = decide(contact, recipient_of(profile), history, now, calendar, rules)
            if isinstance(decision, Suppress):
                attempt.state, attempt.reason = AttemptState.SUPPRESSED, decision.reason
            elif isinstance(decision, Wait):
                attempt.earliest_at = decision.until
            else:
                assert isinstance(decision, Send)  # noqa: S101 -- the three decisions
        if attempt.state is AttemptState.SUPPRESSED:
            plan.suppressed[str(attempt.reason)] += 1
        elif attempt.earliest_at < end_of_today:
            plan.today += 1
        else:
            plan.later += 1
        plan.attempts.append(attempt)
    return plan
