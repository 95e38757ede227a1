"""Delivered webhook messages keep their envelope, not their words.

A ``patron.registered`` or ``patron.details_changed`` body carries the patron's record.
Once delivered it has served its purpose, so ``retention.sent_mail_body_days`` after
delivery (the period the profile sets for sent email, which carries the same kind of data)
the body is emptied; the message id, type, dates, attempts and status stay in the delivery
log. Waiting and failed messages keep their bodies: they are still to be sent.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from cardservice.db.base import utcnow
from cardservice.events.models import DeliveryStatus, WebhookDelivery
from cardservice.profiles.schema import RetentionSection


async def clear_delivered_bodies(
    session: AsyncSession, retention: RetentionSection, *, now: datetime | None = None
) -> int:
    """Empty the bodies of messages delivered ``sent_mail_body_days`` or more ago; returns
    how many were emptied. Safe to run twice at once: an empty body is not emptied again."""
    now = now or utcnow()
    cutoff = now - timedelta(days=retention.sent_mail_body_days)
    result = await session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.status == DeliveryStatus.DELIVERED,
            WebhookDelivery.delivered_at <= cutoff,
            WebhookDelivery.body != "",
        )
        .values(body="")
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]  # a DML result has rowcount
