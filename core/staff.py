"""Staff accounts and sessions: argon2 password hashes, server-side sessions, CSRF tokens, roles.

Written for the operator console (issue 4) because the knowledge-base editor's
version (issue 3) had not landed yet; it is generic so both can share it.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from core import signin_guard
from core.db import Database, insert_if_missing, upsert_by_id

SESSION_COOKIE = "cc_staff"
CSRF_HEADER = "X-CSRF-Token"
# A working shift plus a margin; after that staff sign in again.
SESSION_TTL_SECONDS = 12 * 3600

_hasher = PasswordHasher()
# One argon2 at a time per process: each takes tens of milliseconds of every core and 64 MiB, and
# parallel sign-ins on the default executor left customers' requests no CPU (issue 10: search p50
# 17 ms -> 1.9 s under 16 parallel wrong sign-ins). Sign-ins queue here instead.
_PASSWORD_EXECUTOR = ThreadPoolExecutor(max_workers=1, thread_name_prefix="argon2")
# Staff can read customers' data and edit what customers are told: production refuses shorter passwords.
MIN_PASSWORD_CHARS = 12
# Passwords printed in the README for the local demo accounts (handoff/setup.py, knowledge_base/setup.py;
# tests/test_production_settings.py checks the lists agree). No production account may use one.
DOCUMENTED_PASSWORDS = frozenset({"local-dev-staff-password", "local-dev-editor-password"})
# Verifying against this keeps unknown logins as slow as wrong passwords (no user enumeration by timing).
_DUMMY_HASH = _hasher.hash("not-a-real-password")


class Role(StrEnum):
    """What a staff member may do."""

    CONTENT_EDITOR = "content_editor"
    OPERATOR = "operator"
    SUPERVISOR = "supervisor"


@dataclass(frozen=True)
class StaffUser:
    """A signed-in staff member."""

    login: str
    display_name: str
    roles: frozenset[Role]

    def has(self, *roles: Role) -> bool:
        """Whether the user holds any of the roles."""
        return bool(self.roles.intersection(roles))


@dataclass(frozen=True)
class StaffSession:
    """A server-side session: the cookie carries only its random id."""

    token: str
    csrf: str
    user: StaffUser


async def ensure_indexes(db: Database) -> None:
    """Sessions expire by their own time; the sign-in audit is read newest first."""
    await db.staff_sessions.create_index([("expires_at", 1)])
    await signin_guard.ensure_indexes(db)


def weak_password(password: str) -> str | None:
    """Why a password may not guard a production account, or None."""
    if password in DOCUMENTED_PASSWORDS:
        return "it is a documented demo password"
    if len(password) < MIN_PASSWORD_CHARS:
        return f"it is shorter than {MIN_PASSWORD_CHARS} characters"
    return None


async def save_staff(db: Database, login: str, password: str, *, display_name: str, roles: tuple[Role, ...]) -> None:
    """Create or update a staff account with an argon2 hash of the password.

    `weak_password` is kept beside the hash (a yes/no, never the length), so a production start can
    name every account a short or documented password guards without trying passwords against hashes.
    """
    password_hash = await asyncio.get_running_loop().run_in_executor(_PASSWORD_EXECUTOR, _hasher.hash, password)
    fields = {
        "display_name": display_name,
        "roles": [r.value for r in roles],
        "password_hash": password_hash,
        "weak_password": weak_password(password) is not None,
    }
    await upsert_by_id(db.staff, login, {"$set": fields})


async def weak_password_accounts(db: Database) -> list[str]:
    """Logins whose password is short or documented.

    Accounts saved before the flag existed are checked against the documented passwords (a few
    argon2 verifications each, once: the flag is written then).
    """
    weak: list[str] = []
    loop = asyncio.get_running_loop()
    async for doc in db.staff.find({}, {"_id": 1, "weak_password": 1, "password_hash": 1}):
        flagged = doc.get("weak_password")
        if flagged is None:
            flagged = False
            for documented in sorted(DOCUMENTED_PASSWORDS):
                if await loop.run_in_executor(_PASSWORD_EXECUTOR, _verify, doc.get("password_hash", ""), documented):
                    flagged = True
                    break
            await db.staff.update_one({"_id": doc["_id"]}, {"$set": {"weak_password": flagged}})
        if flagged:
            weak.append(doc["_id"])
    return sorted(weak)


async def ensure_staff(db: Database, login: str, password: str, *, display_name: str, roles: tuple[Role, ...]) -> None:
    """Create the account only if it does not exist (demo seeding never resets a changed password)."""
    if await db.staff.count_documents({"_id": login}, limit=1) == 0:
        # Created by a unique insert: two gateways seeding a fresh database at once both succeed, and an
        # account created meanwhile (its password perhaps changed since) is never overwritten.
        password_hash = await asyncio.get_running_loop().run_in_executor(_PASSWORD_EXECUTOR, _hasher.hash, password)
        doc = {"_id": login, "display_name": display_name, "roles": [r.value for r in roles]}
        weak = weak_password(password) is not None
        await insert_if_missing(db.staff, doc | {"password_hash": password_hash, "weak_password": weak})


async def delete_staff(db: Database, login: str) -> bool:
    """Remove an account and end its sessions; False when there was none."""
    await db.staff_sessions.delete_many({"login": login})
    return (await db.staff.delete_one({"_id": login})).deleted_count == 1


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def authenticate(db: Database, login: str, password: str) -> StaffUser | None:
    """Check a login and password; None when either is wrong (the caller says nothing more)."""
    doc = await db.staff.find_one({"_id": login})
    ok = await asyncio.get_running_loop().run_in_executor(
        _PASSWORD_EXECUTOR, _verify, doc["password_hash"] if doc else _DUMMY_HASH, password
    )
    if not doc or not ok:
        return None
    return StaffUser(login=login, display_name=doc["display_name"], roles=frozenset(Role(r) for r in doc["roles"]))


def _stored_id(token: str) -> str:
    """What the database keeps of a session token: its SHA-256, so a copy of the database signs nobody in."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _csrf_of(token: str) -> str:
    """The session's CSRF token, derived from the session token: stored nowhere, shown to the page on request."""
    return hashlib.sha256(b"csrf\x00" + token.encode("utf-8")).hexdigest()


async def start_session(db: Database, user: StaffUser, *, now: datetime) -> StaffSession:
    """Open a session for a signed-in user; the database keeps only a hash of its token."""
    token = secrets.token_urlsafe(32)
    session = StaffSession(token=token, csrf=_csrf_of(token), user=user)
    await db.staff_sessions.insert_one(
        {
            "_id": _stored_id(token),
            "login": user.login,
            "expires_at": now + timedelta(seconds=SESSION_TTL_SECONDS),
        }
    )
    return session


async def load_session(db: Database, token: str, *, now: datetime) -> StaffSession | None:
    """The live session for a cookie value, or None."""
    doc = await db.staff_sessions.find_one({"_id": _stored_id(token)})
    if doc is None or doc["expires_at"] <= now:
        return None
    staff = await db.staff.find_one({"_id": doc["login"]})
    if staff is None:
        return None
    user = StaffUser(
        login=staff["_id"], display_name=staff["display_name"], roles=frozenset(Role(r) for r in staff["roles"])
    )
    return StaffSession(token=token, csrf=_csrf_of(token), user=user)


async def end_session(db: Database, token: str) -> None:
    """Sign out."""
    await db.staff_sessions.delete_one({"_id": _stored_id(token)})


def csrf_matches(session: StaffSession, presented: str | None) -> bool:
    """Constant-time check of the CSRF token a state-changing request presents."""
    return presented is not None and secrets.compare_digest(session.csrf, presented)
