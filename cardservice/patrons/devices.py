"""Devices where a patron chose "keep me signed in on this device"
(このデバイスでログインしたままにする).

The device holds a random token (256 bits) in a long-lived cookie; the database holds only
its SHA-256 (:class:`~cardservice.patrons.models.PatronDevice`), as for link tokens and API
keys. When the patron's 12-hour session has gone, a valid token starts a new one and moves
the device's expiry ``keep_signed_in_days`` on from that visit (a rolling expiry: a phone
used every week stays signed in; one left in a drawer for three months does not).

A device ends when it expires, when the patron logs out on it (:func:`forget`), and when
the password changes (:func:`forget_all`; the fingerprint of the password hash it keeps is
checked too, so a password changed elsewhere, by an import say, ends it as well).
Staff sessions never use this (issue 7, item 11).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from cardservice.db.base import utcnow
from cardservice.patrons.models import Patron, PatronDevice
from cardservice.security.passwords import password_fingerprint

# A cookie value longer than this is no token of ours; it is not even hashed.
_MAX_TOKEN_LENGTH = 128


@dataclass(frozen=True, slots=True)
class Remembered:
    """A device that was just remembered or resumed: the cookie value and how long it lasts."""

    token: str
    expires_at: datetime


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def remember(
    session: AsyncSession, patron: Patron, *, days: int, now: datetime | None = None
) -> Remembered:
    """A new device row for ``patron``; the returned token goes in the cookie and nowhere else."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    expires_at = now + timedelta(days=days)
    session.add(
        PatronDevice(
            token_hash=_hash(token),
            patron_id=patron.id,
            password_fingerprint=password_fingerprint(patron.password_hash),
            created_at=now,
            last_used_at=now,
            expires_at=expires_at,
        )
    )
    await session.flush()
    return Remembered(token, expires_at)


async def resume(
    session: AsyncSession, token: str, *, days: int, now: datetime | None = None
) -> tuple[Patron, Remembered] | None:
    """The patron a device cookie signs in, with the expiry rolled forward; None when the
    token is unknown, expired, or from before the patron's password last changed (such a
    row is deleted)."""
    if not token or len(token) > _MAX_TOKEN_LENGTH:
        return None
    now = now or utcnow()
    device = await session.scalar(
        select(PatronDevice).where(PatronDevice.token_hash == _hash(token))
    )
    if device is None:
        return None
    patron = await session.get(Patron, device.patron_id)
    current = password_fingerprint(patron.password_hash) if patron else ""
    if (
        patron is None
        or not patron.password_hash
        or device.expires_at <= now
        or not hmac.compare_digest(device.password_fingerprint, current)
    ):
        await session.delete(device)
        return None
    device.last_used_at = now
    device.expires_at = now + timedelta(days=days)
    await session.flush()
    return patron, Remembered(token, device.expires_at)


async def forget(session: AsyncSession, token: str) -> None:
    """Logging out on this device: its row goes (an unknown token changes nothing)."""
    if token and len(token) <= _MAX_TOKEN_LENGTH:
        await session.execute(delete(PatronDevice).where(PatronDevice.token_hash == _hash(token)))


async def forget_all(session: AsyncSession, patron_id: int) -> int:
    """Every device of the patron (a password change or reset); returns how many."""
    result = await session.execute(delete(PatronDevice).where(PatronDevice.patron_id == patron_id))
    return int(result.rowcount)  # type: ignore[attr-defined]  # a DML result has rowcount


async def purge_devices(session: AsyncSession, *, now: datetime | None = None) -> int:
    """Delete devices whose time is up; returns how many."""
    result = await session.execute(
        delete(PatronDevice).where(PatronDevice.expires_at <= (now or utcnow()))
    )
    return int(result.rowcount)  # type: ignore[attr-defined]  # a DML result has rowcount
