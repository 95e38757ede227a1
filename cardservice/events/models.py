"""Webhook endpoints the administrators configured, and one delivery row per message and
endpoint (the webhook outbox)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cardservice.db.base import Base, utcnow


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # out of attempts; an administrator may send it again


class WebhookEndpoint(Base):
    """Where the library system listens. The signing secret is stored encrypted
    (``security.crypto``, the document key) and shown to the administrator only once."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(String(200), default="")
    secret_blob: Mapped[bytes] = mapped_column(LargeBinary, default=b"")
    # After a change of secret, the one it replaced (encrypted as it was, the same blob) and
    # when it stops signing: until then each message carries both signatures, so that the
    # library system's receiver keeps accepting them while it is given the new secret.
    previous_secret_blob: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    previous_secret_until: Mapped[datetime | None] = mapped_column(default=None)
    # Card events up to this id happened before the endpoint existed and are not sent to it.
    after_event_id: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"), default=None)
    # A disabled endpoint gets no new messages and its waiting ones wait.
    disabled_at: Mapped[datetime | None] = mapped_column(default=None)


class WebhookDelivery(Base):
    """One message to one endpoint: its frozen body, and where its delivery stands."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        # The relay's one query: pending rows that are due, oldest first.
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        # A card event becomes at most one message per endpoint, however many relays run.
        UniqueConstraint("endpoint_id", "card_event_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id"), index=True)
    # None for a test message an administrator sent.
    card_event_id: Mapped[int | None] = mapped_column(ForeignKey("card_events.id"), default=None)
    # The Standard Webhooks ``webhook-id``: the same on every attempt (an idempotency key).
    message_id: Mapped[str] = mapped_column(String(64), unique=True)
    event_type: Mapped[str] = mapped_column(String(64))
    # The exact JSON sent and signed; built once, so every attempt sends the same bytes.
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING)
    # Attempts started, counted when a relay claims the row (so a crash mid-send counts too).
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # When the row is next due; while a relay is sending it, the end of its lease.
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(String(255), default=None)
    last_status: Mapped[int | None] = mapped_column(Integer, default=None)  # HTTP status
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)
