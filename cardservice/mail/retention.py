"""Sent mail keeps its envelope, not its words.

An email's bodies hold what it was sent to carry: one-time link tokens, names, user
numbers. Once it is delivered they have served their purpose, so
``retention.sent_mail_body_days`` after delivery the text and HTML are emptied (and the
dev catcher's copy, raw message included, the same time after it arrived). The address,
subject, template, language, dates, attempts and status stay, so staff can still see
that an email went out and when; ``body_cleared_at`` says when the words went. Mail
pending or failed keeps its bodies: it is still to be sent.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from cardservice.db.base import utcnow
from cardservice.mail.models import CaughtMail, MailStatus, OutboxRow
from cardservice.profiles.schema import RetentionSection

CLEARED_RAW: Final = b""


async def clear_sent_bodies(
    session: AsyncSession, retention: RetentionSection, *, now: datetime | None = None
) -> int:
    """Empty the bodies of outbox mail delivered more than ``sent_mail_body_days`` ago and of
    caught mail received that long ago; returns how many messages were cleared (both kinds).
    Safe to run twice at once: a cleared message is never cleared again."""
    now = now or utcnow()
    cutoff = now - timedelta(days=retention.sent_mail_body_days)
    sent = await session.execute(
        update(OutboxRow)
        .where(
            OutboxRow.status == MailStatus.SENT,
            OutboxRow.sent_at <= cutoff,
            OutboxRow.body_cleared_at.is_(None),
        )
        .values(body_text="", body_html="", body_cleared_at=now)
        .execution_options(synchronize_session=False)
    )
    caught = await session.execute(
        update(CaughtMail)
        .where(CaughtMail.received_at <= cutoff, CaughtMail.body_cleared_at.is_(None))
        .values(body_text="", body_html="", raw=CLEARED_RAW, body_cleared_at=now)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(sent) + _rowcount(caught)


def _rowcount(result: object) -> int:
    return int(result.rowcount)  # type: ignore[attr-defined]  # a DML result has rowcount
