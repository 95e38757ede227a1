"""Benchmark of the signed revocation feed (``cards.feed``): a full sync of 100,000
revocations and a delta of 10, each against a baseline measured in the same run.

On a fresh database (SQLite in a temporary directory by default, or ``--database-url``),
N feed entries are loaded (half revoked numbers, half revoked tokens). Then, each the
median of ``--repeat`` runs, in-process (what the endpoint does, without HTTP):

- baseline full: the same rows read bare (one SELECT through the same session, every row
  fetched, nothing else);
- signed full: the feed's payload (read, compacted per subject) encoded as JSON and signed
  as a compact JWS with Ed25519: the body ``GET /api/v1/offline/feed`` answers;
- scanner full: the scanner opening that bundle (signature checked) and building its state;
- then 10 new entries; baseline delta: those rows read bare after the cursor; signed delta:
  the delta bundle; scanner delta: the scanner applying it.

Prints seconds, the bundle's size and the ratio of each to its baseline.

    make bench-offline      # or: .venv/bin/python tests/bench/offline_feed.py --help
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, text
from verify import _database as scratch_database  # the verify benchmark's scratch database

import cardservice.db.models  # noqa: F401  # every table on the metadata
from cardservice.cards.bundle import sign_bundle
from cardservice.cards.feed import FeedContext, feed_payload
from cardservice.cards.feed_log import FeedEntry
from cardservice.cards.keys import Keyring, SigningKey
from cardservice.cards.offline import apply_bundle
from cardservice.cards.service import CardPolicy
from cardservice.db.engine import Database
from cardservice.db.migrate import upgrade
from cardservice.profiles import load_profile


def _rows(first: int, count: int, now: datetime) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for seq in range(first, first + count):
        row: dict[str, Any]
        if seq % 2:
            row = {"kind": "number", "subject": f"2{seq:09d}", "state": "revoked"}
            row |= {"reason": "reissued", "until": None}
        else:
            row = {"kind": "token", "subject": f"jti-{seq:039d}", "state": "revoked"}
            row |= {"reason": "renewed", "until": now + timedelta(days=365)}
        rows.append({**row, "seq": seq, "created_at": now})
    return rows


async def _timed(repeat: int, work: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = await work()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


async def run(url: str, entries: int, repeat: int) -> None:
    await upgrade(url)
    db = Database(url)
    now = datetime.now(UTC)
    keyring = Keyring([SigningKey.generate(sign_from=now - timedelta(days=1))])
    context = FeedContext(
        issuer="https://cards.example.org",
        audience="library-card",
        policy=CardPolicy.of(load_profile("yokohama")),
    )
    async with db.transaction() as session:
        await session.execute(text("DELETE FROM revocation_feed"))
        for start in range(1, entries + 1, 10_000):
            count = min(10_000, entries + 1 - start)
            await session.execute(insert(FeedEntry), _rows(start, count, now))
    bare = select(
        FeedEntry.seq, FeedEntry.kind, FeedEntry.subject, FeedEntry.state, FeedEntry.reason,
        FeedEntry.until,
    ).order_by(FeedEntry.seq)  # fmt: skip

    async def read_bare(since: int = 0) -> list[Any]:
        async with db.read() as session:
            return list((await session.execute(bare.where(FeedEntry.seq > since))).all())

    async def signed(since: int | None = None) -> bytes:
        async with db.read() as session:
            payload = await feed_payload(session, context, keyring, since=since, now=now)
        return sign_bundle(payload, keyring, now)

    jwks = keyring.jwks(now)
    base_full, rows = await _timed(repeat, read_bare)
    signed_full, bundle = await _timed(repeat, signed)

    async def scanner_full() -> Any:
        return apply_bundle(None, bundle.decode(), trust=jwks, now=now)

    apply_full, state = await _timed(repeat, scanner_full)
    assert len(rows) == entries, len(rows)
    assert len(state.numbers) + len(state.tokens) == entries

    async with db.transaction() as session:
        await session.execute(insert(FeedEntry), _rows(entries + 1, 10, now))
    cursor = state.cursor
    base_delta, delta_rows = await _timed(repeat, lambda: read_bare(cursor))
    signed_delta, delta = await _timed(repeat, lambda: signed(cursor))

    async def scanner_delta() -> Any:
        return apply_bundle(state, delta.decode(), now=now)

    apply_delta, after = await _timed(repeat, scanner_delta)
    assert len(delta_rows) == 10
    assert len(after.numbers) + len(after.tokens) == entries + 10
    await db.dispose()

    engine = url.split(":", 1)[0]
    print(f"offline feed, {engine}, {entries} revocations, median of {repeat} runs")
    print(f"  full:  baseline (rows read bare) {base_full:8.3f} s")
    print(
        f"         signed bundle             {signed_full:8.3f} s  {len(bundle):>10} bytes  "
        f"ratio {signed_full / base_full:5.2f}"
    )
    print(
        f"         scanner applies it        {apply_full:8.3f} s  "
        f"ratio {apply_full / base_full:5.2f}"
    )
    print(f"  delta of 10: baseline            {base_delta * 1000:8.2f} ms")
    print(
        f"         signed bundle             {signed_delta * 1000:8.2f} ms  "
        f"{len(delta):>10} bytes  ratio {signed_delta / base_delta:5.2f}"
    )
    print(
        f"         scanner applies it        {apply_delta * 1000:8.2f} ms  "
        f"ratio {apply_delta / base_delta:5.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url",
        default="",
        help="postgresql+asyncpg://user@host/db: a scratch database on that server (dropped "
        "after); default: SQLite in a temporary directory",
    )
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, scratch_database(args.database_url, tmp) as url:
        asyncio.run(run(url, args.entries, args.repeat))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
