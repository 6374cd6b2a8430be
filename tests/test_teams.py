"""The configured team list: what a deployment can write in teams.yml, and what it is told when it is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.teams import GENERAL_TEAM, TeamsError, load_teams, parse_teams


def test_the_shipped_list_has_the_general_team_and_targets_for_every_priority() -> None:
    teams = load_teams()
    assert GENERAL_TEAM in teams
    for team in teams:
        assert team.service_level("urgent").first_response <= team.service_level("normal").first_response
        assert team.title("ru") and team.title("en")


def test_an_unknown_team_is_refused_with_the_valid_names() -> None:
    teams = load_teams()
    with pytest.raises(TeamsError, match="choose one of: general"):
        teams.require("x" * 200_000)
    with pytest.raises(TeamsError, match="Unknown team 'marketing'"):
        teams.require("marketing")
    assert teams.require("cards").name == "cards"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({}, "non-empty 'teams:'"),
        (
            {"teams": [{"name": "cards", "service_levels": {"normal": {"first_response": 60, "next_response": 60}}}]},
            "'general'",
        ),
        ({"teams": [{"name": "general", "service_levels": {}}]}, "needs at least 'normal'"),
        (
            {"teams": [{"name": "general", "service_levels": {"normal": {"first_response": -1, "next_response": 1}}}]},
            "positive",
        ),
        (
            {"teams": [{"name": "two words", "service_levels": {"normal": {"first_response": 1, "next_response": 1}}}]},
            "identifier",
        ),
    ],
)
def test_a_malformed_list_names_the_field(document: object, message: str) -> None:
    with pytest.raises(TeamsError, match=message):
        parse_teams(document)


def test_teams_file_overrides_the_shipped_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "teams.yml"
    path.write_text(
        "teams:\n  - name: general\n    service_levels: {normal: {first_response: 30, next_response: 30}}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("TEAMS_FILE", str(path))
    assert load_teams().names == ("general",)
