"""Production start check: with CC_ENV=production the gateway refuses demo accounts and default secrets."""

from __future__ import annotations

import logging

from core import staff
from core.db import Database
from core.settings import PRODUCTION, Settings, SettingsError

logger = logging.getLogger(__name__)

# The staff accounts local runs seed (handoff/setup.py: operators and a supervisor; knowledge_base/setup.py:
# the content editor). Their passwords are in the README, so none of them may exist in production.
DEMO_STAFF_LOGINS = ("olga", "kate", "sveta", "editor")


async def demo_accounts(db: Database) -> list[str]:
    """Demo staff accounts present in the database, by login."""
    found = db.staff.find({"_id": {"$in": list(DEMO_STAFF_LOGINS)}}, {"_id": 1})
    return sorted([doc["_id"] async for doc in found])


async def refuse_unsafe_production(settings: Settings, db: Database) -> None:
    """Raise naming every demo account and default secret when CC_ENV=production; nothing in other environments.

    Raises:
        SettingsError: listing each problem and how to fix it.
    """
    if settings.env != PRODUCTION:
        return
    problems = settings.production_problems()
    problems.extend(
        f"Demo staff account {login!r} exists (its password is documented); "
        f"delete it: python -m core.create_staff {login} --delete."
        for login in await demo_accounts(db)
    )
    demo = set(DEMO_STAFF_LOGINS)
    problems.extend(
        f"Staff account {login!r} has a short or documented password; set a new one of at least "
        f"{staff.MIN_PASSWORD_CHARS} characters: python -m core.create_staff {login} --role ... (or --delete)."
        for login in await staff.weak_password_accounts(db)
        if login not in demo
    )
    if problems:
        message = "Refusing to start with CC_ENV=production:\n- " + "\n- ".join(problems)
        logger.error("%s", message)
        raise SettingsError(message)
