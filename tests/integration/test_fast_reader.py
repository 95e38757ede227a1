"""The hot-path reader on both engines: point reads and lists, many at once on a few
connections, and a failed statement that does not poison the connections."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.exc import TimeoutError as PoolTimeout

from cardservice.db.fastread import PostgresReader, open_reader
from cardservice.security.apikeys import create_api_key
from cardservice.services import Services

_KEY = "SELECT id, name FROM api_keys WHERE name = $1"


async def test_many_lookups_at_once_on_few_connections(services: Services) -> None:
    async with services.db.transaction() as session:
        for name in ("a", "b", "c"):
            await create_api_key(session, name)
    reader = open_reader(services.settings.async_database_url)
    if isinstance(reader, PostgresReader):
        reader = PostgresReader(services.settings.async_database_url, max_size=2)
    try:
        names = ["a", "b", "c", "zzz"] * 50
        rows = await asyncio.gather(*(reader.fetchrow(_KEY, name) for name in names))
        assert [row[1] if row else None for row in rows] == [
            name if name != "zzz" else None for name in names
        ]
        listed = await reader.fetch("SELECT name FROM api_keys ORDER BY name")
        assert listed == [("a",), ("b",), ("c",)]
    finally:
        await reader.close()


async def test_a_failed_statement_leaves_the_reader_working(services: Services) -> None:
    reader = open_reader(services.settings.async_database_url)
    try:
        with pytest.raises(Exception, match=r"no_such_table|no such table"):
            await reader.fetchrow("SELECT * FROM no_such_table WHERE id = $1", 1)
        assert await reader.fetchrow("SELECT $1 + 1", 41) == (42,)
    finally:
        await reader.close()


async def test_a_cancelled_lookup_gives_its_connection_back(pg_url: str) -> None:
    """PostgreSQL only: SQLite lookups run inline and cannot be cancelled midway."""
    reader = PostgresReader(pg_url, max_size=1)
    try:
        slow = asyncio.ensure_future(reader.fetchrow("SELECT pg_sleep($1::float8)", 5.0))
        waiting = asyncio.ensure_future(reader.fetchrow("SELECT $1::int", 1))
        await asyncio.sleep(0.3)
        slow.cancel()
        waiting.cancel()
        await asyncio.gather(slow, waiting, return_exceptions=True)
        async with asyncio.timeout(5):
            assert await reader.fetchrow("SELECT $1::int", 7) == (7,)
    finally:
        await reader.close()


async def test_a_lookup_waits_at_most_the_pool_timeout(pg_url: str) -> None:
    """PostgreSQL only: every connection busy, a lookup gives up after ``wait_timeout`` with
    the pool's TimeoutError (the web's 503), and the connection serves on once free."""
    reader = PostgresReader(pg_url, max_size=1, wait_timeout=0.3)
    try:
        slow = asyncio.ensure_future(reader.fetchrow("SELECT pg_sleep($1::float8)", 1.0))
        await asyncio.sleep(0.1)
        with pytest.raises(PoolTimeout, match=r"within 0\.3 s"):
            await reader.fetchrow("SELECT $1::int", 1)
        await slow
        async with asyncio.timeout(5):
            assert await reader.fetchrow("SELECT $1::int", 7) == (7,)
    finally:
        await reader.close()
