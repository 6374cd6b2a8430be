"""The rules every outbound contact obeys, as pure functions of (contact, customer, history, clock, calendar).

Defaults follow Russian federal law 230-FZ for contacts about debts and are applied to reminders,
surveys and offers too: contact windows in the customer's own time zone (working days 08:00-22:00,
weekends and public holidays 09:00-20:00), caps per customer across every campaign (calls 1 a day,
2 a week, 8 a month; messages 2, 4, 16), opt-out and do-not-contact, marketing consent for offers.
Fraud alerts are transactional: at once, day or night, outside the caps, not stopped by an opt-out.

Pure, so that the planner and the sending worker ask the same question (time passes, opt-outs
arrive) and property tests can throw any schedule at them. Periods for the caps are the customer's
local calendar day, ISO week (Monday to Sunday) and calendar month.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

import holidays

from outbound.models import ContactClass, Kind, PastContact, PlannedContact, Reason, Recipient, contact_class

# A contact is never pushed further than this looking for a window or a free cap period.
_MAX_LOOKAHEAD_STEPS = 200


class Calendar(Protocol):
    """Which local dates are days off (weekends, public holidays)."""

    def is_day_off(self, day: date) -> bool:
        """True for weekends and public holidays."""
        ...


@dataclass(frozen=True)
class RussianCalendar:
    """Saturdays, Sundays and Russia's public holidays (the `holidays` package)."""

    def is_day_off(self, day: date) -> bool:
        """Weekend or a public holiday of the Russian Federation."""
        return day.weekday() >= 5 or day in _russian_holidays(day.year)


@functools.lru_cache(maxsize=16)
def _russian_holidays(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("RU", years=year)


@dataclass(frozen=True)
class DatesCalendar:
    """Weekends plus the given dates: for tests and for a bank's own list of days off."""

    days_off: frozenset[date] = frozenset()

    def is_day_off(self, day: date) -> bool:
        """Weekend or one of the listed dates."""
        return day.weekday() >= 5 or day in self.days_off


@dataclass(frozen=True)
class Window:
    """Local hours during which contacts may be made, [opens, closes)."""

    opens: time
    closes: time


@dataclass(frozen=True)
class Caps:
    """At most this many contacts per local day, ISO week and calendar month."""

    day: int
    week: int
    month: int


@dataclass(frozen=True)
class KindPolicy:
    """Which rules a kind obeys."""

    windows: bool = True
    caps: bool = True
    honours_opt_out: bool = True
    needs_consent: bool = False
    # Transactional contacts (fraud, security) go at once and are not stopped by do-not-contact either.
    transactional: bool = False


DEFAULT_POLICIES: Mapping[Kind, KindPolicy] = {
    Kind.PAYMENT_REMINDER: KindPolicy(),
    Kind.SURVEY: KindPolicy(),
    Kind.OFFER: KindPolicy(needs_consent=True),
    # "Your card is ready", "payment received": not marketing, so an opt-out does not stop them and they
    # do not count against the caps, but nobody is woken at night for them.
    Kind.SERVICE_NOTICE: KindPolicy(caps=False, honours_opt_out=False),
    Kind.FRAUD_ALERT: KindPolicy(windows=False, caps=False, honours_opt_out=False, transactional=True),
}


@dataclass(frozen=True)
class Rules:
    """The configured rules (defaults: 230-FZ)."""

    working_day: Window = Window(time(8), time(22))
    day_off: Window = Window(time(9), time(20))
    call_caps: Caps = Caps(day=1, week=2, month=8)
    message_caps: Caps = Caps(day=2, week=4, month=16)
    policies: Mapping[Kind, KindPolicy] = field(default_factory=lambda: dict(DEFAULT_POLICIES))

    def policy(self, kind: Kind) -> KindPolicy:
        """The kind's policy (a kind missing from the configuration gets the strictest one)."""
        return self.policies.get(kind, KindPolicy(needs_consent=True))

    def caps_for(self, cls: ContactClass) -> Caps:
        """Caps of calls or of messages."""
        return self.call_caps if cls is ContactClass.CALL else self.message_caps

    def window_on(self, day: date, calendar: Calendar) -> Window:
        """The window of one local date."""
        return self.day_off if calendar.is_day_off(day) else self.working_day


@dataclass(frozen=True)
class Send:
    """Contact now."""


@dataclass(frozen=True)
class Wait:
    """Not yet: the earliest moment the rules allow (UTC)."""

    until: datetime


@dataclass(frozen=True)
class Suppress:
    """Never: the reason is recorded on the attempt."""

    reason: Reason


Decision = Send | Wait | Suppress


def zone_of(recipient: Recipient) -> ZoneInfo:
    """The customer's time zone; an unknown name falls back to the bank's (Moscow)."""
    try:
        return ZoneInfo(recipient.timezone)
    except (ValueError, KeyError):
        return ZoneInfo("Europe/Moscow")


def _at(day: date, moment: time, zone: ZoneInfo) -> datetime:
    """A local wall-clock time as an aware datetime, normalised through UTC (DST gaps move forward)."""
    return datetime.combine(day, moment, zone).astimezone(ZoneInfo("UTC")).astimezone(zone)


def in_window(moment: datetime, zone: ZoneInfo, rules: Rules, calendar: Calendar) -> bool:
    """Whether a moment falls inside its local date's window."""
    local = moment.astimezone(zone)
    window = rules.window_on(local.date(), calendar)
    return window.opens <= local.time().replace(tzinfo=None) < window.closes


def next_window_moment(moment: datetime, zone: ZoneInfo, rules: Rules, calendar: Calendar) -> datetime:
    """`moment` itself when inside a window, else the opening of the next window."""
    local = moment.astimezone(zone)
    for offset in range(_MAX_LOOKAHEAD_STEPS):
        day = local.date() + timedelta(days=offset)
        window = rules.window_on(day, calendar)
        opens, closes = _at(day, window.opens, zone), _at(day, window.closes, zone)
        if local < closes:
            return max(local, opens)
    raise ValueError("no contact window within the lookahead")  # pragma: no cover - every day has one


def _period_keys(moment: datetime, zone: ZoneInfo) -> tuple[date, tuple[int, int], tuple[int, int]]:
    local = moment.astimezone(zone).date()
    iso = local.isocalendar()
    return local, (iso.year, iso.week), (local.year, local.month)


def _next_period_start(moment: datetime, zone: ZoneInfo, period: Reason) -> datetime:
    """Midnight starting the next local day, ISO week or month."""
    day = moment.astimezone(zone).date()
    if period is Reason.CAP_DAY:
        start = day + timedelta(days=1)
    elif period is Reason.CAP_WEEK:
        start = day + timedelta(days=7 - day.weekday())
    else:
        start = (day.replace(day=1) + timedelta(days=32)).replace(day=1)
    return _at(start, time(0), zone)


def cap_reached(
    moment: datetime,
    cls: ContactClass,
    zone: ZoneInfo,
    history: Iterable[PastContact],
    rules: Rules,
) -> Reason | None:
    """The longest period whose cap a contact at `moment` would exceed, or None.

    Only contacts of kinds that obey the caps count: fraud alerts are outside them.
    """
    caps = rules.caps_for(cls)
    day, week, month = _period_keys(moment, zone)
    in_day = in_week = in_month = 0
    for past in history:
        if contact_class(past.channel) is not cls or not rules.policy(past.kind).caps:
            continue
        past_day, past_week, past_month = _period_keys(past.at, zone)
        in_month += past_month == month
        in_week += past_week == week
        in_day += past_day == day
    if in_month >= caps.month:
        return Reason.CAP_MONTH
    if in_week >= caps.week:
        return Reason.CAP_WEEK
    if in_day >= caps.day:
        return Reason.CAP_DAY
    return None


def decide(
    contact: PlannedContact,
    recipient: Recipient,
    history: Iterable[PastContact],
    now: datetime,
    calendar: Calendar,
    rules: Rules = Rules(),
) -> Decision:
    """Send now, wait until a moment, or suppress with a reason.

    Checked when planning and again when sending: the answer may change as time passes,
    contacts are made and opt-outs arrive.
    """
    policy = rules.policy(contact.kind)
    if recipient.do_not_contact and not policy.transactional:
        return Suppress(Reason.DO_NOT_CONTACT)
    if recipient.opted_out and policy.honours_opt_out:
        return Suppress(Reason.OPTED_OUT)
    if policy.needs_consent and not recipient.marketing_consent:
        return Suppress(Reason.NO_MARKETING_CONSENT)
    zone = zone_of(recipient)
    past = list(history)
    moment = max(now, contact.earliest_at)
    blocked: Reason | None = None
    for _ in range(_MAX_LOOKAHEAD_STEPS):
        if contact.not_after is not None and moment >= contact.not_after:
            return Suppress(blocked or Reason.CAMPAIGN_ENDED)
        if policy.windows:
            opened = next_window_moment(moment, zone, rules, calendar)
            if opened != moment:
                blocked = blocked or Reason.OUTSIDE_WINDOW
                moment = opened
                continue
        if policy.caps:
            cap = cap_reached(moment, contact_class(contact.channel), zone, past, rules)
            if cap is not None:
                blocked = cap
                moment = _next_period_start(moment, zone, cap)
                continue
        return Send() if moment <= now else Wait(moment.astimezone(ZoneInfo("UTC")))
    return Suppress(blocked or Reason.CAMPAIGN_ENDED)
