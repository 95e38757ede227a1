"""The SQLite connection is set up for a server; the fast read path is read-only."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

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
