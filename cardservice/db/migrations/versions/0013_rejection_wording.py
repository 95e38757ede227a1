"""rejection templates: the seeded Japanese texts say 申請, as every other page and email does

Revision ID: 0013
Revises: 0006
Create Date: 2026-11-30 13:40:00.000000

Migration 0004 seeded three reasons that asked the applicant to 「お申し込みください」.
Applying is 申請 everywhere else (Kashiwa's published procedure: スマート登録申請). A text
is replaced only where it is still the seeded one: a template an administrator has edited
is theirs and stays as it is. Downgrading puts the seeded texts back on the same terms.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | tuple[str, ...] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# code: (the text 0004 seeded, the text now)
REWORDED = {
    "unreadable_image": (
        "本人確認書類の画像が不鮮明で、記載内容を読み取れませんでした。"
        "明るい場所で、文字がはっきり読めるように撮影し直してお申し込みください。",
        "本人確認書類の画像が不鮮明で、記載内容を読み取れませんでした。"
        "明るい場所で、文字がはっきり読めるように撮影し直して、もう一度申請してください。",
    ),
    "address_mismatch": (
        "申請の住所と本人確認書類の住所が一致しませんでした。"
        "現住所が記載された本人確認書類でお申し込みください。",
        "申請の住所と本人確認書類の住所が一致しませんでした。"
        "現住所が記載された本人確認書類で、もう一度申請してください。",
    ),
    "document_expired": (
        "本人確認書類の有効期限が切れていました。有効期限内の本人確認書類でお申し込みください。",
        "本人確認書類の有効期限が切れていました。"
        "有効期限内の本人確認書類で、もう一度申請してください。",
    ),
}

_TEMPLATES = sa.table(
    "rejection_templates", sa.column("code", sa.String), sa.column("text_ja", sa.Text)
)


def _replace(old_index: int, new_index: int) -> None:
    for code, texts in REWORDED.items():
        op.execute(
            _TEMPLATES.update()
            .where(_TEMPLATES.c.code == code, _TEMPLATES.c.text_ja == texts[old_index])
            .values(text_ja=texts[new_index])
        )


def upgrade() -> None:
    _replace(0, 1)


def downgrade() -> None:
    _replace(1, 0)
