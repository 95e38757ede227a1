"""Migration 0004 on both engines: a fresh database gets the rejection templates, in order."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import select

from cardservice.db.engine import Database
from cardservice.db.migrate import alembic_config, upgrade
from cardservice.registration.models import RejectionTemplate

PG_ADMIN = os.environ.get("CARDSERVICE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
EXPECTED_CODES = {
    "unreadable_image",
    "address_mismatch",
    "document_expired",
    "not_eligible",
    "duplicate_registration",
}


async def _pg_admin(statement: str) -> None:
    import asyncpg  # noqa: PLC0415

    connection = await asyncpg.connect(PG_ADMIN, timeout=5)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture
async def fresh_url(db_url: str, tmp_path: Path) -> AsyncIterator[str]:
    """A new, empty database on the engine ``db_url`` runs on."""
    if db_url.startswith("sqlite"):
        yield f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
        return
    name = f"cardservice_fresh_{uuid.uuid4().hex[:12]}"
    await _pg_admin(f'CREATE DATABASE "{name}"')
    try:
        yield f"{db_url.rsplit('/', 1)[0]}/{name}"
    finally:
        await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_fresh_database_has_the_rejection_templates(fresh_url: str) -> None:
    await upgrade(fresh_url)
    database = Database(fresh_url)
    try:
        async with database.transaction() as session:
            rows = list(await session.scalars(select(RejectionTemplate)))
    finally:
        await database.dispose()
    assert {row.code for row in rows} == EXPECTED_CODES
    assert all(row.active and row.text_ja and row.text_en for row in rows)


def test_registration_runs_after_the_staff_tables() -> None:
    # applications.decided_by refers to staff_users, created on the 0003 branch.
    script = ScriptDirectory.from_config(alembic_config())
    revision = script.get_revision("0004")
    assert revision is not None
    assert revision.down_revision == "0001"
    assert revision.dependencies == "0003"
