"""One database, two engines: SQLite through aiosqlite, PostgreSQL through asyncpg.

SQLite is set up for a server: WAL so readers never wait for the writer, synchronous=FULL
so a committed card survives a power cut, foreign keys on, and a busy timeout.

Two kinds of unit of work, and a page takes the one it needs:

- ``Database.transaction()`` writes. On SQLite it begins IMMEDIATE, so two writers queue on
  the busy timeout instead of failing when a read lock cannot be upgraded. It holds the one
  write lock of the file until it ends: slow work (Argon2, image re-encoding) is done before
  it opens, never inside. The writers of one process take turns first, in the order they
  came (an asyncio lock): SQLite's busy handler polls with sleeps of up to 100 ms and lets
  a newcomer overtake, so ten writers at once would wait seconds at the tail; only writers
  of other processes (workers, the CLI) still meet on the busy timeout.
- ``Database.read()`` only reads. On SQLite it begins a deferred transaction on connections
  of their own that are ``query_only`` (a write raises), so a page read never waits for a
  writer nor makes one wait; in WAL mode it sees the last commit before its first SELECT. On
  PostgreSQL it is a ``READ ONLY`` transaction on the same pool.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

from cardservice.db.files import private_sqlite_file

BUSY_TIMEOUT_MS = 30_000
SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA foreign_keys=ON",
    f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}",
    # Deleted content is overwritten, so a purged ID image leaves no trace in free pages.
    "PRAGMA secure_delete=ON",
)
# The read connections never write: WAL mode is a property of the file, set by the writers.
SQLITE_READ_PRAGMAS = (
    "PRAGMA foreign_keys=ON",
    f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}",
    "PRAGMA query_only=ON",
)
# The hot-path reader's page cache (KiB, negative as SQLite wants it) and memory map: the
# cards' user-number index at a million cards is some tens of MB, so both hold it whole and
# a lookup at 1M patrons costs what it costs at 10k.
READER_CACHE_KIB = 65_536
READER_MMAP_BYTES = 268_435_456


class Database:
    """The engine and the session factory; one per process."""

    def __init__(
        self,
        url: str,
        *,
        echo: bool = False,
        pool_size: int = 10,
        max_overflow: int = 20,
        pool_timeout: float = 10.0,
    ) -> None:
        """``pool_size`` connections kept, ``max_overflow`` more in a burst; a session waits
        ``pool_timeout`` seconds for one, then ``sqlalchemy.exc.TimeoutError`` (the web answers
        503). Statement parameters stay out of error messages: they hold personal data."""
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        options: dict[str, Any] = {
            "echo": echo,
            "hide_parameters": True,
            "pool_size": pool_size,
            "max_overflow": max_overflow,
            "pool_timeout": pool_timeout,
        }
        if self.is_sqlite:
            options["connect_args"] = {"timeout": BUSY_TIMEOUT_MS / 1000}
            private_sqlite_file(sqlite_path(url))  # 0600 before SQLite makes it 0644
        else:
            options.update(pool_pre_ping=True)
        self.engine: AsyncEngine = create_async_engine(url, **options)
        if self.is_sqlite:
            _configure_sqlite(self.engine, SQLITE_PRAGMAS, "BEGIN IMMEDIATE")
            # Connections of their own: a read never queues behind a writer for a connection.
            self.read_engine: AsyncEngine = create_async_engine(url, **options)
            _configure_sqlite(self.read_engine, SQLITE_READ_PRAGMAS, "BEGIN")
        else:
            self.read_engine = self.engine.execution_options(postgresql_readonly=True)
        self._turn: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self.read_sessions = async_sessionmaker(self.read_engine, expire_on_commit=False)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One unit of work that writes: commits on success, rolls back on any error.

        On SQLite it holds the file's write lock from its start to its end: open it after
        any slow work (hashing, image processing), not around it. It waits for this
        process's earlier writers first, in order, for at most the busy timeout, then raises
        ``OperationalError`` (database is locked) as SQLite would.
        """
        if not self.is_sqlite:
            async with self.sessions() as session, session.begin():
                yield session
            return
        turn = self._writers_turn()
        try:
            async with asyncio.timeout(BUSY_TIMEOUT_MS / 1000):
                await turn.acquire()
        except TimeoutError:
            # What SQLite's busy timeout would have raised, after as long.
            locked = sqlite3.OperationalError("database is locked")
            raise OperationalError("BEGIN IMMEDIATE", None, locked) from None
        try:
            async with self.sessions() as session, session.begin():
                yield session
        finally:
            turn.release()

    def _writers_turn(self) -> asyncio.Lock:
        """This event loop's queue of SQLite writers (a process may run several loops one
        after another: the CLI, tests)."""
        loop = asyncio.get_running_loop()
        if self._turn is None or self._turn[0] is not loop:
            self._turn = (loop, asyncio.Lock())
        return self._turn[1]

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A unit of work that only reads: one consistent snapshot, no write lock.

        A write inside it fails (SQLite ``attempt to write a readonly database``, PostgreSQL
        ``cannot execute ... in a read-only transaction``): pages that may write use
        :meth:`transaction`.
        """
        async with self.read_sessions() as session, session.begin():
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.read_engine is not self.engine:
            await self.read_engine.dispose()


def _configure_sqlite(engine: AsyncEngine, pragmas: tuple[str, ...], begin: str) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Let SQLAlchemy, not the driver, decide when a transaction begins (see "begin").
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in pragmas:
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql(begin)


def sqlite_path(url: str) -> str:
    """The file path in a sqlite+aiosqlite:///path URL."""
    return url.split(":///", 1)[1].split("?", 1)[0]


def open_sqlite_reader(url: str) -> sqlite3.Connection:
    """A read-only connection for hot-path point lookups (see ``db/fastread.py``)."""
    connection = sqlite3.connect(
        f"file:{sqlite_path(url)}?mode=ro",
        uri=True,
        check_same_thread=False,
        isolation_level=None,
        timeout=BUSY_TIMEOUT_MS / 1000,
    )
    connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    connection.execute(f"PRAGMA cache_size=-{READER_CACHE_KIB}")
    connection.execute(f"PRAGMA mmap_size={READER_MMAP_BYTES}")
    return connection
