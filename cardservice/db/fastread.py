"""Point lookups for the counter hot path, without the ORM.

Verification answers thousands of scans a second, and each one is a single indexed read.
Going through the ORM and aiosqlite's worker thread costs more than the rest of the request,
so these reads use the drivers directly: a read-only sqlite3 connection (a point read in WAL
mode takes microseconds and never waits for the writer, so it runs inline), or asyncpg's
pool with statements prepared once per connection. The SQL is shared; only the parameter
style differs.

On PostgreSQL a lookup is one round trip: asyncpg's pool would otherwise reset each
connection it gets back (``RESET ALL``, ``CLOSE ALL``, advisory unlock: a second round trip
per lookup). These connections only ever run single read statements, outside any
transaction, so there is no session state to reset.
"""

from __future__ import annotations

import re
import sqlite3
from typing import Any, Protocol

from cardservice.db.engine import open_sqlite_reader

_POSITIONAL = re.compile(r"\$\d+")


class FastReader(Protocol):
    async def fetchrow(self, sql: str, *args: Any) -> tuple[Any, ...] | None: ...

    async def fetch(self, sql: str, *args: Any) -> list[tuple[Any, ...]]: ...

    async def close(self) -> None: ...


class SqliteReader:
    def __init__(self, url: str) -> None:
        self._url = url
        self._connection: sqlite3.Connection | None = None
        self._translated: dict[str, str] = {}

    def _connect(self) -> sqlite3.Connection:
        # Opened on first use: the database file exists only once migrations have run.
        if self._connection is None:
            self._connection = open_sqlite_reader(self._url)
        return self._connection

    async def fetchrow(self, sql: str, *args: Any) -> tuple[Any, ...] | None:
        row: tuple[Any, ...] | None = self._connect().execute(self._query(sql), args).fetchone()
        return row

    async def fetch(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = self._connect().execute(self._query(sql), args).fetchall()
        return rows

    def _query(self, sql: str) -> str:
        query = self._translated.get(sql)
        if query is None:
            # "$2" becomes "?2": numbered, so parameters may appear in any order in the text.
            query = self._translated[sql] = _POSITIONAL.sub(lambda m: "?" + m[0][1:], sql)
        return query

    async def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class PostgresReader:
    def __init__(self, url: str, *, max_size: int = 10) -> None:
        self._dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)
        self._max_size = max_size
        self._pool: Any = None

    async def _get_pool(self) -> Any:
        if self._pool is None:
            import asyncpg  # noqa: PLC0415  # only PostgreSQL deployments need the driver

            self._pool = await asyncpg.create_pool(
                self._dsn, min_size=1, max_size=self._max_size, reset=_keep_session
            )
        return self._pool

    async def fetchrow(self, sql: str, *args: Any) -> tuple[Any, ...] | None:
        pool = await self._get_pool()
        # asyncpg caches the prepared statement per connection, keyed by the SQL text.
        record = await pool.fetchrow(sql, *args)
        return None if record is None else tuple(record)

    async def fetch(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        pool = await self._get_pool()
        return [tuple(record) for record in await pool.fetch(sql, *args)]

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None


async def _keep_session(_connection: Any) -> None:
    """Given back to the pool as it is: the pool has already rolled back any transaction
    (none is ever opened here), and single statements leave no other state."""


def open_reader(url: str) -> FastReader:
    if url.startswith("sqlite"):
        return SqliteReader(url)
    return PostgresReader(url)
