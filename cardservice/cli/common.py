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
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import click

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
    with reported():
        return asyncio.run(work(settings))


@contextmanager
def reported() -> Iterator[None]:
    """A domain or configuration error inside the block ends the command with one line
    (``code: message``, or ``configuration: KEY: problem``) and exit status 1."""
    try:
        yield
    except DomainError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}") from exc
    except ConfigurationError as exc:
        raise click.ClickException(f"configuration: {exc}") from exc


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
