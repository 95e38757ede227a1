"""Point lookups for the counter hot path, without the ORM.

Verification answers thousands of scans a second, and each one is a single indexed read.
Going through the ORM and aiosqlite's worker thread costs more than the rest of the request,
so these reads use the drivers directly: a read-only sqlite3 connection (a point read in WAL
mode takes microseconds and never waits for the writer, so it runs inline), or asyncpg's
pool with statements prepared once per connection. The SQL is shared; only the parameter
style differs.

On PostgreSQL a lookup is one round trip on a connection of the reader's own (see
:class:`PostgresReader`).
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections import deque
from typing import Any, Protocol

from sqlalchemy.exc import TimeoutError as PoolTimeout

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
    """A few asyncpg connections of its own, each statement prepared once per connection.

    Not asyncpg's pool: its acquire and release cost more CPU than the query itself, and it
    resets every connection it gets back (``RESET ALL``, ``CLOSE ALL``...: a second round
    trip). These connections run single read statements outside any transaction, so they
    carry no session state: a lookup is one round trip. Connections open on first need, up
    to ``max_size``; a lookup that finds them all busy waits for the next one free, at most
    ``wait_timeout`` seconds, then raises ``sqlalchemy.exc.TimeoutError`` as the ORM's pool
    does (the web answers 503 with Retry-After). A connection whose statement failed or was
    cancelled is closed, never reused, and the error goes to the caller.
    """

    def __init__(self, url: str, *, max_size: int = 8, wait_timeout: float = 10.0) -> None:
        self._dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)
        self._max_size = max_size
        self._wait_timeout = wait_timeout
        self._idle: list[_Connection] = []
        self._opened = 0  # open, or being opened
        # Lookups waiting for a connection: given one, or None to open one themselves.
        self._waiting: deque[asyncio.Future[_Connection | None]] = deque()

    async def fetchrow(self, sql: str, *args: Any) -> tuple[Any, ...] | None:
        record = await self._run(sql, "fetchrow", args)
        return None if record is None else tuple(record)

    async def fetch(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        return [tuple(record) for record in await self._run(sql, "fetch", args)]

    async def _run(self, sql: str, method: str, args: tuple[Any, ...]) -> Any:
        connection = await self._acquire()
        try:
            statement = connection.statements.get(sql)
            if statement is None:
                statement = connection.statements[sql] = await connection.raw.prepare(sql)
            result = await getattr(statement, method)(*args)
        except BaseException:
            self._discard(connection)
            raise
        self._release(connection)
        return result

    async def _acquire(self) -> _Connection:
        if self._idle:
            return self._idle.pop()
        if self._opened >= self._max_size:
            waiter: asyncio.Future[_Connection | None] = asyncio.get_running_loop().create_future()
            self._waiting.append(waiter)
            try:
                async with asyncio.timeout(self._wait_timeout):
                    given = await asyncio.shield(waiter)
            except (asyncio.CancelledError, TimeoutError) as stopped:
                if waiter.done() and not waiter.cancelled():
                    self._pass_on(waiter.result())  # handed over as we stopped waiting
                else:
                    waiter.cancel()  # _pass_on skips it
                if isinstance(stopped, TimeoutError):
                    raise PoolTimeout(
                        f"no fast-read connection free within {self._wait_timeout:g} s"
                    ) from None
                raise
            if given is not None:
                return given
        else:
            self._opened += 1
        try:
            return await _Connection.open(self._dsn)
        except BaseException:
            self._pass_on(None)
            raise

    def _release(self, connection: _Connection) -> None:
        self._pass_on(connection)

    def _discard(self, connection: _Connection) -> None:
        connection.raw.terminate()
        self._pass_on(None)

    def _pass_on(self, connection: _Connection | None) -> None:
        """A connection (or, None, the room to open one) to the first lookup still waiting."""
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(connection)
                return
        if connection is None:
            self._opened -= 1
        else:
            self._idle.append(connection)

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for connection in idle:
            await connection.raw.close()
        self._opened -= len(idle)


class _Connection:
    __slots__ = ("raw", "statements")

    def __init__(self, raw: Any) -> None:
        self.raw = raw
        self.statements: dict[str, Any] = {}

    @classmethod
    async def open(cls, dsn: str) -> _Connection:
        import asyncpg  # noqa: PLC0415  # only PostgreSQL deployments need the driver

        # Statements are prepared here, by name; asyncpg's own cache would only duplicate them.
        return cls(await asyncpg.connect(dsn, statement_cache_size=0))


def open_reader(url: str, *, wait_timeout: float = 10.0) -> FastReader:
    """The hot-path reader for ``url``; on PostgreSQL a lookup waits at most ``wait_timeout``
    seconds for a connection (the pool timeout setting)."""
    if url.startswith("sqlite"):
        return SqliteReader(url)
    return PostgresReader(url, wait_timeout=wait_timeout)
