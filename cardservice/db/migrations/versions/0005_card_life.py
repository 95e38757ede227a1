"""card life: patron devices and notifications, card events, notices, procedure columns

Revision ID: 0005
Revises: 0002, 0004
Create Date: 2026-11-30 03:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import cardservice.db.base

revision: str = "0005"
down_revision: str | tuple[str, ...] | None = ("0002", "0004")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "card_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("patron_id", sa.Integer(), nullable=False),
        sa.Column("user_number", sa.String(length=20), nullable=False),
        sa.Column("new_user_number", sa.String(length=20), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("created_at", cardservice.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", cardservice.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["patron_id"], ["patrons.id"], name=op.f("fk_card_events_patron_id_patrons")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_events")),
    )
    with op.batch_alter_table("card_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_card_events_patron_id"), ["patron_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_card_events_user_number"), ["user_number"], unique=False
        )

    op.create_table(
        "notice_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notice_key", sa.String(length=64), nullable=False),
        sa.Column("patron_id", sa.Integer(), nullable=False),
        sa.Column("created_at", cardservice.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["patron_id"], ["patrons.id"], name=op.f("fk_notice_deliveries_patron_id_patrons")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice_deliveries")),
        sa.UniqueConstraint(
            "notice_key", "patron_id", name=op.f("uq_notice_deliveries_notice_key")
        ),
    )
    op.create_table(
        "notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("subject_ja", sa.String(length=200), nullable=False),
        sa.Column("body_ja", sa.Text(), nullable=False),
        sa.Column("subject_en", sa.String(length=200), nullable=False),
        sa.Column("body_en", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", cardservice.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("queued", sa.Integer(), nullable=False),
        sa.Column("finished_at", cardservice.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"], ["staff_users.id"], name=op.f("fk_notices_created_by_staff_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notices")),
    )
    op.create_table(
        "patron_devices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("patron_id", sa.Integer(), nullable=False),
        sa.Column("password_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("created_at", cardservice.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", cardservice.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", cardservice.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["patron_id"], ["patrons.id"], name=op.f("fk_patron_devices_patron_id_patrons")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patron_devices")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_patron_devices_token_hash")),
    )
    with op.batch_alter_table("patron_devices", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_patron_devices_patron_id"), ["patron_id"], unique=False
        )

    with op.batch_alter_table("applications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("patron_linked_by", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("reissue_reason", sa.String(length=16), nullable=True))
        batch_op.add_column(
            sa.Column(
                "eloan_acknowledged_at",
                cardservice.db.base.UTCDateTime(timezone=True),
                nullable=True,
            )
        )
        batch_op.add_column(
            sa.Column("previous", sa.JSON(), nullable=False, server_default=sa.text("'{}'"))
        )
        batch_op.create_index(batch_op.f("ix_applications_patron_id"), ["patron_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_applications_patron_linked_by_staff_users"),
            "staff_users",
            ["patron_linked_by"],
            ["id"],
        )

    with op.batch_alter_table("cards", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_used_on", sa.Date(), nullable=True))

    with op.batch_alter_table("patrons", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("notifications", sa.JSON(), nullable=False, server_default=sa.text("'{}'"))
        )
        batch_op.add_column(
            sa.Column("source", sa.String(length=16), nullable=False, server_default="online")
        )


def downgrade() -> None:
    with op.batch_alter_table("patrons", schema=None) as batch_op:
        batch_op.drop_column("source")
        batch_op.drop_column("notifications")

    with op.batch_alter_table("cards", schema=None) as batch_op:
        batch_op.drop_column("last_used_on")

    with op.batch_alter_table("applications", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_applications_patron_linked_by_staff_users"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_applications_patron_id"))
        batch_op.drop_column("previous")
        batch_op.drop_column("eloan_acknowledged_at")
        batch_op.drop_column("reissue_reason")
        batch_op.drop_column("patron_linked_by")

    with op.batch_alter_table("patron_devices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_patron_devices_patron_id"))

    op.drop_table("patron_devices")
    op.drop_table("notices")
    op.drop_table("notice_deliveries")
    with op.batch_alter_table("card_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_card_events_user_number"))
        batch_op.drop_index(batch_op.f("ix_card_events_patron_id"))

    op.drop_table("card_events")
