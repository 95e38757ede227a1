"""registration: applications, their documents, inquiries and rejection templates

Revision ID: 0004
Revises: 0001
Depends on: 0003 (applications and inquiries refer to staff_users)
Create Date: 2026-11-22 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import cardservice.db.base

revision: str = "0004"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = "0003"

# Reasons a patron can act on; staff may add their own rows later.
REJECTION_TEMPLATES = [
    {
        "code": "unreadable_image",
        "text_ja": "本人確認書類の画像が不鮮明で、記載内容を読み取れませんでした。"
        "明るい場所で、文字がはっきり読めるように撮影し直してお申し込みください。",
        "text_en": "We could not read your identity document in the image. Please take the "
        "photo again in good light, with every word legible, and apply again.",
    },
    {
        "code": "address_mismatch",
        "text_ja": "申請の住所と本人確認書類の住所が一致しませんでした。"
        "現住所が記載された本人確認書類でお申し込みください。",
        "text_en": "The address in your application does not match the address on your "
        "identity document. Please apply with a document that shows your current address.",
    },
    {
        "code": "document_expired",
        "text_ja": "本人確認書類の有効期限が切れていました。"
        "有効期限内の本人確認書類でお申し込みください。",
        "text_en": "Your identity document has expired. Please apply with a document that "
        "is still valid.",
    },
    {
        "code": "not_eligible",
        "text_ja": "オンラインで登録できる対象（在住・在勤・在学）であることを"
        "確認できませんでした。"
        "図書館の窓口でご相談ください。",
        "text_en": "We could not confirm that you live, work or study in the area for online "
        "registration. Please ask at a library counter.",
    },
    {
        "code": "duplicate_registration",
        "text_ja": "すでに利用者登録があります。お持ちの利用カードをお使いください。"
        "利用者番号が分からない場合は「利用者番号が分からない」からお問い合わせください。",
        "text_en": "You are already registered with the library. Please use your existing "
        "card; if you do not know your user number, use 'Forgotten user number'.",
    },
]


def upgrade() -> None:
    templates = op.create_table(
        "rejection_templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("text_ja", sa.Text(), nullable=False),
        sa.Column("text_en", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rejection_templates")),
        sa.UniqueConstraint("code", name=op.f("uq_rejection_templates_code")),
    )
    op.create_table(
        "applications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("procedure", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("consent_version", sa.String(length=200), nullable=True),
        sa.Column("consented_at", cardservice.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("family_name", sa.String(length=64), nullable=False),
        sa.Column("given_name", sa.String(length=64), nullable=False),
        sa.Column("family_kana", sa.String(length=64), nullable=False),
        sa.Column("given_kana", sa.String(length=64), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("postal_code", sa.String(length=7), nullable=False),
        sa.Column("prefecture", sa.String(length=8), nullable=False),
        sa.Column("city", sa.String(length=64), nullable=False),
        sa.Column("street", sa.String(length=64), nullable=False),
        sa.Column("building", sa.String(length=64), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("basis", sa.String(length=16), nullable=False),
        sa.Column("workplace_or_school", sa.String(length=128), nullable=False),
        sa.Column("notifications", sa.JSON(), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("submitted_at", cardservice.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("decided_at", cardservice.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("patron_id", sa.Integer(), nullable=True),
        sa.Column("card_id", sa.Integer(), nullable=True),
        sa.Column("unanswered_inquiries", sa.Integer(), nullable=False),
        sa.Column("last_inquiry_at", cardservice.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", cardservice.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", cardservice.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["card_id"], ["cards.id"], name=op.f("fk_applications_card_id_cards")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"],
            ["staff_users.id"],
            name=op.f("fk_applications_decided_by_staff_users"),
        ),
        sa.ForeignKeyConstraint(
            ["patron_id"], ["patrons.id"], name=op.f("fk_applications_patron_id_patrons")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_applications")),
        sa.UniqueConstraint("public_id", name=op.f("uq_applications_public_id")),
    )
    with op.batch_alter_table("applications", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_applications_email"), ["email"], unique=False)
        batch_op.create_index("ix_applications_status_due", ["status", "due_on"], unique=False)
        batch_op.create_index(
            "ix_applications_kana_birth",
            ["family_kana", "given_kana", "birth_date"],
            unique=False,
        )

    op.create_table(
        "application_documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("doc_type", sa.String(length=32), nullable=False),
        sa.Column("side", sa.String(length=8), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", cardservice.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("purged_at", cardservice.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_application_documents_application_id_applications"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_application_documents")),
    )
    with op.batch_alter_table("application_documents", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_application_documents_application_id"),
            ["application_id"],
            unique=False,
        )

    op.create_table(
        "inquiries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("asked_by", sa.Integer(), nullable=True),
        sa.Column("asked_at", cardservice.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("answer_by", sa.Date(), nullable=False),
        sa.Column("answered_at", cardservice.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("answer_text", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_inquiries_application_id_applications"),
        ),
        sa.ForeignKeyConstraint(
            ["asked_by"], ["staff_users.id"], name=op.f("fk_inquiries_asked_by_staff_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inquiries")),
    )
    with op.batch_alter_table("inquiries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_inquiries_application_id"), ["application_id"], unique=False
        )

    op.bulk_insert(templates, [{**row, "active": True} for row in REJECTION_TEMPLATES])


def downgrade() -> None:
    with op.batch_alter_table("inquiries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inquiries_application_id"))
    op.drop_table("inquiries")
    with op.batch_alter_table("application_documents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_application_documents_application_id"))
    op.drop_table("application_documents")
    with op.batch_alter_table("applications", schema=None) as batch_op:
        batch_op.drop_index("ix_applications_kana_birth")
        batch_op.drop_index("ix_applications_status_due")
        batch_op.drop_index(batch_op.f("ix_applications_email"))
    op.drop_table("applications")
    op.drop_table("rejection_templates")
