"""Run Alembic migrations from code: ``cardservice migrate`` and the test fixtures use this."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import create_async_engine

from cardservice.db.engine import Database

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


async def upgrade(url: str, revision: str = "heads") -> None:
    """Bring the database at ``url`` to ``revision`` in one transaction."""
    if url.startswith("sqlite"):
        # Migrations go through the same pragmas as the service (WAL, foreign keys).
        database = Database(url)
        engine = database.engine
    else:
        engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_run_upgrade, revision)
    finally:
        await engine.dispose()


def _run_upgrade(connection: object, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)
