"""When a customer wants to be called back, read from what they type.

"после 18:00", "after 6pm", "завтра утром", "in two hours", "+7 999 123-45-67 после 18:00" (the phone
number is found around the time).

Times are the bank's local time (the operators' time zone). A time of day that has passed today means
tomorrow. The result keeps the customer's relation ("after", "before", "at") so the operator calls within it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

DEFAULT_ZONE = ZoneInfo("Europe/Moscow")

_AFTER = r"после|позже|не\s+раньше|с|от|after|from|not\s+before|later\s+than"
_BEFORE = r"до|не\s+позже|before|until|till|by"
_AT = r"в|во|к|около|примерно\s+в|at|around|about"
_CLOCK = (
    r"(?P<h>\d{1,2})(?:[:.](?P<m>\d{2}))?\s*(?P<ampm>a\.?m\.?|p\.?m\.?|am|pm)?"
    r"(?:\s*(?:ч(?:ас(?:а|ов)?)?\.?|o'?clock))?"
)
# A relation word before a clock time, or a clock time that cannot be anything else (has minutes or am/pm).
_TIME_RE = re.compile(
    rf"(?<![\w+])(?:(?P<rel>{_AFTER}|{_BEFORE}|{_AT})\s+)?{_CLOCK}(?![\w:])",
    re.IGNORECASE,
)
_PARTS = {
    "утр": 9,
    "morning": 9,
    "днём": 13,
    "днем": 13,
    "обед": 13,
    "afternoon": 13,
    "lunch": 13,
    "вечер": 18,
    "evening": 18,
    "tonight": 18,
}
_PART_RE = re.compile(
    r"(?<!\w)(утр\w*|днём|днем|обед\w*|вечер\w*|morning|afternoon|lunch\w*|evening|tonight)(?!\w)", re.IGNORECASE
)
_DAY_RE = re.compile(r"(?<!\w)(послезавтра|завтра|сегодня|tomorrow|today)(?!\w)", re.IGNORECASE)
_DAYS = {"сегодня": 0, "today": 0, "завтра": 1, "tomorrow": 1, "послезавтра": 2}
_IN_RE = re.compile(
    r"(?<!\w)(?:через|in)\s+(?P<n>\d{1,3}|пол|half\s+an?|an?|one|two|three|один|два|две|три|час|полчаса)?\s*"
    r"(?P<unit>час\w*|hour\w*|минут\w*|min\w*|полчаса)",
    re.IGNORECASE,
)
_WORD_NUMBERS = {"a": 1, "an": 1, "one": 1, "один": 1, "час": 1, "two": 2, "два": 2, "две": 2, "three": 3, "три": 3}

_LABELS = {
    "ru": {"after": "после {t}", "before": "до {t}", "at": "в {t}", "tomorrow": "завтра ", "day": "{d} "},
    "en": {"after": "after {t}", "before": "before {t}", "at": "at {t}", "tomorrow": "tomorrow ", "day": "on {d} "},
}


@dataclass(frozen=True)
class CallbackWish:
    """When to call: `at` (aware, UTC-comparable) and how it relates to the customer's words."""

    at: datetime
    relation: str  # "after", "before" or "at"
    span: tuple[int, int]  # where in the text the time was said (the phone is looked for elsewhere)

    def label(self, language: str | None, now: datetime, zone: ZoneInfo = DEFAULT_ZONE) -> str:
        """How the customer and the operator read it: "после 18:00", "tomorrow after 09:00"."""
        texts = _LABELS.get(language or "ru", _LABELS["ru"])
        local, today = self.at.astimezone(zone), now.astimezone(zone).date()
        text = texts[self.relation].format(t=local.strftime("%H:%M"))
        days = (local.date() - today).days
        if days == 1:
            return texts["tomorrow"] + text
        if days > 1:
            return texts["day"].format(d=local.strftime("%d.%m")) + text
        return text


def _relation(word: str | None) -> str:
    if not word:
        return "at"
    w = word.lower()
    if re.fullmatch(_AFTER, w, re.IGNORECASE):
        return "after"
    if re.fullmatch(_BEFORE, w, re.IGNORECASE):
        return "before"
    return "at"


def parse_wish(text: str, now: datetime, zone: ZoneInfo = DEFAULT_ZONE) -> CallbackWish | None:
    """The wished-for time in a message, or None when it names none."""
    local_now = now.astimezone(zone)
    day_match = _DAY_RE.search(text)
    day_offset = _DAYS[day_match.group(1).lower()] if day_match else None
    if (relative := _IN_RE.search(text)) is not None:
        raw = (relative.group("n") or "1").lower()
        unit = relative.group("unit").lower()
        if unit.startswith("полчас") or raw in {"пол", "полчаса"} or raw.startswith("half"):
            delta = timedelta(minutes=30)
        else:
            count = int(raw) if raw.isdigit() else _WORD_NUMBERS.get(raw, 1)
            delta = timedelta(hours=count) if unit.startswith(("час", "hour")) else timedelta(minutes=count)
        return CallbackWish(at=now + delta, relation="after", span=relative.span())
    part = _PART_RE.search(text)
    part_hour = _part_hour(part.group(1)) if part else None
    for match in _TIME_RE.finditer(text):
        rel, minutes, ampm = match.group("rel"), match.group("m"), match.group("ampm")
        if not (rel or minutes or ampm or re.search(r"ч|час|o'?clock", match.group(0), re.IGNORECASE)):
            continue  # a bare number is part of a phone number or an amount, not a time
        hour, minute = int(match.group("h")), int(minutes or 0)
        if ampm:
            if hour > 12:
                continue
            hour = hour % 12 + (12 if ampm.lower().startswith("p") else 0)
        elif part_hour is not None and part_hour >= 13 and hour < 12:
            hour += 12  # "в 7 вечера"
        elif part_hour is None and 1 <= hour <= 7:
            hour += 12  # "после 6": nobody asks for a call at six in the morning
        if hour > 23 or minute > 59:
            continue
        return _at(local_now, hour, minute, day_offset, _relation(rel), match.span())
    if part is not None and part_hour is not None:
        return _at(local_now, part_hour, 0, day_offset, "after", part.span())
    return None


def _part_hour(word: str) -> int | None:
    lowered = word.lower()
    return next((hour for key, hour in _PARTS.items() if lowered.startswith(key)), None)


def _at(
    local_now: datetime, hour: int, minute: int, day_offset: int | None, relation: str, span: tuple[int, int]
) -> CallbackWish:
    at = local_now.replace(hour=hour, minute=minute, second=0, microsecond=0) + timedelta(days=day_offset or 0)
    if day_offset is None and at <= local_now and relation != "before":
        at += timedelta(days=1)  # "после 9" said at 15:00: tomorrow morning
    return CallbackWish(at=at, relation=relation, span=span)
