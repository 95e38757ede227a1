"""Shared fixtures: real databases on both engines, settings, the app over HTTP.

Every test that asks for ``db_url`` (directly or through ``services``/``client``) runs once on
SQLite and once on PostgreSQL. Each test run creates its own PostgreSQL database and drops it
at the end. PostgreSQL is at 127.0.0.1:5432 with trust auth (CARDSERVICE_TEST_PG overrides);
with CARDSERVICE_TEST_POSTGRES=required a missing server fails the run instead of skipping.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import text

from cardservice.app import create_app
from cardservice.db.base import Base
from cardservice.db.migrate import upgrade
from cardservice.profiles import load_profile
from cardservice.services import Services
from cardservice.settings import Settings
from tests.card_support import counter_api_key

PG_ADMIN = os.environ.get("CARDSERVICE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_REQUIRED = os.environ.get("CARDSERVICE_TEST_POSTGRES") == "required"


async def _pg_admin(statement: str) -> None:
    import asyncpg  # noqa: PLC0415

    connection = await asyncpg.connect(PG_ADMIN, timeout=5)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def _pg_available() -> bool:
    try:
        asyncio.run(_pg_admin("SELECT 1"))
    except (TimeoutError, OSError):
        return False
    return True


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    if not _pg_available():
        if PG_REQUIRED:
            pytest.fail(f"PostgreSQL is required but not reachable at {PG_ADMIN}")
        pytest.skip("PostgreSQL not reachable; CI requires it (CARDSERVICE_TEST_POSTGRES)")
    name = f"cardservice_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('sqlite') / 'test.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    asyncio.run(upgrade(url))
    return url


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def profile_name() -> str:
    """Tests override this (or parametrize it) to run under another library's profile."""
    return "example"


@pytest.fixture
def settings(db_url: str, data_dir: Path, profile_name: str) -> Settings:
    return Settings.from_env(
        {},
        data_dir=data_dir,
        database_url=db_url,
        profile=load_profile(profile_name),
        base_url="https://cards.example.org",
        # A port of its own, so parallel runs never catch each other's mail.
        mail_catcher_port=_free_port(),
    )


def _free_port() -> int:
    import socket  # noqa: PLC0415

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def _empty_tables(services: Services) -> None:
    tables = [table.name for table in reversed(Base.metadata.sorted_tables)]
    async with services.db.transaction() as session:
        if services.db.is_sqlite:
            for name in tables:
                await session.execute(text(f'DELETE FROM "{name}"'))  # noqa: S608  # fixed names
        else:
            joined = ", ".join(f'"{name}"' for name in tables)
            await session.execute(text(f"TRUNCATE {joined} RESTART IDENTITY CASCADE"))


@pytest.fixture
async def services(settings: Settings) -> AsyncIterator[Services]:
    svc = Services.build(settings)
    await _empty_tables(svc)
    try:
        yield svc
    finally:
        await svc.close()


@pytest.fixture
def empty_db(settings: Settings) -> Settings:
    """For synchronous tests (the CLI runs its own event loop): emptied tables, no loop."""

    async def empty() -> None:
        svc = Services.build(settings)
        try:
            await _empty_tables(svc)
        finally:
            await svc.close()

    asyncio.run(empty())
    return settings


@pytest.fixture
async def client(services: Services) -> AsyncIterator[AsyncTestClient[object]]:
    """The app over HTTP (in-process ASGI), on a database emptied for this test."""
    app = create_app(services.settings)
    async with AsyncTestClient(app=app, base_url="https://cards.example.org") as test_client:
        yield test_client  # type: ignore[misc]  # the test client is generic over the app


@pytest.fixture
async def api_key(services: Services) -> str:
    """An API key for the counter's ``/api/v1/verify`` (``tests.card_support``)."""
    return await counter_api_key(services)
