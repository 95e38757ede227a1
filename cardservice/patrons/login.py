"""Patron login: a user number or an email address, and the password.

The answer never tells which accounts exist. A wrong number, an unknown email address, a
patron without a password and a wrong password all raise the same
:class:`PatronBadCredentials` after the same work (an Argon2 verification, against a dummy
hash when there is nobody to check). Over the limit, :class:`PatronLoginLimited` comes before
any lookup result is used, for known and unknown accounts alike.

Attempts are limited per account and per client (IP address) with ``security.ratelimit``,
and only failures count: a patron who logs in every day never comes near the limit, and
one attacker's guesses cannot lock a household behind one library Wi-Fi address out for
longer than the guesses themselves. Each attempt is counted before the password is
checked (the check must not run over the limit, and counting first keeps the limit exact
when many guesses arrive at once); a right password then gives its count back
(``ratelimit.refund``). An attempt refused over the limit keeps its count, so someone who
keeps trying stays refused until they slow down. An account is a patron: the same counter
holds whether someone tries the patron's number or their email address, and an identifier
that matches nobody is counted under the identifier itself. The current password asked
for by a password change (:func:`verify_current_password`) counts on the same account.

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
from cardservice.mail.addresses import normalise_address
from cardservice.mail.errors import InvalidRecipient
from cardservice.patrons.models import Patron
from cardservice.security.passwords import dummy_hash, password_fingerprint, verify_password
from cardservice.security.ratelimit import hit, refund

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
        try:
            return LoginName("email", normalise_address(raw[:_MAX_LOGIN_LENGTH]))
        except InvalidRecipient:  # no address: it matches nobody, and says nothing more
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
        patrons = await patrons_named(session, name)
        attempt = _Attempt(
            accounts=[f"patron:{patron.id}" for patron in patrons] or [f"{name.kind}:{name.value}"],
            client=client,
            limits=limits,
            at=now,
            secret=secret,
        )
        allowed = await attempt.count(session)
    # Raised only now: the transaction must commit, so refused attempts count too.
    if not allowed:
        raise PatronLoginLimited
    candidates = [patron for patron in patrons if patron.password_hash]
    if not candidates:
        await verify_password(await dummy_hash(), password)  # the same work as a real check
        raise PatronBadCredentials
    for patron in candidates:
        if await _password_matches(db, patron, password):
            await attempt.give_back(db)
            return patron
    raise PatronBadCredentials


async def verify_current_password(
    db: Database,
    patron: Patron,
    password: str,
    *,
    client: str,
    limits: LoginLimits | None = None,
    secret: bytes = b"",
    now: datetime | None = None,
) -> None:
    """Raise PatronBadCredentials unless ``password`` is ``patron``'s, PatronLoginLimited
    over the login limits: a wrong current password is a failed login of that account."""
    attempt = _Attempt(
        accounts=[f"patron:{patron.id}"],
        client=client,
        limits=limits or LoginLimits(),
        at=now or utcnow(),
        secret=secret,
    )
    async with db.transaction() as session:
        allowed = await attempt.count(session)
    if not allowed:
        raise PatronLoginLimited
    if not patron.password_hash:
        await verify_password(await dummy_hash(), password)
        raise PatronBadCredentials
    if not await _password_matches(db, patron, password):
        raise PatronBadCredentials
    await attempt.give_back(db)


async def _password_matches(db: Database, patron: Patron, password: str) -> bool:
    stored = patron.password_hash or ""
    verified = await verify_password(stored, password)
    if verified.ok and verified.new_hash is not None:
        await _store_stronger_hash(db, patron, stored, verified.new_hash)
    return verified.ok


async def patrons_named(session: AsyncSession, name: LoginName) -> list[Patron]:
    """The patrons a login name names: everyone at an email address (a family, at most
    MAX_PATRONS_PER_EMAIL), the holder of a user number that is not revoked, or nobody."""
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


@dataclass(frozen=True, slots=True)
class _Attempt:
    """One login attempt as the limits count it: the client, and every account it tried."""

    accounts: list[str]
    client: str
    limits: LoginLimits
    at: datetime
    secret: bytes

    async def count(self, session: AsyncSession) -> bool:
        """Count the attempt everywhere (even once the answer is known to be "no")."""
        allowed = await hit(
            session,
            PATRON_LOGIN_PER_CLIENT,
            self.client,
            limit=self.limits.per_client,
            window=self.limits.window,
            now=self.at,
            secret=self.secret,
        )
        for account in self.accounts:
            allowed &= await hit(
                session,
                PATRON_LOGIN_PER_ACCOUNT,
                account,
                limit=self.limits.per_account,
                window=self.limits.window,
                now=self.at,
                secret=self.secret,
            )
        return allowed

    async def give_back(self, db: Database) -> None:
        """A right password: the attempt was no failure, so it no longer counts."""
        keys = [(PATRON_LOGIN_PER_CLIENT, self.client)]
        keys += [(PATRON_LOGIN_PER_ACCOUNT, account) for account in self.accounts]
        async with db.transaction() as session:
            for bucket, key in keys:
                await refund(
                    session,
                    bucket,
                    key,
                    window=self.limits.window,
                    counted_at=self.at,
                    secret=self.secret,
                )


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
