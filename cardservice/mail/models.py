"""The outbox of mail to send, and the mail the built-in catcher received."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cardservice.db.base import Base, utcnow


class MailStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # out of attempts or refused for good; staff may retry it


class OutboxRow(Base):
    """One email, rendered when it was queued; the relay delivers it."""

    __tablename__ = "outbox"
    # The relay's one query: pending rows that are due, oldest first.
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    to_address: Mapped[str] = mapped_column(String(254))
    language: Mapped[str] = mapped_column(String(2))
    template: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(255))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=MailStatus.PENDING)
    # Attempts started, counted when a relay claims the row (so a crash mid-send counts too).
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # When the row is next due. While a relay is sending it, this is the end of its lease.
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(String(255), default=None)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    # Set on the first attempt and kept, so a resend after a crash is recognisably the same.
    message_id: Mapped[str | None] = mapped_column(String(255), default=None)
    # When the bodies were emptied, retention.sent_mail_body_days after delivery (they hold
    # link tokens, names and user numbers); the headers and the status stay for staff.
    body_cleared_at: Mapped[datetime | None] = mapped_column(default=None)


class CaughtMail(Base):
    """A message the development mail catcher received, so a person can read it."""

    __tablename__ = "caught_mail"

    id: Mapped[int] = mapped_column(primary_key=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    mail_from: Mapped[str] = mapped_column(String(254))
    # Envelope recipients, one per line.
    rcpt_tos: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(Text)
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    # When the bodies and the raw message were emptied, as for the outbox's sent mail.
    body_cleared_at: Mapped[datetime | None] = mapped_column(default=None)

    @property
    def recipients(self) -> list[str]:
        return self.rcpt_tos.splitlines()
