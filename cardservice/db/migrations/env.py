"""Alembic environment: migrations run on a connection handed in by ``db/migrate.py``."""

from alembic import context

import cardservice.db.models  # noqa: F401  # registers every table on the metadata
from cardservice.db.base import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `cardservice migrate`")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,  # SQLite alters tables by copying them
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
