"""Applications for a library card, their identity documents, inquiries and rejection reasons.

An application is a draft until it is submitted; then staff approve it, reject it or ask a
question (status ``inquiry`` until the applicant answers). The form columns are filled when
the form is saved; until then they are empty and ``birth_date`` is None. The password is kept
only as its Argon2id hash, and only until approval copies it to the patron.
"""

from __future__ import annotations

import secrets
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from cardservice.db.base import Base, utcnow
from cardservice.patrons.names import PersonName


class ApplicationStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"  # in the review queue (also after an inquiry is answered)
    INQUIRY = "inquiry"  # waiting for the applicant's answer
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


# Outcomes: an application in one of these is decided and never changes again.
DECIDED = frozenset(
    {ApplicationStatus.APPROVED, ApplicationStatus.REJECTED, ApplicationStatus.CANCELLED}
)


def new_public_id() -> str:
    """128 random bits, URL-safe: the id in every applicant and staff URL."""
    return secrets.token_urlsafe(16)


class Application(Base):
    __tablename__ = "applications"
    __table_args__ = (
        # The review queue: submitted applications by due date.
        Index("ix_applications_status_due", "status", "due_on"),
        # Possible duplicates, as for patrons.
        Index("ix_applications_kana_birth", "family_kana", "given_kana", "birth_date"),
        Index("ix_applications_birth_date", "birth_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    email: Mapped[str] = mapped_column(String(254), index=True)
    language: Mapped[str] = mapped_column(String(2), default="ja")
    procedure: Mapped[str] = mapped_column(String(16), default="new")
    status: Mapped[str] = mapped_column(String(16), default=ApplicationStatus.DRAFT)
    # The version of the notes the applicant agreed to, and when.
    consent_version: Mapped[str | None] = mapped_column(String(200), default=None)
    consented_at: Mapped[datetime | None] = mapped_column(default=None)
    # The form, as parse_application returned it (kana normalised, phone in E.164).
    family_name: Mapped[str] = mapped_column(String(64), default="")
    given_name: Mapped[str] = mapped_column(String(64), default="")
    family_kana: Mapped[str] = mapped_column(String(64), default="")
    given_kana: Mapped[str] = mapped_column(String(64), default="")
    birth_date: Mapped[date | None] = mapped_column(Date, default=None)
    postal_code: Mapped[str] = mapped_column(String(7), default="")
    prefecture: Mapped[str] = mapped_column(String(8), default="")
    city: Mapped[str] = mapped_column(String(64), default="")
    street: Mapped[str] = mapped_column(String(64), default="")
    building: Mapped[str] = mapped_column(String(64), default="")
    phone: Mapped[str] = mapped_column(String(32), default="")
    basis: Mapped[str] = mapped_column(String(16), default="")
    workplace_or_school: Mapped[str] = mapped_column(String(128), default="")
    notifications: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Argon2id; never the password itself. None until the form is saved.
    password_hash: Mapped[str | None] = mapped_column(String(255), default=None)
    submitted_at: Mapped[datetime | None] = mapped_column(default=None)
    # The library date by which staff should have decided (review.deadline_opening_days).
    due_on: Mapped[date | None] = mapped_column(Date, default=None)
    decided_at: Mapped[datetime | None] = mapped_column(default=None)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"), default=None)
    decision_reason: Mapped[str | None] = mapped_column(Text, default=None)
    # The patron the application is for: set at start by a logged-in patron, or picked by
    # the reviewer for a procedure started without login; the new patron on approval of a
    # new registration.
    patron_id: Mapped[int | None] = mapped_column(
        ForeignKey("patrons.id"), default=None, index=True
    )
    # Who linked the patron: None when the patron was logged in, else the reviewer.
    patron_linked_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"), default=None)
    # Reissue: "lost" or "name_changed", and when the applicant acknowledged that e-library
    # loans and reservations are not carried over (procedures.eloan_notice).
    reissue_reason: Mapped[str | None] = mapped_column(String(16), default=None)
    eloan_acknowledged_at: Mapped[datetime | None] = mapped_column(default=None)
    # The patron's card and details as they were when the procedure was submitted, so the
    # review shows old beside new, and history keeps them after approval.
    previous: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The card the approval issued (new registration, reissue) or renewed.
    card_id: Mapped[int | None] = mapped_column(ForeignKey("cards.id"), default=None)
    # Inquiries left unanswered past their date since the applicant last answered.
    unanswered_inquiries: Mapped[int] = mapped_column(Integer, default=0)
    last_inquiry_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # A rejected or cancelled application's personal details were erased then, the
    # profile's retention.closed_application_days after the decision (registration/retention).
    personal_data_erased_at: Mapped[datetime | None] = mapped_column(default=None)

    @property
    def has_form(self) -> bool:
        """Whether the form was saved: a birth date, and for a new registration the
        password's hash (the other procedures keep the patron's password)."""
        if self.birth_date is None:
            return False
        return self.procedure != "new" or self.password_hash is not None

    @property
    def display_name(self) -> str:
        return f"{self.family_name} {self.given_name}".strip()

    @property
    def person_name(self) -> PersonName:
        """The applicant's name as a letter addresses it (``Dear John Smith,``)."""
        return PersonName(self.family_name, self.given_name)

    @property
    def reference(self) -> str:
        """The reference number a patron and staff quote (申請番号), e.g. ``R0000042``."""
        return f"R{self.id:07d}"


class ApplicationDocument(Base):
    """One identity-document image: re-encoded, encrypted; the ciphertext goes at purge."""

    __tablename__ = "application_documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    # A profile document type id, or "extra" for the workplace or school document.
    doc_type: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(8))
    content_type: Mapped[str] = mapped_column(String(32))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    # AES-256-GCM with aad = application public id + document id; None once purged.
    ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    purged_at: Mapped[datetime | None] = mapped_column(default=None)


class Inquiry(Base):
    """A question from staff, answered by the applicant through a one-time link."""

    __tablename__ = "inquiries"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    question: Mapped[str] = mapped_column(Text)
    asked_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"), default=None)
    asked_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The last library date on which an answer is accepted.
    answer_by: Mapped[date] = mapped_column(Date)
    answered_at: Mapped[datetime | None] = mapped_column(default=None)
    answer_text: Mapped[str | None] = mapped_column(Text, default=None)


class RejectionTemplate(Base):
    """A reason staff can pick when rejecting; the patron reads it in their language."""

    __tablename__ = "rejection_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    text_ja: Mapped[str] = mapped_column(Text)
    text_en: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    def text(self, lang: str) -> str:
        return self.text_en if lang == "en" else self.text_ja
