"""Create or update a staff account: `python -m core.create_staff LOGIN --role content_editor [--name NAME]`.

`python -m core.create_staff LOGIN --delete` removes one (a production start refuses demo accounts).

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


async def _create(login: str, password: str, name: str, roles: tuple[Role, ...]) -> None:
    settings = Settings.from_env()
    client = core_db.connect(settings)
    try:
        db = core_db.database(client, settings)
        await staff.ensure_indexes(db)
        await staff.save_staff(db, login, password, display_name=name, roles=roles)
    finally:
        await client.close()


async def _delete(login: str) -> bool:
    settings = Settings.from_env()
    client = core_db.connect(settings)
    try:
        return await staff.delete_staff(core_db.database(client, settings), login)
    finally:
        await client.close()


def main() -> None:
    """Parse arguments, read the password, save the account."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("login")
    parser.add_argument("--role", action="append", choices=[r.value for r in Role])
    parser.add_argument("--name", default=None, help="display name (default: the login)")
    parser.add_argument("--delete", action="store_true", help="remove the account and end its sessions")
    args = parser.parse_args()
    if args.delete:
        deleted = asyncio.run(_delete(args.login))
        print(f"Deleted staff account {args.login}." if deleted else f"There is no staff account {args.login}.")
        return
    if not args.role:
        parser.error("give at least one --role")
    password = os.environ.get("STAFF_PASSWORD") or getpass.getpass(f"Password for {args.login}: ")
    if reason := staff.weak_password(password):
        # Staff accounts can read customers' data and edit what customers are told.
        parser.error(f"refusing this password: {reason}")
    roles = tuple(Role(r) for r in args.role)
    asyncio.run(_create(args.login, password, args.name or args.login, roles))
    print(f"Saved staff account {args.login} with roles {', '.join(r.value for r in roles)}.")


if __name__ == "__main__":
    main()
