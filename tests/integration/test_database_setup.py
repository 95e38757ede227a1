"""The SQLite connection is set up for a server; the fast read path is read-only."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from cardservice.db.engine import Database, open_sqlite_reader
from cardservice.db.migrate import upgrade
from cardservice.services import Services


@pytest.fixture
async def sqlite_db(tmp_path: Path) -> AsyncIterator[Database]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'setup.db'}"
    await upgrade(url)
    database = Database(url)
    try:
        yield database
    finally:
        await database.dispose()


async def test_sqlite_pragmas(sqlite_db: Database) -> None:
    async with sqlite_db.engine.connect() as connection:
        values = {
            name: (await connection.execute(text(f"PRAGMA {name}"))).scalar()
            for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
        }
    # synchronous=2 is FULL.
    assert values == {
        "journal_mode": "wal",
        "synchronous": 2,
        "foreign_keys": 1,
        "busy_timeout": 30_000,
    }


async def test_fast_reader_cannot_write(sqlite_db: Database) -> None:
    reader = open_sqlite_reader(sqlite_db.url)
    try:
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            reader.execute("DELETE FROM cards")
    finally:
        reader.close()


async def test_foreign_keys_are_enforced(services: Services) -> None:
    with pytest.raises(IntegrityError):
        async with services.db.transaction() as session:
            await session.execute(
                text(
                    "INSERT INTO cards (patron_id, user_number, status, issued_at, expires_on,"
                    " token_jti, updated_at) VALUES (424242, '1', 'active', CURRENT_TIMESTAMP,"
                    " '2030-01-01', 'j', CURRENT_TIMESTAMP)"
                )
            )


async def test_read_connections_are_query_only_and_cached(sqlite_db: Database) -> None:
    async with sqlite_db.read() as session:
        assert (await session.execute(text("PRAGMA query_only"))).scalar() == 1
    reader = open_sqlite_reader(sqlite_db.url)
    try:
        # The hot-path reader holds the cards' index in its page cache and memory map.
        assert reader.execute("PRAGMA cache_size").fetchone() == (-65_536,)
        assert reader.execute("PRAGMA mmap_size").fetchone() == (268_435_456,)
    finally:
        reader.close()


async def test_a_read_cannot_write(services: Services) -> None:
    with pytest.raises(DBAPIError, match=r"read-only|readonly"):
        async with services.db.read() as session:
            await session.execute(text("DELETE FROM cards"))


async def test_a_read_does_not_wait_for_a_writer(services: Services) -> None:
    """A page read while a writer holds the lock (SQLite's one write lock) answers at once,
    with the last committed state."""
    insert = text(
        "INSERT INTO api_keys (name, prefix, key_hash, created_at) "
        "VALUES ('w', 'csk_', 'h', CURRENT_TIMESTAMP)"
    )
    count = text("SELECT count(*) FROM api_keys")
    async with services.db.transaction() as writing:
        await writing.execute(insert)
        async with asyncio.timeout(2), services.db.read() as reading:
            assert (await reading.execute(count)).scalar() == 0
    async with services.db.read() as reading:
        assert (await reading.execute(count)).scalar() == 1


async def test_sqlite_writers_take_turns_in_order(sqlite_db: Database) -> None:
    """Writers of one process queue in the order they came, none overtaking another and
    none failing, however long the one before holds the lock."""
    order: list[str] = []
    first_in = asyncio.Event()

    async def write(name: str, hold: float = 0.0) -> None:
        async with sqlite_db.transaction() as session:
            await session.execute(
                text(
                    "INSERT INTO api_keys (name, prefix, key_hash, created_at) "
                    "VALUES (:n, 'csk_', :n, CURRENT_TIMESTAMP)"
                ),
                {"n": name},
            )
            order.append(name)
            first_in.set()
            await asyncio.sleep(hold)

    first = asyncio.create_task(write("first", hold=0.3))
    await first_in.wait()
    later = []
    for name in ("second", "third", "fourth"):
        later.append(asyncio.create_task(write(name)))
        await asyncio.sleep(0)  # each one queued before the next comes
    await asyncio.gather(first, *later)
    assert order == ["first", "second", "third", "fourth"]


async def test_a_writer_waits_no_longer_than_the_busy_timeout(
    sqlite_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("cardservice.db.engine.BUSY_TIMEOUT_MS", 200)
    async with sqlite_db.transaction():
        with pytest.raises(OperationalError, match="database is locked"):
            async with sqlite_db.transaction():
                pass
    async with sqlite_db.transaction() as session:  # the queue is free again
        await session.execute(text("SELECT 1"))
