"""What every ``cardservice`` command shares: settings from the environment, running async
work with domain errors reported as the command's error, and a database for one command.

A command acts as the system (no staff member), so every audit entry it writes names the
operator in its detail: ``actor`` is ``cli:`` and the operating-system user (``cli_actor``).
"""

from __future__ import annotations

import asyncio
import functools
import os
import pwd
import socket
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from cardservice.errors import ConfigurationError, DomainError
from cardservice.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")


def settings_from_env() -> Settings:
    """The settings, or a one-line error naming what is wrong in the configuration."""
    try:
        return Settings.from_env()
    except ConfigurationError as exc:
        raise click.ClickException(f"configuration: {exc}") from exc


def run(work: Callable[[Settings], Coroutine[Any, Any, T]]) -> T:
    """Run one piece of async work with the service's parts, reporting domain errors.

    Every table is registered first (``cardservice.db.models``), whichever command runs,
    and the audit entries written name the operator (``cli_actor``)."""
    import cardservice.db.models  # noqa: F401, PLC0415  # every table, in every command

    settings = settings_from_env()
    _name_the_operator_in_audit_entries()
    check_sqlite_directory(settings)
    with reported(settings):
        return asyncio.run(work(settings))


def check_sqlite_directory(settings: Settings) -> None:
    """A SQLite database whose directory does not exist is named before it is opened
    (aiosqlite, failing to open it, leaves a thread that dies with a traceback)."""
    from cardservice.db.engine import sqlite_path  # noqa: PLC0415  # keep `--help` fast

    url = settings.async_database_url
    if not url.startswith("sqlite"):
        return
    path = sqlite_path(url)
    if path in ("", ":memory:") or path.startswith("file:"):
        return
    directory = Path(path).parent
    if not directory.is_dir():
        first = "; run `cardservice migrate` first" if directory == settings.data_dir else ""
        raise click.ClickException(f"database {url}: {directory} does not exist{first}")


@contextmanager
def reported(settings: Settings | None = None) -> Iterator[None]:
    """A domain or configuration error inside the block ends the command with one line
    (``code: message``, or ``configuration: KEY: problem``) and exit status 1; so do a
    database that cannot be reached, opened or written, or one not migrated (naming
    ``settings``' database, password hidden), and a file or directory that cannot be
    written (naming it): an operator reads what to fix, not a traceback."""
    try:
        yield
    except DomainError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}") from exc
    except ConfigurationError as exc:
        raise click.ClickException(f"configuration: {exc}") from exc
    except DBAPIError as exc:
        raise click.ClickException(_database_problem(settings, exc.orig or exc)) from exc
    except PoolTimeout as exc:
        raise click.ClickException(_database_problem(settings, "no connection free")) from exc
    except BrokenPipeError as exc:  # the reader of standard output went away (| head)
        raise click.ClickException("the output was closed before it was all written") from exc
    except OSError as exc:
        if exc.filename is not None:
            raise click.ClickException(f"{exc.filename}: {exc.strerror}") from exc
        if settings is None or not isinstance(exc, ConnectionError | socket.gaierror):
            raise click.ClickException(str(exc)) from exc
        raise click.ClickException(_database_problem(settings, exc)) from exc


def _database_problem(settings: Settings | None, cause: object) -> str:
    """``database URL: cause`` in one line; a missing table says to migrate."""
    problem = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
    if "no such table" in problem or getattr(cause, "sqlstate", None) == "42P01":
        problem += "; run `cardservice migrate` first"
    if settings is None:
        return f"database: {problem}"
    url = make_url(settings.async_database_url).render_as_string(hide_password=True)
    return f"database {url}: {problem}"


def cli_actor() -> str:
    """``cli:<user>``: who ran the command, by the process's real user id (not $USER, which
    anyone may set); with sudo, the user who called it too (``cli:root(sudo:alice)``)."""
    from cardservice.staff.audit import CLI_ACTOR_PREFIX  # noqa: PLC0415  # keep `--help` fast

    try:
        user = pwd.getpwuid(os.getuid()).pw_name
    except KeyError:  # a uid with no passwd entry, as in some containers
        user = str(os.getuid())
    sudo_user = os.environ.get("SUDO_USER")
    if sudo_user and os.getuid() == 0:
        return f"{CLI_ACTOR_PREFIX}{user}(sudo:{sudo_user})"[:64]
    return f"{CLI_ACTOR_PREFIX}{user}"[:64]


@functools.cache  # once per process: one listener
def _name_the_operator_in_audit_entries() -> None:
    """Before each flush in this process, an audit entry without a staff member gets
    ``actor`` in its detail: the CLI acts as the system, and the log says who ran it."""
    from sqlalchemy import event  # noqa: PLC0415
    from sqlalchemy.orm import Session  # noqa: PLC0415

    from cardservice.staff.models import AuditEntry  # noqa: PLC0415

    actor = cli_actor()

    def stamp(session: Session, _context: object, _instances: object) -> None:
        for entry in session.new:
            if isinstance(entry, AuditEntry) and entry.staff_id is None:
                entry.detail = {**(entry.detail or {}), "actor": actor}

    event.listen(Session, "before_flush", stamp)


@asynccontextmanager
async def one_session(settings: Settings) -> AsyncIterator[AsyncSession]:
    """One transaction on a database opened for one command, closed afterwards."""
    from cardservice.db.engine import Database  # noqa: PLC0415  # keep `--help` fast

    db = Database(settings.async_database_url)
    try:
        async with db.transaction() as session:
            yield session
    finally:
        await db.dispose()
