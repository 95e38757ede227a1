"""Rate limits kept in the database, so every worker and every process shares them.

Each key has one counter row per fixed window, incremented by an atomic upsert. A hit is
allowed while the sliding estimate stays within the limit: this window's hits plus the
previous window's, weighted by how much of it still lies inside the sliding window. That
avoids the double burst a plain fixed window allows at its edge.

Every attempt counts, refused ones too: the limit is on attempts, so someone who keeps
asking stays refused until they slow down. A caller that limits only failures (patron
login) counts every attempt first and gives a successful one back with :func:`refund`:
counting up front keeps the limit exact under concurrent attempts, which a look before
counting would not. Keys are stored as HMACs, never in the clear: the table must not
become a list of email addresses.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from datetime import UTC, datetime, timedelta

from sqlalchemy import Insert, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from cardservice.db.base import utcnow
from cardservice.profiles.schema import LinksSection, PatronsSection
from cardservice.security.models import RateCounter

LINK_EMAIL_PER_ADDRESS = "link_email_address"
LINK_EMAIL_PER_CLIENT = "link_email_client"
# Forgotten-number and password-reset emails share one count (PatronsSection.recovery_*).
RECOVERY_PER_ADDRESS = "recovery_address"
RECOVERY_PER_CLIENT = "recovery_client"
HOUR = timedelta(hours=1)
_DEFAULT_SECRET = b"cardservice rate limit"
_MICROSECOND = timedelta(microseconds=1)


def key_hash(bucket: str, key: str, secret: bytes = b"") -> str:
    message = f"{bucket}\0{key}".encode()
    return hmac.new(secret or _DEFAULT_SECRET, message, hashlib.sha256).hexdigest()


async def hit(
    session: AsyncSession,
    bucket: str,
    key: str,
    *,
    limit: int,
    window: timedelta,
    now: datetime | None = None,
    secret: bytes = b"",
) -> bool:
    """Count one attempt for ``key``; False when it goes over ``limit`` per ``window``.

    ``secret`` keys the HMAC of ``key`` (pass the application secret so that a leaked
    table cannot be matched against known addresses).
    """
    now = now or utcnow()
    start = window_start(now, window)
    hashed = key_hash(bucket, key, secret)
    current = await _increment(session, bucket, hashed, start, expires=start + 2 * window)
    previous = await session.scalar(
        select(RateCounter.hits).where(
            RateCounter.bucket == bucket,
            RateCounter.key_hash == hashed,
            RateCounter.window_start == start - window,
        )
    )
    # previous * (share of it still inside) + current <= limit, in whole microseconds so that
    # exactly-at-the-limit never tips over on a floating-point rounding.
    span = window // _MICROSECOND
    inside = span - (now - start) // _MICROSECOND
    return (previous or 0) * inside + current * span <= limit * span


def window_start(now: datetime, window: timedelta) -> datetime:
    """The start of the fixed window ``now`` falls in (windows count from the Unix epoch)."""
    seconds = int(window.total_seconds())
    if seconds < 1:
        raise ValueError("a rate-limit window is at least one second")
    return datetime.fromtimestamp(int(now.timestamp()) // seconds * seconds, UTC)


async def refund(
    session: AsyncSession,
    bucket: str,
    key: str,
    *,
    window: timedelta,
    counted_at: datetime,
    secret: bytes = b"",
) -> None:
    """Take back one hit counted at ``counted_at`` (never below zero): for an attempt that
    turned out not to count, such as a login with the right password."""
    await session.execute(
        update(RateCounter)
        .where(
            RateCounter.bucket == bucket,
            RateCounter.key_hash == key_hash(bucket, key, secret),
            RateCounter.window_start == window_start(counted_at, window),
            RateCounter.hits > 0,
        )
        .values(hits=RateCounter.hits - 1)
    )


async def _increment(
    session: AsyncSession, bucket: str, hashed: str, start: datetime, *, expires: datetime
) -> int:
    values = {
        "bucket": bucket,
        "key_hash": hashed,
        "window_start": start,
        "hits": 1,
        "expires_at": expires,
    }
    statement = _upsert(session, values).returning(RateCounter.hits)
    hits: int = (await session.execute(statement)).scalar_one()
    return hits


def _upsert(session: AsyncSession, values: dict[str, object]) -> Insert:
    # INSERT ... ON CONFLICT DO UPDATE has the same shape on both engines, but SQLAlchemy
    # builds it from each dialect's own insert().
    keys = ["bucket", "key_hash", "window_start"]
    increment = {"hits": RateCounter.hits + 1}
    if session.get_bind().dialect.name == "postgresql":
        pg = postgresql.insert(RateCounter).values(values)
        return pg.on_conflict_do_update(index_elements=keys, set_=increment)
    lite = sqlite.insert(RateCounter).values(values)
    return lite.on_conflict_do_update(index_elements=keys, set_=increment)


async def allow_link_email(
    session: AsyncSession,
    links: LinksSection,
    *,
    email: str,
    client: str,
    now: datetime | None = None,
    secret: bytes = b"",
) -> bool:
    """Whether one more link email may go to ``email`` at the request of ``client`` (IP).

    When this is False, send nothing but answer exactly as when it is True: a different
    answer would tell a stranger whether the address is known (architecture principle 2).
    """
    now = now or utcnow()
    per_client = await hit(
        session,
        LINK_EMAIL_PER_CLIENT,
        client,
        limit=links.per_client_per_hour,
        window=HOUR,
        now=now,
        secret=secret,
    )
    if not per_client:
        return False
    address = email.strip().lower()
    return await hit(
        session,
        LINK_EMAIL_PER_ADDRESS,
        address,
        limit=links.per_address_per_hour,
        window=HOUR,
        now=now,
        secret=secret,
    )


def normalise_address(email: str) -> str:
    """An email address as a rate-limit key: NFKC, trimmed, lower case, so that full-width
    or capitalised spellings of one address share its count."""
    return unicodedata.normalize("NFKC", email).strip().lower()


async def allow_recovery_email(
    session: AsyncSession,
    patrons: PatronsSection,
    *,
    key: str,
    client: str,
    now: datetime | None = None,
    secret: bytes = b"",
) -> bool:
    """Whether one more forgotten-number or password-reset email may be sent for ``key``
    (an email address or a user number, as typed) at the request of ``client`` (IP).

    Both counts go up whatever the answer, and False must change nothing in what the
    requester sees (architecture principle 2): the page answers the same either way.
    """
    now = now or utcnow()
    per_client = await hit(
        session,
        RECOVERY_PER_CLIENT,
        client,
        limit=patrons.recovery_per_client_per_hour,
        window=HOUR,
        now=now,
        secret=secret,
    )
    per_address = await hit(
        session,
        RECOVERY_PER_ADDRESS,
        normalise_address(key),
        limit=patrons.recovery_per_address_per_hour,
        window=HOUR,
        now=now,
        secret=secret,
    )
    return per_client and per_address


async def purge_rate_counters(session: AsyncSession, now: datetime | None = None) -> int:
    """Delete counters no estimate reads any more; returns how many."""
    result = await session.execute(
        delete(RateCounter).where(RateCounter.expires_at < (now or utcnow()))
    )
    return int(result.rowcount)  # type: ignore[attr-defined]  # a DML result has rowcount
