"""The rules of outbound contacts: windows in the customer's time zone, caps, opt-out, consent, fraud alerts.

Stories first (a reminder due at night waits for the morning, a third message in a day waits for
tomorrow, a fraud alert goes at 3 a.m.), then a property test: Hypothesis generates time zones,
holidays, schedules, contact histories, late workers and opt-outs arriving midway, and every contact
the rules let through is audited independently (outbound/simulation.py).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from outbound.models import Channel, Kind, PastContact, PlannedContact, Reason, Recipient
from outbound.rules import DatesCalendar, Rules, RussianCalendar, Send, Suppress, Wait, decide
from outbound.simulation import Case, simulate, violations

RULES = Rules()
RU = RussianCalendar()
IVAN = Recipient("demo-ivan", timezone="Asia/Yekaterinburg")  # UTC+5


def at(text: str, zone: str = "Asia/Yekaterinburg") -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone))


def reminder(earliest: datetime, channel: Channel = Channel.TELEGRAM, until: datetime | None = None) -> PlannedContact:
    return PlannedContact(Kind.PAYMENT_REMINDER, channel, earliest, until)


def test_a_reminder_due_at_night_waits_for_eight_in_the_customers_own_morning() -> None:
    # Tuesday 1 December 2026, 23:30 in Yekaterinburg (21:30 in Moscow, where the bank is).
    decision = decide(reminder(at("2026-12-01T23:30")), IVAN, [], at("2026-12-01T23:30"), RU)
    assert decision == Wait(at("2026-12-02T08:00").astimezone(UTC))


def test_on_a_saturday_and_on_new_year_holidays_the_window_is_nine_to_eight() -> None:
    saturday = decide(reminder(at("2026-12-05T08:30")), IVAN, [], at("2026-12-05T08:30"), RU)
    assert saturday == Wait(at("2026-12-05T09:00").astimezone(UTC))
    holiday_evening = decide(reminder(at("2027-01-05T20:15")), IVAN, [], at("2027-01-05T20:15"), RU)
    assert holiday_evening == Wait(at("2027-01-06T09:00").astimezone(UTC)), "5-6 January are public holidays"
    assert decide(reminder(at("2027-01-11T21:00")), IVAN, [], at("2027-01-11T21:00"), RU) == Send()


def test_a_third_message_in_one_day_waits_for_tomorrow_and_a_fifth_in_a_week_for_next_monday() -> None:
    two_today = [PastContact(at("2026-12-01T09:00"), Channel.TELEGRAM, Kind.SURVEY)] * 2
    third = decide(reminder(at("2026-12-01T12:00")), IVAN, two_today, at("2026-12-01T12:00"), RU)
    assert third == Wait(at("2026-12-02T08:00").astimezone(UTC))
    four_this_week = [PastContact(at(f"2026-11-3{n}T10:00"), Channel.SMS, Kind.OFFER) for n in (0, 0)] + [
        PastContact(at("2026-12-01T10:00"), Channel.TELEGRAM, Kind.SURVEY)
    ] * 2
    fifth = decide(reminder(at("2026-12-02T12:00")), IVAN, four_this_week, at("2026-12-02T12:00"), RU)
    assert fifth == Wait(at("2026-12-07T08:00").astimezone(UTC)), "the week of 30 November is full"


def test_one_call_a_day_and_a_capped_contact_past_the_campaigns_end_is_suppressed_with_the_cap() -> None:
    called = [PastContact(at("2026-12-01T10:00"), Channel.CALL, Kind.PAYMENT_REMINDER)]
    ends_tonight = at("2026-12-01T23:59")
    decision = decide(
        reminder(at("2026-12-01T15:00"), Channel.CALL, ends_tonight), IVAN, called, at("2026-12-01T15:00"), RU
    )
    assert decision == Suppress(Reason.CAP_DAY)
    message = decide(reminder(at("2026-12-01T15:00")), IVAN, called, at("2026-12-01T15:00"), RU)
    assert message == Send(), "calls and messages have caps of their own"


def test_opted_out_and_do_not_contact_customers_get_no_reminders_and_offers_need_consent() -> None:
    noon = at("2026-12-01T12:00")
    opted_out = Recipient("c1", opted_out=True, marketing_consent=True)
    assert decide(reminder(noon), opted_out, [], noon, RU) == Suppress(Reason.OPTED_OUT)
    assert decide(reminder(noon), Recipient("c2", do_not_contact=True), [], noon, RU) == Suppress(Reason.DO_NOT_CONTACT)
    offer = PlannedContact(Kind.OFFER, Channel.TELEGRAM, noon)
    assert decide(offer, Recipient("c3"), [], noon, RU) == Suppress(Reason.NO_MARKETING_CONSENT)
    assert decide(offer, Recipient("c4", marketing_consent=True), [], noon, RU) == Send()


def test_a_fraud_alert_goes_at_three_in_the_morning_past_every_cap_and_opt_out() -> None:
    night = at("2026-12-01T03:00")
    full = [PastContact(at("2026-12-01T02:00"), Channel.TELEGRAM, Kind.FRAUD_ALERT)] * 5 + [
        PastContact(at("2026-11-30T10:00"), Channel.TELEGRAM, Kind.PAYMENT_REMINDER)
    ] * 2
    alert = PlannedContact(Kind.FRAUD_ALERT, Channel.TELEGRAM, night)
    who = Recipient("c5", opted_out=True, do_not_contact=True, timezone="Asia/Yekaterinburg")
    assert decide(alert, who, full, night, RU) == Send()
    # Fraud alerts do not use up the customer's caps for reminders either.
    assert decide(reminder(at("2026-12-01T09:00")), IVAN, full[:5], at("2026-12-01T09:00"), RU) == Send()


def test_a_service_notice_waits_for_the_window_but_not_for_the_caps_nor_an_opt_out() -> None:
    notice = PlannedContact(Kind.SERVICE_NOTICE, Channel.TELEGRAM, at("2026-12-01T06:00"))
    who = Recipient("c6", opted_out=True, timezone="Asia/Yekaterinburg")
    assert decide(notice, who, [], at("2026-12-01T06:00"), RU) == Wait(at("2026-12-01T08:00").astimezone(UTC))


# --- Property: whatever the zone, holidays, schedule and history, no contact breaks a rule. --------

ZONES = [
    "Europe/Kaliningrad", "Europe/Moscow", "Europe/Samara", "Asia/Yekaterinburg", "Asia/Omsk",
    "Asia/Novosibirsk", "Asia/Irkutsk", "Asia/Yakutsk", "Asia/Vladivostok", "Asia/Magadan",
    "Asia/Kamchatka", "America/New_York", "Europe/London", "Australia/Lord_Howe", "Pacific/Chatham",
    "America/Santiago", "Asia/Kathmandu", "UTC",
]  # fmt: skip
START = datetime(2026, 12, 1, tzinfo=UTC)
KINDS = st.sampled_from(list(Kind))
CHANNELS = st.sampled_from(list(Channel))
MINUTES = st.integers(min_value=0, max_value=60 * 24 * 45)


def moment(minutes: int) -> datetime:
    return START + timedelta(minutes=minutes)


@st.composite
def cases(draw: st.DrawFn) -> tuple[Case, DatesCalendar]:
    recipient = Recipient(
        "c",
        timezone=draw(st.sampled_from(ZONES)),
        opted_out=draw(st.booleans()),
        do_not_contact=draw(st.integers(0, 9)) == 0,
        marketing_consent=draw(st.booleans()),
    )
    history = [
        PastContact(START - timedelta(minutes=draw(st.integers(1, 60 * 24 * 40))), draw(CHANNELS), draw(KINDS))
        for _ in range(draw(st.integers(0, 12)))
    ]
    planned = []
    for _ in range(draw(st.integers(1, 25))):
        earliest = draw(MINUTES)
        until = draw(st.none() | st.integers(earliest, earliest + 60 * 24 * 10))
        planned.append(
            PlannedContact(draw(KINDS), draw(CHANNELS), moment(earliest), None if until is None else moment(until))
        )
    delays = draw(st.lists(st.integers(0, 600).map(lambda m: timedelta(minutes=m)), min_size=1, max_size=4))
    opt_out = draw(st.none() | MINUTES.map(moment))
    days_off = draw(st.frozensets(st.dates(date(2026, 11, 1), date(2027, 2, 28)), max_size=12))
    case = Case(
        recipient, history, planned, worker_delays=delays, opted_out_at=opt_out if not recipient.opted_out else None
    )
    return case, DatesCalendar(days_off)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_no_contact_outside_its_window_above_a_cap_or_to_an_opted_out_customer(
    generated: tuple[Case, DatesCalendar],
) -> None:
    case, calendar = generated
    made = simulate(case, calendar, RULES)
    assert violations(case, made, calendar, RULES) == []


def test_the_audit_itself_catches_a_contact_that_breaks_the_rules() -> None:
    """Without this, an audit that never finds anything would pass the property test."""
    case = Case(Recipient("c", opted_out=True), [], [reminder(at("2026-12-01T12:00"))])
    night = [PastContact(at("2026-12-01T23:00", "Europe/Moscow"), Channel.CALL, Kind.SURVEY)] * 2
    found = violations(case, night, DatesCalendar(), RULES)
    assert any("outside the window" in f for f in found)
    assert any("opted-out" in f for f in found)
    assert any("cap of 1 a day" in f for f in found)
