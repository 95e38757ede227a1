"""Patron records: the person behind a card. No reading records, ever."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from cardservice.db.base import Base, utcnow
from cardservice.patrons.names import PersonName


class PatronSource(StrEnum):
    """Where a patron record came from."""

    ONLINE = "online"  # an approved online registration
    ILS = "ils"  # imported from the library system's export (a plastic-card holder)
    COUNTER = "counter"  # created by staff (CLI or card desk)


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
    # Which library messages the patron wants (registration.form.Notifications' fields);
    # copied from the application on approval, editable in My Library.
    notifications: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    source: Mapped[str] = mapped_column(String(16), default=PatronSource.ONLINE)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @property
    def person_name(self) -> PersonName:
        """The patron's name as a letter addresses it (``Dear John Smith,``)."""
        return PersonName(self.family_name, self.given_name)

    __table_args__ = (
        Index("ix_patrons_kana_birth", "family_kana", "given_kana", "birth_date"),
        # Duplicates by birth date, their readings then compared folded (names.reading_key).
        Index("ix_patrons_birth_date", "birth_date"),
    )


class PatronDevice(Base):
    """A device where the patron chose "keep me signed in": a random token in a long-lived
    cookie, stored here only as its SHA-256. It ends when it expires (rolling), when the
    patron logs out on it, or when the password changes (the fingerprint no longer matches).
    """

    __tablename__ = "patron_devices"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    patron_id: Mapped[int] = mapped_column(ForeignKey("patrons.id"), index=True)
    # security.passwords.password_fingerprint of the hash at login.
    password_fingerprint: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
