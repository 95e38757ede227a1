"""webhooks: the previous signing secret, still signing during the overlap after a change

Revision ID: 0012
Revises: 0006
Create Date: 2026-11-30 13:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import cardservice.db.base

revision: str = "0012"
down_revision: str | tuple[str, ...] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = "0011"


# Plain ALTER TABLE on both engines (SQLite has had ADD and DROP COLUMN since 3.35): a batch
# rebuild would drop and recreate webhook_endpoints, which the deliveries' foreign key refuses
# on SQLite while any message refers to an endpoint.


def upgrade() -> None:
    op.add_column("webhook_endpoints", sa.Column("previous_secret_blob", sa.LargeBinary()))
    op.add_column(
        "webhook_endpoints",
        sa.Column("previous_secret_until", cardservice.db.base.UTCDateTime(timezone=True)),
    )


def downgrade() -> None:
    op.drop_column("webhook_endpoints", "previous_secret_until")
    op.drop_column("webhook_endpoints", "previous_secret_blob")
