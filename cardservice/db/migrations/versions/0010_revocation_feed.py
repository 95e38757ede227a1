"""revocation feed for offline scanners: its log, filled with today's revocations

Revision ID: 0010
Revises: 0006
Create Date: 2026-11-30 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import cardservice.db.base

revision: str = "0010"
down_revision: str | tuple[str, ...] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FEED_SEQUENCE = "revocation_feed"


def upgrade() -> None:
    op.create_table(
        "revocation_feed",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("subject", sa.String(length=43), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("until", cardservice.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", cardservice.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_revocation_feed")),
    )
    _backfill()


def _backfill() -> None:
    """Today's revoked and suspended numbers and revoked tokens, as the feed's first seqs."""
    bind = op.get_bind()
    numbers = bind.execute(
        sa.text(
            "SELECT user_number, status, status_reason FROM cards "
            "WHERE status IN ('revoked', 'suspended') ORDER BY id"
        )
    ).all()
    tokens = bind.execute(
        sa.text("SELECT jti, reason, token_expires_at FROM token_revocations ORDER BY revoked_at")
    ).all()
    rows = [
        {"kind": "number", "subject": n, "state": s, "reason": r, "until": None}
        for n, s, r in numbers
    ] + [
        {"kind": "token", "subject": j, "state": "revoked", "reason": r, "until": u}
        for j, r, u in tokens
    ]
    for seq, row in enumerate(rows, start=1):
        bind.execute(
            sa.text(
                "INSERT INTO revocation_feed (seq, kind, subject, state, reason, until, "
                "created_at) VALUES (:seq, :kind, :subject, :state, :reason, :until, "
                "CURRENT_TIMESTAMP)"
            ),
            {**row, "seq": seq},
        )
    bind.execute(
        sa.text("DELETE FROM number_sequences WHERE name = :name"), {"name": FEED_SEQUENCE}
    )
    bind.execute(
        sa.text("INSERT INTO number_sequences (name, next_serial) VALUES (:name, :next)"),
        {"name": FEED_SEQUENCE, "next": len(rows) + 1},
    )


def downgrade() -> None:
    op.get_bind().execute(
        sa.text("DELETE FROM number_sequences WHERE name = :name"), {"name": FEED_SEQUENCE}
    )
    op.drop_table("revocation_feed")
