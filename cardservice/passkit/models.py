"""Apple Wallet passes and the devices that keep them.

One pass per card: a reissued card gets a new pass (a new serial), and the old card's pass
becomes void. The serial is random and says nothing about the patron; the pass's
authentication token is not stored at all (``service.authentication_token`` derives it
from the serial with the app's secret key). No push token is kept longer than the device
keeps the pass: Wallet unregisters when the pass is deleted.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cardservice.db.base import Base, utcnow


class ApplePass(Base):
    __tablename__ = "apple_passes"

    id: Mapped[int] = mapped_column(primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"), unique=True)
    serial: Mapped[str] = mapped_column(String(32), unique=True)
    # When what the pass says last changed, in whole seconds, only ever growing: the
    # Last-Modified of the pass and the tag of passesUpdatedSince.
    updated_at: Mapped[datetime] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApplePassRegistration(Base):
    """A device (``deviceLibraryIdentifier``) that holds a pass and wants pushes to its
    ``pushToken``."""

    __tablename__ = "apple_pass_registrations"

    id: Mapped[int] = mapped_column(primary_key=True)
    pass_id: Mapped[int] = mapped_column(ForeignKey("apple_passes.id"), index=True)
    device_id: Mapped[str] = mapped_column(String(128), index=True)
    push_token: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("device_id", "pass_id"),)
