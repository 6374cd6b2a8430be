"""Operator working hours: outside them, customers are offered a message or a callback instead of a queue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo


class HoursError(ValueError):
    """The hours setting is malformed."""


@dataclass(frozen=True)
class WorkingHours:
    """Daily opening hours in one time zone; "00:00-24:00" means always open."""

    opens: time
    closes: time | None  # None: until midnight
    zone: ZoneInfo

    @classmethod
    def parse(cls, spec: str, zone: str) -> WorkingHours:
        """Parse "HH:MM-HH:MM" (e.g. "09:00-21:00").

        Raises:
            HoursError: with the expected format.
        """
        try:
            start, end = (part.strip() for part in spec.split("-", 1))
            opens = time.fromisoformat(start)
            closes = None if end == "24:00" else time.fromisoformat(end)
            return cls(opens=opens, closes=closes, zone=ZoneInfo(zone))
        except (ValueError, KeyError) as err:
            raise HoursError(f"OPERATOR_HOURS must look like 09:00-21:00, got {spec!r}") from err

    def is_open(self, now: datetime) -> bool:
        """Whether operators work at this moment."""
        local = now.astimezone(self.zone).time()
        return local >= self.opens and (self.closes is None or local < self.closes)

    def describe(self) -> tuple[str, str]:
        """Opening and closing times for the customer notice."""
        return self.opens.strftime("%H:%M"), self.closes.strftime("%H:%M") if self.closes else "24:00"
