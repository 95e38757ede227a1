"""hardening: mail leases, retention of sent bodies and closed applications

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 07:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import cardservice.db.base

revision: str = "0006"
down_revision: str | tuple[str, ...] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Retention: sent mail bodies cleared, closed applications' personal details erased.
    for table in ("outbox", "caught_mail"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column(
                    "body_cleared_at", cardservice.db.base.UTCDateTime(timezone=True), nullable=True
                )
            )
    with op.batch_alter_table("applications", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "personal_data_erased_at",
                cardservice.db.base.UTCDateTime(timezone=True),
                nullable=True,
            )
        )
    # Possible duplicates are found by birth date, their readings compared folded.
    op.create_index("ix_patrons_birth_date", "patrons", ["birth_date"])
    op.create_index("ix_applications_birth_date", "applications", ["birth_date"])
    # Addresses in the one stored form (mail.addresses): IDNA domains, no invisible marks,
    # carriers' legacy local parts quoted; so logins and duplicate checks find them.
    for table, column, only in (
        ("patrons", "email", ""),
        ("applications", "email", ""),
        ("outbox", "to_address", " AND status = 'pending'"),
    ):
        _normalise_addresses(table, column, only)


def _normalise_addresses(table: str, column: str, only: str) -> None:
    """Rewrite ``table.column`` as ``normalise_address`` gives it, in pages of ids; an
    address that is none stays as it is. Not undone by the downgrade (both forms work)."""
    from cardservice.mail.addresses import normalise_address  # noqa: PLC0415
    from cardservice.mail.errors import InvalidRecipient  # noqa: PLC0415

    bind = op.get_bind()
    page = sa.text(
        f"SELECT id, {column} FROM {table} WHERE id > :last{only} ORDER BY id LIMIT 2000"  # noqa: S608  # fixed names
    )
    change = sa.text(f"UPDATE {table} SET {column} = :value WHERE id = :id")  # noqa: S608
    last = 0
    while rows := bind.execute(page, {"last": last}).all():
        for row_id, address in rows:
            try:
                stored = normalise_address(address) if address else address
            except InvalidRecipient:
                continue
            if stored != address:
                bind.execute(change, {"value": stored, "id": row_id})
        last = rows[-1][0]


def downgrade() -> None:
    op.drop_index("ix_applications_birth_date", table_name="applications")
    op.drop_index("ix_patrons_birth_date", table_name="patrons")
    with op.batch_alter_table("applications", schema=None) as batch_op:
        batch_op.drop_column("personal_data_erased_at")
    for table in ("caught_mail", "outbox"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("body_cleared_at")
