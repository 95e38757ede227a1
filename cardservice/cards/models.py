"""Cards, the user-number sequence and token revocations."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, String
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
    # The library date of the last successful counter verification: what "unused for the
    # dormant period" is measured from. Nothing about what was borrowed.
    last_used_on: Mapped[date | None] = mapped_column(default=None)
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


class CardEventKind(StrEnum):
    ISSUED = "issued"
    REISSUED = "reissued"  # user_number -> new_user_number
    RENEWED = "renewed"
    DETAILS_CHANGED = "details_changed"
    SUSPENDED = "suspended"
    REINSTATED = "reinstated"
    REVOKED = "revoked"
    IMPORTED = "imported"


class CardEvent(Base):
    """What the library system (ILS) must learn about a card, in order: a reissue's old and
    new numbers, a renewal's new expiry, changed details. Written in the same transaction as
    the change; ``delivered_at`` is set by whatever delivers it."""

    __tablename__ = "card_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    patron_id: Mapped[int] = mapped_column(ForeignKey("patrons.id"), index=True)
    user_number: Mapped[str] = mapped_column(String(20), index=True)
    new_user_number: Mapped[str | None] = mapped_column(String(20), default=None)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)
