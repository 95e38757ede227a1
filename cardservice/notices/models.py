"""Notices staff send, and the record of who was sent what (at most once each)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cardservice.db.base import Base, utcnow


class Notice(Base):
    """An emergency-closure notice written by an admin, in Japanese and English."""

    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), default="emergency_closure")
    subject_ja: Mapped[str] = mapped_column(String(200))
    body_ja: Mapped[str] = mapped_column(Text)
    subject_en: Mapped[str] = mapped_column(String(200))
    body_en: Mapped[str] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Opted-in patrons when it was sent, and how many have been queued so far.
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    queued: Mapped[int] = mapped_column(Integer, default=0)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


class NoticeDelivery(Base):
    """One patron was sent one notice. The unique key makes "at most once" a constraint:
    ``expiry:{card_id}:{expires_on}`` for a reminder, ``notice:{id}`` for a closure."""

    __tablename__ = "notice_deliveries"
    __table_args__ = (UniqueConstraint("notice_key", "patron_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_key: Mapped[str] = mapped_column(String(64))
    patron_id: Mapped[int] = mapped_column(ForeignKey("patrons.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
