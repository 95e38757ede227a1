"""apple passes: one Apple Wallet pass per card, and the devices that registered for it

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import cardservice.db.base

revision: str = "0007"
down_revision: str | tuple[str, ...] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "apple_passes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("card_id", sa.Integer(), nullable=False),
        sa.Column("serial", sa.String(length=32), nullable=False),
        sa.Column("updated_at", cardservice.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", cardservice.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["card_id"], ["cards.id"], name=op.f("fk_apple_passes_card_id_cards")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_apple_passes")),
        sa.UniqueConstraint("card_id", name=op.f("uq_apple_passes_card_id")),
        sa.UniqueConstraint("serial", name=op.f("uq_apple_passes_serial")),
    )
    with op.batch_alter_table("apple_passes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_apple_passes_updated_at"), ["updated_at"])
    op.create_table(
        "apple_pass_registrations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pass_id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.String(length=128), nullable=False),
        sa.Column("push_token", sa.String(length=256), nullable=False),
        sa.Column("created_at", cardservice.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["pass_id"],
            ["apple_passes.id"],
            name=op.f("fk_apple_pass_registrations_pass_id_apple_passes"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_apple_pass_registrations")),
        sa.UniqueConstraint(
            "device_id", "pass_id", name=op.f("uq_apple_pass_registrations_device_id")
        ),
    )
    with op.batch_alter_table("apple_pass_registrations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_apple_pass_registrations_device_id"), ["device_id"])
        batch_op.create_index(batch_op.f("ix_apple_pass_registrations_pass_id"), ["pass_id"])


def downgrade() -> None:
    op.drop_table("apple_pass_registrations")
    op.drop_table("apple_passes")
