"""Teams come from the configured list only: operator skills, reasons that need a team, the bot's team."""

from __future__ import annotations

import pytest

from core.db import Database
from core.teams import TeamsError, configured_teams
from handoff import operators
from handoff.conversations import HandoffReason, team_of

from .handoff_support import db, ferretdb, mongo

__all__ = ["db", "ferretdb", "mongo"]


async def test_an_operator_skill_must_name_a_configured_team(db: Database) -> None:
    with pytest.raises(TeamsError, match="astrology"):
        await operators.save_operator(db, "olga", display_name="Ольга", languages=("ru",), skills=("astrology",))
    saved = await operators.save_operator(db, "olga", display_name="Ольга", languages=("ru",), skills=("cards",))
    assert saved.skills == ("cards",)


async def test_startup_names_operators_whose_skills_left_the_team_list(db: Database) -> None:
    # A profile stored before the team list changed: routing would never send them this work.
    await db.operators.insert_one({"_id": "kate", "display_name": "Kate", "skills": ["cards", "mortgages"]})
    assert await operators.operators_with_unknown_skills(db) == {"kate": ["mortgages"]}


def test_reasons_that_need_a_team_name_configured_teams() -> None:
    assert team_of(HandoffReason.BLOCK_CARD_UNVERIFIED) == "cards"
    assert all(team_of(reason) in (None, *configured_teams().names) for reason in HandoffReason)
