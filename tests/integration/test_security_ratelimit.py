"""Rate limits in the database on both engines: windows, sliding estimate, hashed keys."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, text

from cardservice.profiles.schema import LinksSection
from cardservice.security.models import RateCounter
from cardservice.security.ratelimit import allow_link_email, hit, purge_rate_counters
from cardservice.services import Services

HOUR = timedelta(hours=1)
# On a window boundary, so the offsets below read as minutes into the window.
T0 = datetime(2030, 1, 1, 9, tzinfo=UTC)


async def _hit(
    services: Services, key: str, at: datetime, *, limit: int = 3, bucket: str = "test"
) -> bool:
    async with services.db.transaction() as session:
        return await hit(session, bucket, key, limit=limit, window=HOUR, now=at)


async def _hits(services: Services, key: str, at: datetime, count: int) -> list[bool]:
    return [await _hit(services, key, at) for _ in range(count)]


async def test_limit_per_window_then_refused(services: Services) -> None:
    assert await _hits(services, "a", T0 + timedelta(minutes=5), 4) == [True] * 3 + [False]
    # Other keys and other buckets count on their own.
    assert await _hit(services, "b", T0 + timedelta(minutes=5))
    assert await _hit(services, "a", T0 + timedelta(minutes=5), bucket="other")


async def test_allowed_again_once_the_window_has_passed(services: Services) -> None:
    await _hits(services, "a", T0 + timedelta(minutes=10), 3)
    assert not await _hit(services, "a", T0 + timedelta(minutes=50))
    assert await _hit(services, "a", T0 + timedelta(hours=2, minutes=10))


async def test_no_double_burst_across_the_window_edge(services: Services) -> None:
    # A fixed window would allow three more at 10:01; the sliding estimate does not.
    assert await _hits(services, "a", T0 + timedelta(minutes=59), 3) == [True] * 3
    assert not await _hit(services, "a", T0 + timedelta(minutes=61))


async def test_previous_window_weighs_less_as_time_passes(services: Services) -> None:
    await _hits(services, "a", T0 + timedelta(minutes=30), 3)
    # At 10:40 a third of the previous window still counts: 3 * 1/3 + 1 = 2 <= 3.
    assert await _hit(services, "a", T0 + timedelta(minutes=100))
    assert await _hit(services, "a", T0 + timedelta(minutes=100))
    # 3 * 1/3 + 3 = 4 > 3.
    assert not await _hit(services, "a", T0 + timedelta(minutes=100))


async def test_concurrent_hits_all_count(services: Services) -> None:
    results = await asyncio.gather(
        *(_hit(services, "a", T0 + timedelta(minutes=1), limit=5) for _ in range(8))
    )
    assert sorted(results) == [False] * 3 + [True] * 5
    async with services.db.transaction() as session:
        total = await session.scalar(select(func.sum(RateCounter.hits)))
    assert total == 8


async def test_keys_are_stored_hashed(services: Services) -> None:
    email = "hanako@example.org"
    async with services.db.transaction() as session:
        await hit(session, "addr", email, limit=3, window=HOUR, now=T0, secret=b"k" * 32)
        await hit(session, "addr", email, limit=3, window=HOUR, now=T0)
        rows = (await session.execute(text("SELECT * FROM rate_counters"))).all()
    assert len(rows) == 2  # a different secret gives a different key
    stored = " ".join(str(value) for row in rows for value in row)
    assert "hanako" not in stored
    assert "example.org" not in stored


async def test_link_emails_per_address_and_per_client(services: Services) -> None:
    links = LinksSection(per_address_per_hour=2, per_client_per_hour=3)

    async def allow(email: str, client: str) -> bool:
        async with services.db.transaction() as session:
            return await allow_link_email(session, links, email=email, client=client, now=T0)

    assert await allow("a@example.org", "192.0.2.1")
    assert await allow("A@Example.org ", "192.0.2.2")  # the same address, another client
    assert not await allow("a@example.org", "192.0.2.3")  # third to that address
    assert await allow("b@example.org", "192.0.2.1")
    assert await allow("c@example.org", "192.0.2.1")  # third from that client
    assert not await allow("d@example.org", "192.0.2.1")  # fourth from that client


async def test_purge_removes_only_counters_no_estimate_reads(services: Services) -> None:
    await _hit(services, "old", T0)
    await _hit(services, "new", T0 + timedelta(hours=2))
    async with services.db.transaction() as session:
        removed = await purge_rate_counters(session, T0 + timedelta(hours=2, minutes=30))
        left = (await session.scalars(select(RateCounter.window_start))).all()
    assert removed == 1
    assert left == [T0 + timedelta(hours=2)]
