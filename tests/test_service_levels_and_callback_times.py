"""Service-level clocks and callback times, on their own (no platform needed): the arithmetic behind the stories.

The browser stories (tests/browser/test_triage.py, tests/test_handoff_notices.py) show the same on the real
platform; these pin the edges: a clock that stops outside the team's hours, and the many ways customers say
when to call.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from handoff.callback_time import parse_wish
from handoff.callbacks import find_phone, is_way_out
from handoff.hours import WorkingHours
from handoff.service_levels import counted_seconds

MSK = ZoneInfo("Europe/Moscow")


def test_the_clock_counts_only_working_hours_across_midnight() -> None:
    hours = WorkingHours.parse("09:00-21:00", "Europe/Moscow")
    # 20:55 MSK to 09:05 MSK next day: five minutes before closing, five after opening.
    start = datetime(2026, 12, 7, 20, 55, tzinfo=MSK)
    assert counted_seconds(start, start + timedelta(hours=12, minutes=10), hours) == 600
    assert counted_seconds(start, start + timedelta(minutes=3), None) == 180, "around the clock counts all"
    assert counted_seconds(start, start - timedelta(minutes=3), hours) == 0


NOON_MSK = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "label_ru"),
    [
        ("+7 999 123-45-67 после 18:00", "после 18:00"),
        ("after 6pm please", "после 18:00"),
        ("позвоните завтра утром", "завтра после 09:00"),
        ("в 7 вечера", "в 19:00"),
        ("через 2 часа", "после 14:00"),
        ("до 15:30", "до 15:30"),
        ("tomorrow at 10am", "завтра в 10:00"),
    ],
)
def test_customers_say_when_to_call_in_many_ways(text: str, label_ru: str) -> None:
    wish = parse_wish(text, NOON_MSK, MSK)
    assert wish is not None and wish.label("ru", NOON_MSK, MSK) == label_ru


def test_a_time_of_day_already_past_means_tomorrow_and_bare_numbers_are_not_times() -> None:
    evening = datetime(2026, 12, 7, 17, 0, tzinfo=UTC)  # 20:00 MSK
    wish = parse_wish("после 18:00", evening, MSK)
    assert wish is not None and wish.label("en", evening, MSK) == "tomorrow after 18:00"
    assert parse_wish("89161234567", NOON_MSK, MSK) is None
    assert parse_wish("карта 5678, сумма 1500", NOON_MSK, MSK) is None


def test_the_phone_is_found_beside_the_time_and_a_customer_may_decline() -> None:
    text = "8 916 555 44 33 18:00"
    wish = parse_wish(text, NOON_MSK, MSK)
    assert find_phone(text, skip=wish.span if wish else None) == "+79165554433"
    assert find_phone("позвоните мне пожалуйста") is None
    assert is_way_out("отмена") and is_way_out("No thanks") and not is_way_out("нет карты")
