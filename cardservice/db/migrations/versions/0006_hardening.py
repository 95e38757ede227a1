"""hardening: mail leases, retention of sent bodies and closed applications

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 07:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401  # used by the operations below as they are added
from alembic import op  # noqa: F401

revision: str = "0006"
down_revision: str | tuple[str, ...] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
