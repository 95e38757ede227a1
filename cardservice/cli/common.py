"""What every ``cardservice`` command shares: settings from the environment, running async
work with domain errors reported as the command's error, and a database for one command."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
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
    """Run one piece of async work with the service's parts, reporting domain errors."""
    settings = settings_from_env()
    try:
        return asyncio.run(work(settings))
    except DomainError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}") from exc


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
