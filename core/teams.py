"""The configured team list.

One place names every team an operator, a transfer, routing, a service-level target or a campaign may
refer to, so that nothing routes to a team nobody serves.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

DEFAULT_TEAMS_FILE = Path(__file__).with_name("teams.yml")
PRIORITIES = ("urgent", "high", "normal")
# The team a conversation without a special need is routed to (any operator speaking the language).
GENERAL_TEAM = "general"
MAX_TEAM_NAME_CHARS = 40


class TeamsError(ValueError):
    """The team list is malformed, or a name is not in it."""


@dataclass(frozen=True)
class ServiceLevel:
    """Response targets for one priority, in seconds."""

    first_response: int
    next_response: int


@dataclass(frozen=True)
class Team:
    """One team as configured."""

    name: str
    titles: Mapping[str, str]
    languages: tuple[str, ...]
    service_levels: Mapping[str, ServiceLevel]
    # "HH:MM-HH:MM" in the operators' time zone; None means the operators' general hours.
    hours: str | None = None
    skills: tuple[str, ...] = field(default=())

    def title(self, language: str | None) -> str:
        """The team's name for people, in their language (Russian first)."""
        return self.titles.get(language or "ru") or self.titles.get("ru") or self.name

    def service_level(self, priority: str) -> ServiceLevel:
        """The targets for a priority; an unknown priority gets the normal ones."""
        return self.service_levels.get(priority) or self.service_levels["normal"]

    def to_dict(self) -> dict[str, Any]:
        """Serialize for the console and the supervisor page."""
        return {
            "name": self.name,
            "titles": dict(self.titles),
            "languages": list(self.languages),
            "skills": list(self.skills),
            "hours": self.hours,
            "service_levels": {
                priority: {"first_response": level.first_response, "next_response": level.next_response}
                for priority, level in self.service_levels.items()
            },
        }


@dataclass(frozen=True)
class TeamList:
    """The teams by name, in configured order."""

    teams: tuple[Team, ...]

    def __iter__(self) -> Iterator[Team]:
        return iter(self.teams)

    def __contains__(self, name: object) -> bool:
        return any(team.name == name for team in self.teams)

    @property
    def names(self) -> tuple[str, ...]:
        """Team names in configured order."""
        return tuple(team.name for team in self.teams)

    def get(self, name: str | None) -> Team | None:
        """The team of that name, or None."""
        return next((team for team in self.teams if team.name == name), None)

    def require(self, name: object) -> Team:
        """The team of that name, or a TeamsError that lists the valid names (for a 400 answer)."""
        if not isinstance(name, str) or len(name) > MAX_TEAM_NAME_CHARS:
            raise TeamsError(f"Unknown team; choose one of: {', '.join(self.names)}.")
        team = self.get(name)
        if team is None:
            raise TeamsError(f"Unknown team {name!r}; choose one of: {', '.join(self.names)}.")
        return team

    def to_list(self) -> list[dict[str, Any]]:
        """Serialize every team for the console and the supervisor page."""
        return [team.to_dict() for team in self.teams]


def _positive_int(value: object, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise TeamsError(f"{where} must be a positive number of seconds, got {value!r}")
    return value


def parse_teams(raw: object) -> TeamList:
    """Validate a loaded YAML document into a TeamList; every error names the field."""
    if not isinstance(raw, dict) or not isinstance(raw.get("teams"), list) or not raw["teams"]:
        raise TeamsError("The team list needs a non-empty 'teams:' list.")
    teams: list[Team] = []
    for index, item in enumerate(raw["teams"]):
        where = f"teams[{index}]"
        if not isinstance(item, dict):
            raise TeamsError(f"{where} must be a mapping")
        name = item.get("name")
        if not isinstance(name, str) or not name or len(name) > MAX_TEAM_NAME_CHARS or not name.isidentifier():
            raise TeamsError(f"{where}.name must be a short identifier, got {name!r}")
        if any(team.name == name for team in teams):
            raise TeamsError(f"{where}.name {name!r} is listed twice")
        titles = item.get("titles") or {}
        if not isinstance(titles, dict) or not all(isinstance(v, str) for v in titles.values()):
            raise TeamsError(f"{where}.titles must map languages to names")
        languages = tuple(item.get("languages") or ("ru", "en"))
        levels_raw = item.get("service_levels") or {}
        if not isinstance(levels_raw, dict) or "normal" not in levels_raw:
            raise TeamsError(f"{where}.service_levels needs at least 'normal'")
        levels: dict[str, ServiceLevel] = {}
        for priority, level in levels_raw.items():
            if priority not in PRIORITIES or not isinstance(level, dict):
                raise TeamsError(f"{where}.service_levels.{priority}: priorities are {', '.join(PRIORITIES)}")
            levels[priority] = ServiceLevel(
                first_response=_positive_int(level.get("first_response"), f"{where}.{priority}.first_response"),
                next_response=_positive_int(level.get("next_response"), f"{where}.{priority}.next_response"),
            )
        hours = item.get("hours")
        if hours is not None and not isinstance(hours, str):
            raise TeamsError(f"{where}.hours must be 'HH:MM-HH:MM'")
        teams.append(
            Team(
                name=name,
                titles={str(k): v for k, v in titles.items()},
                languages=tuple(str(language) for language in languages),
                service_levels=levels,
                hours=hours,
                skills=tuple(str(skill) for skill in item.get("skills") or ()),
            )
        )
    if GENERAL_TEAM not in {team.name for team in teams}:
        raise TeamsError(f"The team list must include the '{GENERAL_TEAM}' team")
    return TeamList(tuple(teams))


def load_teams(path: str | Path | None = None) -> TeamList:
    """Read the team list from a file (TEAMS_FILE, else the shipped core/teams.yml)."""
    source = Path(path or os.environ.get("TEAMS_FILE") or DEFAULT_TEAMS_FILE)
    try:
        raw = yaml.safe_load(source.read_text(encoding="utf-8"))
    except OSError as err:
        raise TeamsError(f"Cannot read the team list {source}: {err}") from err
    return parse_teams(raw)


@lru_cache(maxsize=1)
def configured_teams() -> TeamList:
    """The process's team list, read once."""
    return load_teams()
