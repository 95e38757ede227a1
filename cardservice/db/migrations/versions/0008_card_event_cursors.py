"""card event cursors: how far each consumer of card events (Google Wallet) has read

Revision ID: 0008
Revises: 0006
Create Date: 2026-11-30 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | tuple[str, ...] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "card_event_cursors",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("last_event_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_card_event_cursors")),
    )


def downgrade() -> None:
    op.drop_table("card_event_cursors")
