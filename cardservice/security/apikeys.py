"""API keys for scanners, kiosks and the library system.

A key is 256 random bits shown once at creation; only its SHA-256 is stored. Checking a key
is one indexed read, so a revoked key stops working on the next request.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cardservice.db.fastread import FastReader
from cardservice.errors import NotFound, Unauthenticated
from cardservice.security.models import ApiKey

KEY_PREFIX = "csk_"
_ACTIVE_KEY = "SELECT id FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL"


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
    def __init__(self, reader: FastReader) -> None:
        self._reader = reader

    async def check(self, presented: str | None) -> int:
        """The key's id, or :class:`ApiKeyRequired`."""
        if not presented or not presented.startswith(KEY_PREFIX) or len(presented) > 100:
            raise ApiKeyRequired
        row = await self._reader.fetchrow(_ACTIVE_KEY, hash_key(presented))
        if row is None:
            raise ApiKeyRequired
        key_id: int = row[0]
        return key_id
