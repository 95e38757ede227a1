"""API keys for scanners, kiosks and the library system.

A key is 256 random bits shown once at creation; only its SHA-256 is stored.

Each process holds the active keys in memory (:class:`ApiKeyChecker`), so checking a key on
the counter's hot path costs no database round trip. The bound: a key revoked in any
process stops working in every process (every worker, on SQLite and PostgreSQL alike) at
most ``recheck_seconds`` after the revocation commits (setting
``CARDSERVICE_API_KEY_RECHECK_SECONDS``, default 5). Each process re-reads the whole set of
active keys on the first check after its copy is that old, before it answers. A key created
elsewhere works at once: a key not in memory is looked up in the database.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cardservice.db.fastread import FastReader
from cardservice.errors import NotFound, Unauthenticated
from cardservice.security.models import ApiKey

KEY_PREFIX = "csk_"
_ACTIVE_KEY = "SELECT id FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL"
_ACTIVE_KEYS = "SELECT key_hash, id FROM api_keys WHERE revoked_at IS NULL"
DEFAULT_RECHECK_SECONDS: Final = 5.0


class ApiKeyRequired(Unauthenticated):
    """A valid API key is required (header X-API-Key, or Authorization: Bearer)."""

    code = "api_key_invalid"


class ApiKeyNotFound(NotFound):
    """No API key has that id."""

    code = "api_key_not_found"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def create_api_key(session: AsyncSession, name: str) -> tuple[ApiKey, str]:
    """A new key; the plain key is returned once and never stored."""
    plain = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(name=name, prefix=plain[:12], key_hash=hash_key(plain))
    session.add(row)
    await session.flush()
    return row, plain


async def revoke_api_key(session: AsyncSession, key_id: int) -> ApiKey:
    row = await session.get(ApiKey, key_id)
    if row is None:
        raise ApiKeyNotFound(key_id=key_id)
    if row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)
    return row


async def list_api_keys(session: AsyncSession) -> list[ApiKey]:
    return list(await session.scalars(select(ApiKey).order_by(ApiKey.id)))


class ApiKeyChecker:
    """Checks presented keys against the active keys held in memory.

    The copy is at most ``recheck_seconds`` old when a check answers: the first check after
    that re-reads every active key (one query, a few rows; concurrent checks wait for the
    same read), so a revoked key is refused by every process within that bound of its
    revocation. 0 reads the database on every check. A key not in the copy is looked up
    once in the database before it is refused, so a key created a moment ago works at once.
    If the database cannot be read, the check fails with that error rather than trust a
    copy older than the bound.
    """

    def __init__(
        self,
        reader: FastReader,
        *,
        recheck_seconds: float = DEFAULT_RECHECK_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._reader = reader
        self._recheck = recheck_seconds
        self._clock = clock
        self._active: dict[str, int] = {}  # SHA-256 hex of the key -> api_keys.id
        self._read_at = -math.inf
        self._reading: asyncio.Future[None] | None = None

    async def check(self, presented: str | None) -> int:
        """The key's id (``api_keys.id``), or :class:`ApiKeyRequired` for a missing,
        malformed, unknown or revoked key."""
        if not presented or not presented.startswith(KEY_PREFIX) or len(presented) > 100:
            raise ApiKeyRequired
        digest = hash_key(presented)
        if self._clock() - self._read_at >= self._recheck:
            await self._reread()
        key_id = self._active.get(digest)
        if key_id is not None:
            return key_id
        row = await self._reader.fetchrow(_ACTIVE_KEY, digest)
        if row is None:
            raise ApiKeyRequired
        key_id = self._active[digest] = int(row[0])
        return key_id

    async def _reread(self) -> None:
        if self._reading is not None:
            await asyncio.shield(self._reading)
            return
        self._reading = asyncio.get_running_loop().create_future()
        started = self._clock()
        try:
            rows = await self._reader.fetch(_ACTIVE_KEYS)
        except BaseException as error:
            self._reading.set_exception(error)
            self._reading.exception()  # retrieved here, so an unawaited future logs nothing
            raise
        else:
            self._active = {str(digest): int(key_id) for digest, key_id in rows}
            # Counted from before the read: a revocation committed during it may be missed.
            self._read_at = started
            self._reading.set_result(None)
        finally:
            self._reading = None
