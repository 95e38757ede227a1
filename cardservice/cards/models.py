"""Cards, the user-number sequence and token revocations."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from cardservice.db.base import Base, utcnow


class CardStatus(StrEnum):
    """What is stored; "expired" is derived from ``expires_on`` at the time of asking."""

    ACTIVE = "active"
    REVOKED = "revoked"
    SUSPENDED = "suspended"


class RevocationReason(StrEnum):
    REISSUED = "reissued"
    LOST = "lost"
    NAME_CHANGED = "name_changed"
    WITHDRAWN = "withdrawn"
    STAFF = "staff"


class NumberSequence(Base):
    """The next serial per number format. It only ever grows: a number is never reused."""

    __tablename__ = "number_sequences"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    next_serial: Mapped[int] = mapped_column(BigInteger)


class Card(Base):
    __tablename__ = "cards"

    id: Mapped[int] = mapped_column(primary_key=True)
    patron_id: Mapped[int] = mapped_column(ForeignKey("patrons.id"), index=True)
    # Unique forever: revoked cards keep their row, so their number can never come back.
    user_number: Mapped[str] = mapped_column(String(20), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=CardStatus.ACTIVE)
    status_reason: Mapped[str | None] = mapped_column(String(32), default=None)
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_on: Mapped[date]
    # The jti of the card token currently issued for this card.
    token_jti: Mapped[str] = mapped_column(String(43), unique=True)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    replaced_by_id: Mapped[int | None] = mapped_column(ForeignKey("cards.id"), default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class TokenRevocation(Base):
    """A card token that must no longer verify although its card may still be active."""

    __tablename__ = "token_revocations"

    jti: Mapped[str] = mapped_column(String(43), primary_key=True)
    user_number: Mapped[str] = mapped_column(String(20), index=True)
    reason: Mapped[str] = mapped_column(String(32))
    revoked_at: Mapped[datetime] = mapped_column(default=utcnow)
    # After this the token has expired anyway and the row can be dropped from offline lists.
    token_expires_at: Mapped[datetime]
