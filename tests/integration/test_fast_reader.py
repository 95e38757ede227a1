"""The hot-path reader on both engines: point reads and lists, many at once on a few
connections, a failed statement that does not poison the connections, and lookups shared by
concurrent callers (each its own row, errors to every caller of a statement, cancellation)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from typing import Any

import pytest
from sqlalchemy.exc import TimeoutError as PoolTimeout

from cardservice.db.fastread import (
    MAX_BATCH,
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
    postgresql="SELECT name, id, name FROM api_keys WHERE name = ANY($1::text[])",
    sqlite=(
        "SELECT k.value, a.id, a.name FROM json_each($1) AS k "
        "CROSS JOIN api_keys a ON a.name = k.value"
    ),
)
# Two key values, read through unnest as the token check reads number and jti.
_KEY_BY_NAME_AND_PREFIX = Lookup(
    postgresql=(
        "SELECT k.name, k.prefix, a.id FROM unnest($1::text[], $2::text[]) AS k(name, prefix) "
        "JOIN api_keys a ON a.name = k.name AND a.prefix = k.prefix"
    ),
    sqlite=(
        "SELECT k.name, k.prefix, a.id FROM (SELECT json_extract(value, '$[0]') AS name, "
        "json_extract(value, '$[1]') AS prefix FROM json_each($1)) AS k "
        "CROSS JOIN api_keys a ON a.name = k.name AND a.prefix = k.prefix"
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


class _CountingSqliteReader(SqliteReader):
    """The real SQLite reader, noting the statements it runs."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.sent: list[tuple[str, tuple[Any, ...]]] = []

    async def fetch(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        self.sent.append((sql, args))
        return await super().fetch(sql, *args)


async def test_concurrent_lookups_each_get_their_own_row(services: Services) -> None:
    """Many callers at once, with unknown keys and the same key asked several times: each
    gets the row of its own key; on PostgreSQL in a few shared statements, each key once."""
    async with services.db.transaction() as session:
        made = {name: await create_api_key(session, name) for name in ("a", "b", "c")}
    ids = {name: row.id for name, (row, _) in made.items()}
    url = services.settings.async_database_url
    reader: _CountingReader | _CountingSqliteReader = (
        _CountingSqliteReader(url)
        if services.settings.is_sqlite
        else _CountingReader(url, max_size=2)
    )
    try:
        names = ["a", "zzz", "b", "a", "c", "yyy", "a"] * 60  # 420 callers, 5 distinct keys
        rows = await asyncio.gather(*(reader.lookup(_KEY_BY_NAME, name) for name in names))
        assert rows == [(ids[name], name) if name in ids else None for name in names]
        pairs = [(name, made[name][0].prefix) for name in ("a", "b", "c")]
        pairs += [("a", "csk_nothere"), ("nobody", pairs[0][1]), pairs[1]]
        rows = await asyncio.gather(*(reader.lookup(_KEY_BY_NAME_AND_PREFIX, *p) for p in pairs))
        assert rows == [(ids["a"],), (ids["b"],), (ids["c"],), None, None, (ids["b"],)]
        first, second = reader.sent
        if isinstance(reader, _CountingReader):
            assert first == (_KEY_BY_NAME.postgresql, (["a", "zzz", "b", "c", "yyy"],))
            assert second[0] == _KEY_BY_NAME_AND_PREFIX.postgresql
            assert len(second[1][0]) == 5  # the duplicate pair asked once
        else:  # one statement a pass of the loop, each key once, as JSON text
            assert first == (_KEY_BY_NAME.sqlite, ('["a","zzz","b","c","yyy"]',))
            assert second[0] == _KEY_BY_NAME_AND_PREFIX.sqlite
            assert len(json.loads(second[1][0])) == 5
    finally:
        await reader.close()


def _counting(services: Services) -> _CountingReader | _CountingSqliteReader:
    url = services.settings.async_database_url
    return _CountingSqliteReader(url) if services.settings.is_sqlite else _CountingReader(url)


def _sent_keys(reader: _CountingReader | _CountingSqliteReader) -> list[list[Any]]:
    """The keys of each statement the reader ran, in order."""
    if isinstance(reader, _CountingReader):
        return [list(args[0]) for _, args in reader.sent]
    return [json.loads(args[0]) for _, args in reader.sent]


_EXCLAIMED = Lookup(
    postgresql="SELECT k, k || '!' FROM unnest($1::text[]) AS k",
    sqlite="SELECT value, value || '!' FROM json_each($1)",
)


async def test_a_batch_holds_at_most_max_batch_keys(services: Services) -> None:
    """More distinct keys than a statement carries go in several."""
    reader = _counting(services)
    try:
        keys = [str(i) for i in range(MAX_BATCH * 2 + 3)]
        rows = await asyncio.gather(*(reader.lookup(_EXCLAIMED, key) for key in keys))
        assert rows == [(key + "!",) for key in keys]
        assert [len(sent) for sent in _sent_keys(reader)] == [MAX_BATCH, MAX_BATCH, 3]
    finally:
        await reader.close()


async def test_lookups_of_one_pass_share_a_statement_and_the_next_pass_reads_anew(
    services: Services,
) -> None:
    """Scans asked in one pass of the loop are one statement; a write committed after it is
    seen by the next lookup (a revoked card answers revoked at once)."""
    async with services.db.transaction() as session:
        await create_api_key(session, "before")
    reader = _counting(services)
    try:
        first = await asyncio.gather(*(reader.lookup(_KEY_BY_NAME, n) for n in ("before", "after")))
        assert [row[1] if row else None for row in first] == ["before", None]
        async with services.db.transaction() as session:
            await create_api_key(session, "after")
        assert (await reader.lookup(_KEY_BY_NAME, "after") or ())[1:] == ("after",)
        assert _sent_keys(reader) == [["before", "after"], ["after"]]
    finally:
        await reader.close()


# A statement that fails for one of its keys: 10 / 0 on PostgreSQL, a malformed JSON text on
# SQLite (which answers NULL for a division by zero).
_FAILING = Lookup(
    postgresql="SELECT k, 10 / k::int FROM unnest($1::text[]) AS k",
    sqlite="SELECT value, 10 / json_extract(value, '$') FROM json_each($1)",
)


async def test_an_error_reaches_every_caller_of_its_batch(services: Services) -> None:
    """One bad key fails the statement, every caller in it gets the error, and the next
    statement serves normally."""
    import asyncpg  # noqa: PLC0415  # the PostgreSQL driver's error class

    reader = open_reader(services.settings.async_database_url)
    bad = "0" if not services.settings.is_sqlite else "{"
    error = sqlite3.OperationalError if services.settings.is_sqlite else asyncpg.DivisionByZeroError
    try:
        outcomes = await asyncio.gather(
            *(reader.lookup(_FAILING, k) for k in ("1", "2", bad, "5", "2")),
            return_exceptions=True,
        )
        assert len(outcomes) == 5
        assert all(isinstance(o, error) for o in outcomes), outcomes
        rows = await asyncio.gather(*(reader.lookup(_FAILING, k) for k in ("1", "2", "5")))
        assert rows == [(10,), (5,), (2,)]
    finally:
        await reader.close()


async def test_a_caller_cancelled_before_its_statement_leaves_the_others_their_rows(
    services: Services,
) -> None:
    """Callers cancelled while queued lose only their own answer: a key left with no caller
    is not read, a key another caller still waits for is, and the reader serves on."""
    reader = _counting(services)
    try:
        queued = [asyncio.ensure_future(reader.lookup(_EXCLAIMED, k)) for k in ("c", "d", "d")]
        await asyncio.sleep(0)  # queued now, their statement not yet run
        queued[0].cancel()
        queued[1].cancel()
        async with asyncio.timeout(5):
            assert await queued[2] == ("d!",)
            for cancelled in queued[:2]:
                with pytest.raises(asyncio.CancelledError):
                    await cancelled
            assert await reader.lookup(_EXCLAIMED, "e") == ("e!",)
        assert _sent_keys(reader) == [["d"], ["e"]]
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
            *(reader.lookup(_FAILING, k) for k in ("1", "2", "2")), return_exceptions=True
        )
        assert [type(o) for o in outcomes] == [PoolTimeout] * 3
        await slow
        assert await reader.lookup(_FAILING, "5") == (2,)
    finally:
        await reader.close()


async def test_a_cancelled_caller_leaves_the_others_their_rows(pg_url: str) -> None:
    """PostgreSQL only: callers cancelled while their statement runs, or while queued behind
    it, lose only their own answer; the others get theirs and the reader serves on."""
    reader = _CountingReader(pg_url)
    slow = Lookup(
        postgresql="SELECT k, k || '!' FROM unnest($1::text[]) AS k, pg_sleep(0.3)",
        sqlite="",  # PostgreSQL only
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
