"""The login accounts of SIP2 kiosks (self-check machines, gates)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from cardservice.db.base import Base, utcnow


class Sip2Kiosk(Base):
    """One kiosk's SIP2 login: its name is the login user id (CN), its password (CO) is
    stored only as an Argon2id hash. A disabled kiosk's login is refused."""

    __tablename__ = "sip2_kiosks"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(default=None)
    last_login_at: Mapped[datetime | None] = mapped_column(default=None)
