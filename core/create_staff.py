"""Create or update a staff account: `python -m core.create_staff LOGIN --role content_editor [--name NAME]`.

The password is read from the STAFF_PASSWORD environment variable or asked for (never a command-line argument,
which would land in the shell history and the process list).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os

from core import db as core_db
from core import staff
from core.settings import Settings
from core.staff import Role

# Short passwords are refused: staff accounts can edit what customers are told.
_MIN_PASSWORD_CHARS = 10


async def _create(login: str, password: str, name: str, roles: tuple[Role, ...]) -> None:
    settings = Settings.from_env()
    client = core_db.connect(settings)
    try:
        db = core_db.database(client, settings)
        await staff.ensure_indexes(db)
        await staff.save_staff(db, login, password, display_name=name, roles=roles)
    finally:
        await client.close()


def main() -> None:
    """Parse arguments, read the password, save the account."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("login")
    parser.add_argument("--role", action="append", required=True, choices=[r.value for r in Role])
    parser.add_argument("--name", default=None, help="display name (default: the login)")
    args = parser.parse_args()
    password = os.environ.get("STAFF_PASSWORD") or getpass.getpass(f"Password for {args.login}: ")
    if len(password) < _MIN_PASSWORD_CHARS:
        parser.error(f"the password needs at least {_MIN_PASSWORD_CHARS} characters")
    roles = tuple(Role(r) for r in args.role)
    asyncio.run(_create(args.login, password, args.name or args.login, roles))
    print(f"Saved staff account {args.login} with roles {', '.join(r.value for r in roles)}.")


if __name__ == "__main__":
    main()
