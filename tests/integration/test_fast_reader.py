"""The hot-path reader on both engines: point reads and lists, many at once on a few
connections, a failed statement that does not poison the connections, and lookups shared by
concurrent callers (each its own row, errors to every caller of a statement, cancellation)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy.exc import TimeoutError as PoolTimeout

from cardservice.db.fastread import (
    MAX_BATCH,
    FastReader,
    Lookup,
    PostgresReader,
    SqliteReader,
    open_reader,
)
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


# A lookup of the kind verification makes, here on API key names (unique in these tests).
_KEY_BY_NAME = Lookup(
    one="SELECT id, name FROM api_keys WHERE name = $1",
    many="SELECT name, id, name FROM api_keys WHERE name = ANY($1::text[])",
)
# Two key values, read through unnest as the token check reads number and jti.
_KEY_BY_NAME_AND_PREFIX = Lookup(
    one="SELECT id FROM api_keys WHERE name = $1 AND prefix = $2",
    many=(
        "SELECT k.name, k.prefix, a.id FROM unnest($1::text[], $2::text[]) AS k(name, prefix) "
        "JOIN api_keys a ON a.name = k.name AND a.prefix = k.prefix"
    ),
    key_size=2,
)


class _CountingReader(PostgresReader):
    """The real reader, noting the statements it sends (to see the lookups shared)."""

    def __init__(self, url: str, **options: Any) -> None:
        super().__init__(url, **options)
        self.sent: list[tuple[str, tuple[Any, ...]]] = []

    async def _run(self, sql: str, method: str, args: tuple[Any, ...]) -> Any:
        self.sent.append((sql, args))
        return await super()._run(sql, method, args)


async def test_concurrent_lookups_each_get_their_own_row(services: Services) -> None:
    """Many callers at once, with unknown keys and the same key asked several times: each
    gets the row of its own key; on PostgreSQL in a few shared statements, each key once."""
    async with services.db.transaction() as session:
        made = {name: await create_api_key(session, name) for name in ("a", "b", "c")}
    ids = {name: row.id for name, (row, _) in made.items()}
    url = services.settings.async_database_url
    reader: FastReader = (
        SqliteReader(url) if services.settings.is_sqlite else _CountingReader(url, max_size=2)
    )
    try:
        names = ["a", "zzz", "b", "a", "c", "yyy", "a"] * 60  # 420 callers, 5 distinct keys
        rows = await asyncio.gather(*(reader.lookup(_KEY_BY_NAME, name) for name in names))
        assert rows == [(ids[name], name) if name in ids else None for name in names]
        pairs = [(name, made[name][0].prefix) for name in ("a", "b", "c")]
        pairs += [("a", "csk_nothere"), ("nobody", pairs[0][1]), pairs[1]]
        rows = await asyncio.gather(*(reader.lookup(_KEY_BY_NAME_AND_PREFIX, *p) for p in pairs))
        assert rows == [(ids["a"],), (ids["b"],), (ids["c"],), None, None, (ids["b"],)]
        if isinstance(reader, _CountingReader):
            first, second = reader.sent
            assert first == (_KEY_BY_NAME.many, (["a", "zzz", "b", "c", "yyy"],))
            assert second[0] == _KEY_BY_NAME_AND_PREFIX.many
            assert len(second[1][0]) == 5  # the duplicate pair asked once
    finally:
        await reader.close()


async def test_a_batch_holds_at_most_max_batch_keys(pg_url: str) -> None:
    """PostgreSQL only: more distinct keys than a statement carries go in several."""
    reader = _CountingReader(pg_url)
    numbers = Lookup(
        one="SELECT $1::text",
        many="SELECT k, k || '!' FROM unnest($1::text[]) AS k",
    )
    try:
        keys = [str(i) for i in range(MAX_BATCH * 2 + 3)]
        rows = await asyncio.gather(*(reader.lookup(numbers, key) for key in keys))
        assert rows == [(key + "!",) for key in keys]
        assert [len(args[0]) for _, args in reader.sent] == [MAX_BATCH, MAX_BATCH, 3]
    finally:
        await reader.close()


_TEN_OVER = Lookup(one="SELECT 10 / $1::int", many="SELECT k, 10 / k FROM unnest($1::int[]) AS k")


async def test_an_error_reaches_every_caller_of_its_batch(pg_url: str) -> None:
    """PostgreSQL only (SQLite reads each key on its own): one bad key fails the statement,
    every caller in it gets the error, and the next statement serves normally."""
    import asyncpg  # noqa: PLC0415  # PostgreSQL only

    reader = PostgresReader(pg_url)
    try:
        outcomes = await asyncio.gather(
            *(reader.lookup(_TEN_OVER, k) for k in (1, 2, 0, 5, 2)), return_exceptions=True
        )
        assert len(outcomes) == 5
        assert all(isinstance(o, asyncpg.DivisionByZeroError) for o in outcomes)
        rows = await asyncio.gather(*(reader.lookup(_TEN_OVER, k) for k in (1, 2, 5)))
        assert rows == [(10,), (5,), (2,)]
    finally:
        await reader.close()


async def test_a_wait_for_a_connection_that_times_out_reaches_the_whole_batch(
    pg_url: str,
) -> None:
    """PostgreSQL only: the pool's TimeoutError (the web's 503) goes to every caller."""
    reader = PostgresReader(pg_url, max_size=1, wait_timeout=0.3)
    try:
        slow = asyncio.ensure_future(reader.fetchrow("SELECT pg_sleep($1::float8)", 1.0))
        await asyncio.sleep(0.1)
        outcomes = await asyncio.gather(
            *(reader.lookup(_TEN_OVER, k) for k in (1, 2, 2)), return_exceptions=True
        )
        assert [type(o) for o in outcomes] == [PoolTimeout] * 3
        await slow
        assert await reader.lookup(_TEN_OVER, 5) == (2,)
    finally:
        await reader.close()


async def test_a_cancelled_caller_leaves_the_others_their_rows(pg_url: str) -> None:
    """PostgreSQL only: callers cancelled while their statement runs, or while queued behind
    it, lose only their own answer; the others get theirs and the reader serves on."""
    reader = _CountingReader(pg_url)
    slow = Lookup(
        one="SELECT $1::text",
        many="SELECT k, k || '!' FROM unnest($1::text[]) AS k, pg_sleep(0.3)",
    )
    try:
        running = [asyncio.ensure_future(reader.lookup(slow, k)) for k in ("a", "b", "b")]
        await asyncio.sleep(0.1)  # their statement is running now
        queued = [asyncio.ensure_future(reader.lookup(slow, k)) for k in ("c", "d", "d")]
        await asyncio.sleep(0)
        running[1].cancel()  # a duplicate key: its twin still gets the row
        queued[0].cancel()  # its key alone: not read at all
        queued[1].cancel()
        async with asyncio.timeout(5):
            assert await running[0] == ("a!",)
            assert await running[2] == ("b!",)
            assert await queued[2] == ("d!",)
            for cancelled in (running[1], queued[0], queued[1]):
                with pytest.raises(asyncio.CancelledError):
                    await cancelled
            assert await reader.lookup(slow, "e") == ("e!",)
        assert [args for _, args in reader.sent] == [(["a", "b"],), (["d"],), (["e"],)]
    finally:
        await reader.close()
