"""Staff accounts: creation, login with lockout, roles, disabling and unlocking.

Login never tells which usernames exist (architecture principle 2). A wrong username, a
wrong password, a disabled account and a locked one all raise the same
:class:`StaffBadCredentials` after the same work (an Argon2 verification, against a dummy
hash when there is no account to check): a locked account saying "locked" would tell that
it exists, so the one message covers both. Five failures in a row lock the account for
15 minutes; while locked even the right password fails, so guessing cannot go on.

Each client (IP address) has a limit as well, as patron login has (``patrons/login.py``):
an attempt is counted before any password is checked, a right password gives its count
back, and over the limit :class:`StaffLoginLimited` comes before any lookup result is used,
for every username alike. So one client cannot try passwords on many accounts in turn.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cardservice.db.base import utcnow
from cardservice.db.engine import Database
from cardservice.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    RateLimited,
    Unauthenticated,
)
from cardservice.profiles.schema import PasswordSection
from cardservice.security.passwords import (
    check_password,
    dummy_hash,
    hash_password,
    verify_password,
)
from cardservice.security.ratelimit import hit, refund
from cardservice.staff import audit
from cardservice.staff.models import Role, StaffUser

MAX_FAILED_ATTEMPTS = 5
LOCKOUT = timedelta(minutes=15)
# Staff accounts open ID images and personal data: NIST's rules with a longer minimum.
STAFF_PASSWORD_POLICY = PasswordSection(policy="nist", min_length=12, max_length=128)
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
_TARGET = "staff_user"
STAFF_LOGIN_PER_CLIENT: Final = "staff_login_client"


@dataclass(frozen=True, slots=True)
class StaffLoginLimits:
    """Failed attempts one client (IP address) may make per ``window``. Staff are a few
    people on the library's network, so fewer than patrons get (60 per 15 minutes)."""

    per_client: int = 20
    window: timedelta = timedelta(minutes=15)


class StaffBadCredentials(Unauthenticated):
    """The username or password is wrong, or the account is locked after failed logins."""

    code = "staff_bad_credentials"


class StaffLoginLimited(RateLimited):
    """Too many login attempts from here. Please wait a while and try again."""

    code = "staff_login_limited"


class StaffForbidden(Forbidden):
    """This staff role may not do that."""

    code = "staff_forbidden"


class StaffNotFound(NotFound):
    """No staff account has that username."""

    code = "staff_not_found"


class StaffExists(Conflict):
    """A staff account with that username exists already."""

    code = "staff_exists"


class StaffInvalid(InvalidInput):
    """The staff account details are not valid."""

    code = "staff_invalid"


def normalise_username(username: str) -> str:
    return unicodedata.normalize("NFKC", username).strip().lower()


async def create_staff(
    session: AsyncSession,
    username: str,
    password: str,
    role: Role | str,
    *,
    display_name: str = "",
    actor_id: int | None = None,
) -> StaffUser:
    """A new account. ``actor_id`` is the admin who made it (None: the system, the CLI)."""
    name = normalise_username(username)
    if not _USERNAME.match(name):
        raise StaffInvalid(
            "Usernames are 2-64 of a-z, 0-9, '.', '_' and '-'.",
            code="staff_bad_username",
            field="username",
        )
    checked_role = _role(role)
    check_password(STAFF_PASSWORD_POLICY, password, email=None)
    # Hashed before the session's first statement, which on SQLite takes the write lock.
    password_hash = await hash_password(password)
    if await session.scalar(select(StaffUser.id).where(StaffUser.username == name)):
        raise StaffExists(username=name)
    user = StaffUser(
        username=name,
        display_name=display_name or name,
        role=checked_role,
        password_hash=password_hash,
    )
    session.add(user)
    try:
        await session.flush()
    except IntegrityError:  # created by someone else between our check and our insert
        raise StaffExists(username=name) from None
    await _audit(session, actor_id, "staff.create", user, role=checked_role)
    return user


def _role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise StaffInvalid(
            "The role is reviewer, counter or admin.", code="staff_bad_role", field="role"
        ) from None


async def authenticate(
    db: Database,
    username: str,
    password: str,
    *,
    client: str = "",
    limits: StaffLoginLimits | None = None,
    secret: bytes = b"",
    now: datetime | None = None,
) -> StaffUser:
    """The user whose credentials these are; else :class:`StaffBadCredentials` (unknown,
    disabled or locked account, wrong password: one answer), or :class:`StaffLoginLimited`
    when ``client`` (an IP address; "" for the CLI, which has no client) is over ``limits``.
    ``secret`` keys the HMAC the rate-limit table stores instead of the address.

    Takes the database rather than a session: a failed login must be counted although the
    login itself fails, and the slow hash runs between short transactions instead of
    inside one (on SQLite a transaction holds the write lock).
    """
    now = now or utcnow()
    limits = limits or StaffLoginLimits()
    async with db.transaction() as session:
        allowed = not client or await hit(
            session,
            STAFF_LOGIN_PER_CLIENT,
            client,
            limit=limits.per_client,
            window=limits.window,
            now=now,
            secret=secret,
        )
        user = await session.scalar(
            select(StaffUser).where(StaffUser.username == normalise_username(username))
        )
    # Raised only now: the transaction must commit, so refused attempts count too.
    if not allowed:
        raise StaffLoginLimited
    if user is None or user.disabled_at is not None or user.is_locked(now):
        await verify_password(await dummy_hash(), password)  # the same work as a real check
        raise StaffBadCredentials
    verified = await verify_password(user.password_hash, password)
    if not verified.ok:
        await _count_failure(db, user.id, now)
        raise StaffBadCredentials
    logged_in = await _record_login(db, user, verified.new_hash, now)
    if client:  # a right password was no failure: the attempt no longer counts
        async with db.transaction() as session:
            await refund(
                session,
                STAFF_LOGIN_PER_CLIENT,
                client,
                window=limits.window,
                counted_at=now,
                secret=secret,
            )
    return logged_in


async def _count_failure(db: Database, user_id: int, now: datetime) -> None:
    async with db.transaction() as session:
        # The increment is one statement, so concurrent failures all count; its row lock
        # holds until commit, so the lock decision below sees a settled count.
        attempts = await session.scalar(
            update(StaffUser)
            .where(StaffUser.id == user_id)
            .values(failed_attempts=StaffUser.failed_attempts + 1)
            .returning(StaffUser.failed_attempts)
        )
        if attempts is not None and attempts >= MAX_FAILED_ATTEMPTS:
            await session.execute(
                update(StaffUser)
                .where(StaffUser.id == user_id)
                .values(failed_attempts=0, locked_until=now + LOCKOUT)
            )
            await audit.record(
                session,
                staff_id=None,
                action="staff.lock",
                target_type=_TARGET,
                target_id=user_id,
                detail={"failed_attempts": attempts, "minutes": int(LOCKOUT.total_seconds()) // 60},
            )


async def _record_login(
    db: Database, seen: StaffUser, new_hash: str | None, now: datetime
) -> StaffUser:
    async with db.transaction() as session:
        user = await session.get(StaffUser, seen.id, with_for_update=True)
        # Re-checked under the lock: the account may have changed while we were hashing.
        if user is None or user.disabled_at is not None or user.password_hash != seen.password_hash:
            raise StaffBadCredentials
        if user.is_locked(now):
            raise StaffBadCredentials
        user.failed_attempts = 0
        user.locked_until = None
        user.last_login_at = now
        if new_hash is not None:
            user.password_hash = new_hash
        await _audit(session, user.id, "staff.login", user)
    return user


def require_role(user: StaffUser, *roles: Role | str) -> None:
    """Raise :class:`StaffForbidden` unless ``user`` has one of ``roles``; admin has all."""
    if user.disabled_at is not None:
        raise StaffForbidden
    if user.role != Role.ADMIN and user.role not in roles:
        raise StaffForbidden(required=sorted(str(r) for r in roles))


async def get_staff(session: AsyncSession, username: str) -> StaffUser:
    name = normalise_username(username)
    user = await session.scalar(select(StaffUser).where(StaffUser.username == name))
    if user is None:
        raise StaffNotFound(username=name)
    return user


async def list_staff(session: AsyncSession) -> list[StaffUser]:
    return list(await session.scalars(select(StaffUser).order_by(StaffUser.username)))


async def disable_staff(
    session: AsyncSession,
    username: str,
    *,
    actor_id: int | None = None,
    now: datetime | None = None,
) -> StaffUser:
    """Disable for good: the account can no longer log in and its sessions lose all roles."""
    user = await get_staff(session, username)
    if user.disabled_at is None:
        user.disabled_at = now or utcnow()
        await _audit(session, actor_id, "staff.disable", user)
    return user


async def unlock_staff(
    session: AsyncSession, username: str, *, actor_id: int | None = None
) -> StaffUser:
    """Lift a lockout before it runs out and forget the failed attempts."""
    user = await get_staff(session, username)
    user.failed_attempts = 0
    user.locked_until = None
    await _audit(session, actor_id, "staff.unlock", user)
    return user


async def set_staff_password(
    session: AsyncSession, user: StaffUser, password: str, *, actor_id: int | None
) -> None:
    """Replace the password; reset links bound to the old hash stop working with it."""
    check_password(STAFF_PASSWORD_POLICY, password, email=None)
    user.password_hash = await hash_password(password)
    await _audit(session, actor_id, "staff.password_change", user)


async def _audit(
    session: AsyncSession, actor_id: int | None, action: str, user: StaffUser, **detail: str
) -> None:
    await audit.record(
        session,
        staff_id=actor_id,
        action=action,
        target_type=_TARGET,
        target_id=user.id,
        detail={"username": user.username, **detail},
    )
