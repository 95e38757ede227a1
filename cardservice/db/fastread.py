"""Point lookups for the counter hot path, without the ORM.

Verification answers thousands of scans a second, and each one is a single indexed read.
Going through the ORM and aiosqlite's worker thread costs more than the rest of the request,
so these reads use the drivers directly: a read-only sqlite3 connection (a point read in WAL
mode takes microseconds and never waits for the writer, so it runs inline), or asyncpg's
pool with statements prepared once per connection. The SQL is shared; only the parameter
style differs.

On PostgreSQL a lookup is one round trip on a connection of the reader's own (see
:class:`PostgresReader`). On both engines a :class:`Lookup` by key is shared: the lookups asked
while one is in flight, or in the same pass of the event loop, are read by the next statement
all at once (see :class:`_Batcher`). On SQLite that statement runs inline, and a busy counter
API makes one a pass instead of one a scan: the statement, not its rows, is what a point read
costs there (the sqlite3 module's statement cache, the read transaction's locks, the VM).
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final, Protocol

import msgspec
from sqlalchemy.exc import TimeoutError as PoolTimeout

from cardservice.db.engine import open_sqlite_reader

_POSITIONAL = re.compile(r"\$\d+")

# Keys per batched statement: a few kilobytes of parameters, well under any limit.
MAX_BATCH: Final = 256


@dataclass(frozen=True, slots=True)
class Lookup:
    """At most one row by a key of ``key_size`` values, asked by many callers at once, and
    read for all of them in one statement (see :class:`_Batcher`).

    ``postgresql`` takes one array per key value (``$1::text[]``...); ``sqlite`` takes one
    JSON array of the keys as ``$1`` (each key its value, or an array of its values when
    ``key_size`` > 1), read with ``json_each``. Both select the key's values first, then the
    columns the caller gets, one row per key found. The key must be unique in what is read
    (a unique column): a second row for a key would be ignored.
    """

    postgresql: str
    sqlite: str
    key_size: int = 1


# Reads the rows of many keys of a lookup in one statement: (query, keys) to rows, each row the
# key's values then the columns the caller gets.
ReadMany = Callable[[Lookup, list[tuple[Any, ...]]], Awaitable[list[tuple[Any, ...]]]]


class FastReader(Protocol):
    async def fetchrow(self, sql: str, *args: Any) -> tuple[Any, ...] | None: ...

    async def lookup(self, query: Lookup, *key: Any) -> tuple[Any, ...] | None: ...

    async def fetch(self, sql: str, *args: Any) -> list[tuple[Any, ...]]: ...

    async def close(self) -> None: ...


class SqliteReader:
    def __init__(self, url: str) -> None:
        self._url = url
        self._connection: sqlite3.Connection | None = None
        self._translated: dict[str, str] = {}
        self._batchers: dict[Lookup, _Batcher] = {}

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

    async def lookup(self, query: Lookup, *key: Any) -> tuple[Any, ...] | None:
        """The row of ``query`` for ``key``, or None; read with the lookups of the same
        pass of the event loop in one ``query.sqlite`` statement (see :class:`_Batcher`).
        Errors: the statement's (``sqlite3.Error``), raised in every caller of that statement."""
        batcher = self._batchers.get(query)
        if batcher is None:
            batcher = self._batchers[query] = _Batcher(self._read_many, query)
        return await batcher.get(key)

    async def _read_many(self, query: Lookup, keys: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        # JSON text: a bytes parameter would be a BLOB, which SQLite 3.45+ reads as JSONB.
        param = msgspec.json.encode(keys if query.key_size > 1 else [k[0] for k in keys])
        return await self.fetch(query.sqlite, param.decode())

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

    :meth:`lookup` shares statements between concurrent callers (see :class:`_Batcher`):
    asyncpg's own work per statement and the loop pass to collect each reply cost more CPU
    than the rest of a counter scan, and the server's per statement cost does too.
    """

    def __init__(self, url: str, *, max_size: int = 8, wait_timeout: float = 10.0) -> None:
        self._dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)
        self._max_size = max_size
        self._wait_timeout = wait_timeout
        self._idle: list[_Connection] = []
        self._opened = 0  # open, or being opened
        # Lookups waiting for a connection: given one, or None to open one themselves.
        self._waiting: deque[asyncio.Future[_Connection | None]] = deque()
        self._batchers: dict[Lookup, _Batcher] = {}

    async def lookup(self, query: Lookup, *key: Any) -> tuple[Any, ...] | None:
        """The row of ``query`` for ``key`` (``query.key_size`` values), or None; read
        with the lookups of other callers in one ``query.postgresql`` statement. Errors: those of
        :meth:`fetch` (the statement's, or ``TimeoutError`` waiting for a connection), raised
        in every caller whose key was in the failed statement."""
        batcher = self._batchers.get(query)
        if batcher is None:
            batcher = self._batchers[query] = _Batcher(self._read_many, query)
        return await batcher.get(key)

    async def _read_many(self, query: Lookup, keys: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        arrays = tuple(list(column) for column in zip(*keys, strict=True))
        return list(await self._run(query.postgresql, "fetch", arrays))

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


class _Batcher:
    """Shares :class:`Lookup` statements between concurrent callers, DataLoader style.

    A caller's key goes into a queue. While no statement of this lookup is in flight, one
    task runs, from the next pass of the event loop: it takes up to :data:`MAX_BATCH`
    distinct keys from the queue (callers asking for the same key share its place), reads
    them with one statement (the engine's ``read_many``), hands each caller its own row (None
    when the key is not found), and goes on while keys are waiting. Under load each statement
    therefore carries the keys asked in the pass before it and, on PostgreSQL, those that
    arrived during the previous statement; alone, a lookup waits one pass and one statement.

    An error of the statement (or of waiting for a connection) is raised in every caller of
    that statement, and the next keys are read with a fresh statement. A caller cancelled
    while waiting only loses its own answer; the statement and the other callers go on.
    """

    def __init__(self, read_many: ReadMany, query: Lookup) -> None:
        self._read_many = read_many
        self._query = query
        self._queued: dict[tuple[Any, ...], list[asyncio.Future[tuple[Any, ...] | None]]] = {}
        self._task: asyncio.Task[None] | None = None

    async def get(self, key: tuple[Any, ...]) -> tuple[Any, ...] | None:
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[tuple[Any, ...] | None] = loop.create_future()
        waiters = self._queued.get(key)
        if waiters is None:
            self._queued[key] = [waiter]
        else:
            waiters.append(waiter)
        if self._task is None:
            # Started, not run: the callers whose requests arrived in this pass of the loop
            # queue before the task takes its first batch.
            self._task = loop.create_task(self._run())
        return await waiter

    async def _run(self) -> None:
        try:
            while self._queued:
                await self._read(self._take())
        finally:
            self._task = None
            # Cancelled (the loop is closing): nobody is left waiting forever.
            for waiters in self._queued.values():
                for waiter in waiters:
                    waiter.cancel()
            self._queued.clear()

    def _take(self) -> dict[tuple[Any, ...], list[asyncio.Future[tuple[Any, ...] | None]]]:
        queued = self._queued
        if len(queued) <= MAX_BATCH:
            self._queued = {}
            return queued
        batch = {}
        for key in list(queued)[:MAX_BATCH]:
            batch[key] = queued.pop(key)
        return batch

    async def _read(
        self, batch: dict[tuple[Any, ...], list[asyncio.Future[tuple[Any, ...] | None]]]
    ) -> None:
        # Keys whose callers all stopped waiting are not read.
        keys = [key for key, waiters in batch.items() if not all(w.done() for w in waiters)]
        if not keys:
            return
        size = self._query.key_size
        try:
            records = await self._read_many(self._query, keys)
        except asyncio.CancelledError:
            for waiters in batch.values():
                for waiter in waiters:
                    waiter.cancel()
            raise
        except Exception as error:  # handed to the callers, who raise it
            for waiters in batch.values():
                for waiter in waiters:
                    if not waiter.done():
                        waiter.set_exception(error)
            return
        found = {}
        for record in records:
            values = tuple(record)
            found[values[:size]] = values[size:]
        for key, waiters in batch.items():
            row = found.get(key)
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(row)


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
