"""API keys, one-time link tokens and rate-limit counters."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from cardservice.db.base import Base, utcnow


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    # The first characters of the key, shown in listings so a person can tell keys apart.
    prefix: Mapped[str] = mapped_column(String(16))
    # SHA-256 of the whole key: the key is 256 random bits, so a slow hash adds nothing.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class LinkToken(Base):
    """A one-time link sent by email; the token itself is never stored, only its SHA-256."""

    __tablename__ = "link_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    # SHA-256 of 256 random bits: a slow hash would add nothing, as for API keys.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    purpose: Mapped[str] = mapped_column(String(32))
    # What the link acts on: an email address, an application id, a staff username.
    subject: Mapped[str] = mapped_column(String(254))
    # SHA-256 of a secret the link is bound to (the password hash of a reset link): the
    # link stops working once that secret changes.
    binding: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    used_at: Mapped[datetime | None] = mapped_column(default=None)


class RateCounter(Base):
    """Hits of one key in one fixed window; two windows give a sliding estimate."""

    __tablename__ = "rate_counters"

    bucket: Mapped[str] = mapped_column(String(32), primary_key=True)
    # HMAC-SHA-256 of the key (an email address, a client address): never the key itself.
    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(primary_key=True)
    hits: Mapped[int]
    # When the row no longer counts for any estimate and may be deleted.
    expires_at: Mapped[datetime] = mapped_column(index=True)
