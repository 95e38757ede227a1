"""Patron login: a user number or an email address, and the password.

The answer never tells which accounts exist. A wrong number, an unknown email address, a
patron without a password and a wrong password all raise the same
:class:`PatronBadCredentials` after the same work (an Argon2 verification, against a dummy
hash when there is nobody to check). Over the limit, :class:`PatronLoginLimited` comes before
any lookup result is used, for known and unknown accounts alike.

Attempts are limited per account and per client (IP address) with ``security.ratelimit``.
Every attempt counts, right or wrong: the limiter cannot look without counting, and the
password must not be checked before the limit is. A patron logs in a few times a day at
most, so the account limit only ever stops guessing. An account is a patron: the same
counter holds whether someone tries the patron's number or their email address, and an
identifier that matches nobody is counted under the identifier itself.

An email address may belong to several patrons (a family shares one): each of them with a
password is tried, and the first whose password matches logs in.
"""

from __future__ import annotations

import hmac
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cardservice.cards.models import Card, CardStatus
from cardservice.cards.numbers import InvalidNumber, NumberFormat, normalise
from cardservice.db.base import utcnow
from cardservice.db.engine import Database
from cardservice.errors import RateLimited, Unauthenticated
from cardservice.patrons.models import Patron
from cardservice.security.passwords import dummy_hash, password_fingerprint, verify_password
from cardservice.security.ratelimit import hit

PATRON_LOGIN_PER_ACCOUNT: Final = "patron_login_account"
PATRON_LOGIN_PER_CLIENT: Final = "patron_login_client"
# A family sharing one address is a handful of people; more would only multiply the work
# one attempt costs (an Argon2 verification each).
MAX_PATRONS_PER_EMAIL: Final = 8
_MAX_LOGIN_LENGTH: Final = 256

LoginKind = Literal["number", "email"]


@dataclass(frozen=True, slots=True)
class LoginLimits:
    """Attempts allowed per ``window``: per account, and per client address.

    The client limit is higher: a library's public Wi-Fi puts many patrons behind one address.
    """

    per_account: int = 10
    per_client: int = 60
    window: timedelta = timedelta(minutes=15)


class PatronBadCredentials(Unauthenticated):
    """The user number, email address or password is wrong."""

    code = "patron_bad_credentials"


class PatronLoginLimited(RateLimited):
    """Too many login attempts. Please wait a while and try again."""

    code = "patron_login_limited"


@dataclass(frozen=True, slots=True)
class LoginName:
    """What a patron typed in the login field, understood."""

    kind: LoginKind | None  # None: neither an email address nor a valid user number
    value: str


def parse_login(fmt: NumberFormat, raw: str) -> LoginName:
    """An email address (it has an @), else a user number as a scanner or a person typed it."""
    text = unicodedata.normalize("NFKC", raw[:_MAX_LOGIN_LENGTH]).strip()
    if "@" in text:
        return LoginName("email", text.lower())
    try:
        return LoginName("number", normalise(fmt, text))
    except InvalidNumber:
        return LoginName(None, text.lower())


async def authenticate_patron(
    db: Database,
    login: str,
    password: str,
    *,
    number_format: NumberFormat,
    client: str,
    limits: LoginLimits | None = None,
    secret: bytes = b"",
    now: datetime | None = None,
) -> Patron:
    """The patron these credentials belong to, or PatronBadCredentials/PatronLoginLimited.

    Takes the database rather than a session: the attempt must be counted although the
    login fails, and the slow hash runs outside any transaction (on SQLite a transaction
    holds the write lock).
    """
    limits = limits or LoginLimits()
    now = now or utcnow()
    name = parse_login(number_format, login)
    async with db.transaction() as session:
        patrons = await _patrons_named(session, name)
        allowed = await _within_limits(
            session, name, patrons=patrons, client=client, limits=limits, now=now, secret=secret
        )
    # Raised only now: the transaction must commit, so refused attempts count too.
    if not allowed:
        raise PatronLoginLimited
    candidates = [patron for patron in patrons if patron.password_hash]
    if not candidates:
        await verify_password(await dummy_hash(), password)  # the same work as a real check
        raise PatronBadCredentials
    for patron in candidates:
        stored = patron.password_hash or ""
        verified = await verify_password(stored, password)
        if verified.ok:
            if verified.new_hash is not None:
                await _store_stronger_hash(db, patron, stored, verified.new_hash)
            return patron
    raise PatronBadCredentials


async def _patrons_named(session: AsyncSession, name: LoginName) -> list[Patron]:
    if name.kind == "email":
        found = await session.scalars(
            select(Patron)
            .where(Patron.email == name.value)
            .order_by(Patron.id)
            .limit(MAX_PATRONS_PER_EMAIL)
        )
        return list(found)
    if name.kind == "number":
        # A revoked number (lost, reissued) is no longer the patron's name.
        found = await session.scalars(
            select(Patron)
            .join(Card, Card.patron_id == Patron.id)
            .where(Card.user_number == name.value, Card.status != CardStatus.REVOKED)
        )
        return list(found)
    return []


async def _within_limits(
    session: AsyncSession,
    name: LoginName,
    *,
    patrons: list[Patron],
    client: str,
    limits: LoginLimits,
    now: datetime,
    secret: bytes,
) -> bool:
    accounts = [f"patron:{patron.id}" for patron in patrons] or [f"{name.kind}:{name.value}"]
    allowed = await hit(
        session,
        PATRON_LOGIN_PER_CLIENT,
        client,
        limit=limits.per_client,
        window=limits.window,
        now=now,
        secret=secret,
    )
    for account in accounts:
        # Every account is counted, even once the answer is known to be "no".
        allowed &= await hit(
            session,
            PATRON_LOGIN_PER_ACCOUNT,
            account,
            limit=limits.per_account,
            window=limits.window,
            now=now,
            secret=secret,
        )
    return allowed


async def _store_stronger_hash(db: Database, patron: Patron, old: str, new: str) -> None:
    """Today's hash parameters for a password that was right; unless it changed meanwhile."""
    async with db.transaction() as session:
        await session.execute(
            update(Patron)
            .where(Patron.id == patron.id, Patron.password_hash == old)
            .values(password_hash=new)
        )
    patron.password_hash = new


async def session_patron(
    session: AsyncSession, patron_id: object, fingerprint: object
) -> Patron | None:
    """The patron a login session names, while its password is still the one logged in with.

    A changed password ends every session made with the old one.
    """
    if not isinstance(patron_id, int) or isinstance(patron_id, bool):
        return None
    patron = await session.get(Patron, patron_id)
    if patron is None or not patron.password_hash or not isinstance(fingerprint, str):
        return None
    if not hmac.compare_digest(fingerprint, password_fingerprint(patron.password_hash)):
        return None
    return patron
