"""sip2 kiosks: the login accounts of self-check machines speaking SIP2

Revision ID: 0009
Revises: 0006
Create Date: 2026-11-30 10:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import cardservice.db.base

revision: str = "0009"
down_revision: str | tuple[str, ...] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sip2_kiosks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("created_at", cardservice.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("disabled_at", cardservice.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_login_at", cardservice.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sip2_kiosks")),
        sa.UniqueConstraint("name", name=op.f("uq_sip2_kiosks_name")),
    )


def downgrade() -> None:
    op.drop_table("sip2_kiosks")
