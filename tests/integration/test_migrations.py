"""The migrations build exactly the schema the models describe, on both engines."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from cardservice.db.base import Base
from cardservice.services import Services


async def test_migrated_schema_matches_models(services: Services) -> None:
    def diff(connection: object) -> list[object]:
        context = MigrationContext.configure(connection)  # type: ignore[arg-type]
        return list(compare_metadata(context, Base.metadata))

    async with services.db.engine.connect() as connection:
        differences = await connection.run_sync(diff)
    assert differences == []
