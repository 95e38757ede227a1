"""Patron records: the person behind a card. No reading records, ever."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from cardservice.db.base import Base, utcnow


class Patron(Base):
    __tablename__ = "patrons"

    id: Mapped[int] = mapped_column(primary_key=True)
    family_name: Mapped[str] = mapped_column(String(64))
    given_name: Mapped[str] = mapped_column(String(64))
    # Katakana, normalised; with the birth date it finds possible duplicates.
    family_kana: Mapped[str] = mapped_column(String(64))
    given_kana: Mapped[str] = mapped_column(String(64))
    birth_date: Mapped[date]
    email: Mapped[str] = mapped_column(String(254), index=True)
    phone: Mapped[str] = mapped_column(String(32), default="")
    postal_code: Mapped[str] = mapped_column(String(7), default="")
    prefecture: Mapped[str] = mapped_column(String(8), default="")
    city: Mapped[str] = mapped_column(String(64), default="")
    street: Mapped[str] = mapped_column(String(64), default="")
    building: Mapped[str] = mapped_column(String(64), default="")
    # lives / works / studies, and the workplace or school when not "lives".
    eligibility_basis: Mapped[str] = mapped_column(String(16), default="lives")
    workplace_or_school: Mapped[str] = mapped_column(String(128), default="")
    language: Mapped[str] = mapped_column(String(2), default="ja")
    password_hash: Mapped[str | None] = mapped_column(String(255), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (Index("ix_patrons_kana_birth", "family_kana", "given_kana", "birth_date"),)
