"""Kiosk accounts: made and disabled by ``cardservice sip2 kiosk``, checked at SIP2 login (93).

A kiosk's password is 120 random bits in 20 letters and digits (characters every kiosk's
settings screen accepts; never ``|``, which ends a SIP2 field), shown once, stored as an
Argon2id hash (``security.passwords``). A login for an unknown or disabled kiosk still
verifies against a hash, so the answer takes as long as for a known one. Failed logins are
limited per client address as staff logins are (:data:`LOGIN_LIMIT` per
:data:`LOGIN_WINDOW`, counted in the database for every process): over the limit no
password is even hashed.
"""

from __future__ import annotations

import re
import secrets
import string
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cardservice.db.engine import Database
from cardservice.errors import Conflict, InvalidInput, NotFound
from cardservice.security.passwords import dummy_hash, hash_password, verify_password
from cardservice.security.ratelimit import hit, refund
from cardservice.sip2.models import Sip2Kiosk

KIOSK_NAME: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
PASSWORD_LENGTH: Final = 20
_ALPHABET: Final = string.ascii_letters + string.digits
LOGIN_PER_CLIENT: Final = "sip2_login_client"
LOGIN_LIMIT: Final = 20
LOGIN_WINDOW: Final = timedelta(minutes=15)


class Login(StrEnum):
    OK = "ok"
    REFUSED = "refused"  # unknown or disabled kiosk, or a wrong password
    LIMITED = "limited"  # too many failed logins from this client address


class KioskNameInvalid(InvalidInput):
    """A kiosk name is 1 to 64 letters, digits, dots, hyphens or underscores, starting with a
    letter or digit (it is the SIP2 login user id)."""

    code = "sip2_kiosk_name_invalid"


class KioskExists(Conflict):
    """A kiosk with this name exists already."""

    code = "sip2_kiosk_exists"


class KioskNotFound(NotFound):
    """No kiosk has this name."""

    code = "sip2_kiosk_not_found"


def check_name(name: str) -> str:
    """``name`` if it is a valid kiosk name, else :class:`KioskNameInvalid`."""
    if not KIOSK_NAME.fullmatch(name):
        raise KioskNameInvalid(name=name[:64])
    return name


def new_password() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(PASSWORD_LENGTH))


async def add_kiosk(session: AsyncSession, name: str, password_hash: str) -> Sip2Kiosk:
    """A new kiosk account; the caller hashed its password before the transaction opened."""
    check_name(name)
    if await session.scalar(select(Sip2Kiosk.id).where(Sip2Kiosk.name == name)) is not None:
        raise KioskExists(name=name)
    row = Sip2Kiosk(name=name, password_hash=password_hash)
    session.add(row)
    await session.flush()
    return row


async def new_kiosk_secret() -> tuple[str, str]:
    """A password and its Argon2id hash: ``(password, hash)``."""
    password = new_password()
    return password, await hash_password(password)


async def disable_kiosk(session: AsyncSession, name: str) -> Sip2Kiosk:
    row = await session.scalar(select(Sip2Kiosk).where(Sip2Kiosk.name == name))
    if row is None:
        raise KioskNotFound(name=name[:64])
    if row.disabled_at is None:
        row.disabled_at = datetime.now(UTC)
    return row


async def list_kiosks(session: AsyncSession) -> list[Sip2Kiosk]:
    return list(await session.scalars(select(Sip2Kiosk).order_by(Sip2Kiosk.name)))


async def check_login(
    db: Database, name: str, password: str, *, client: str = "", secret: bytes = b""
) -> Login:
    """Whether ``name`` is an enabled kiosk and ``password`` its password. Every attempt from
    ``client`` (an IP address; "" counts nothing) is counted first and a success given back,
    so :attr:`Login.LIMITED` answers once failures go over the limit. ``secret`` keys the
    HMAC stored instead of the address. A success records the login time. Argon2 runs
    outside any transaction."""
    now = datetime.now(UTC)
    async with db.transaction() as session:
        allowed = not client or await hit(
            session,
            LOGIN_PER_CLIENT,
            client,
            limit=LOGIN_LIMIT,
            window=LOGIN_WINDOW,
            now=now,
            secret=secret,
        )
        row = await session.scalar(select(Sip2Kiosk).where(Sip2Kiosk.name == name))
        stored = row.password_hash if row is not None and row.disabled_at is None else None
    if not allowed:
        return Login.LIMITED
    verified = await verify_password(stored or await dummy_hash(), password)
    if row is None or stored is None or not verified.ok:
        return Login.REFUSED
    async with db.transaction() as session:
        kiosk = await session.get(Sip2Kiosk, row.id)
        if kiosk is not None:
            kiosk.last_login_at = now
            if verified.new_hash is not None:
                kiosk.password_hash = verified.new_hash
        if client:
            await refund(
                session,
                LOGIN_PER_CLIENT,
                client,
                window=LOGIN_WINDOW,
                counted_at=now,
                secret=secret,
            )
    return Login.OK
