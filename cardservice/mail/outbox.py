"""Queue an email in the caller's transaction; list and retry what finally failed.

``enqueue`` only adds a row to the caller's session, so the email exists exactly when the
change that causes it commits: a rolled-back registration sends nothing, and a committed one
cannot lose its email in a crash. The message is rendered here, at queue time, so a template
edited later never changes mail that is already waiting.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cardservice.db.base import utcnow
from cardservice.mail.addresses import normalise_address
from cardservice.mail.errors import MailNotFailed, MailNotFound
from cardservice.mail.models import MailStatus, OutboxRow
from cardservice.mail.render import Language, render


@dataclass(frozen=True, slots=True)
class OutgoingMail:
    """What a domain asks to send: a template, its language and its values."""

    to_address: str
    template: str
    language: Language
    context: Mapping[str, Any] = field(default_factory=dict)


async def enqueue(
    session: AsyncSession, message: OutgoingMail, *, now: datetime | None = None
) -> OutboxRow:
    """Render ``message`` and add it to the outbox in the caller's transaction."""
    to_address = checked_address(message.to_address)
    rendered = render(message.template, message.language, message.context)
    when = now or utcnow()
    row = OutboxRow(
        created_at=when,
        to_address=to_address,
        language=message.language,
        template=message.template,
        subject=rendered.subject,
        body_text=rendered.body_text,
        body_html=rendered.body_html,
        status=MailStatus.PENDING,
        attempts=0,
        next_attempt_at=when,
    )
    session.add(row)
    await session.flush()  # assigns the id, still inside the caller's transaction
    return row


def checked_address(value: str) -> str:
    """``value`` as the one stored, sendable address form (``mail.addresses``); raises
    :class:`~cardservice.mail.errors.InvalidRecipient` (field ``to_address``) when it is no
    address."""
    return normalise_address(value, field="to_address")


async def failed_messages(session: AsyncSession, *, limit: int = 100) -> list[OutboxRow]:
    """Emails the relay gave up on, newest first, for the staff page."""
    result = await session.scalars(
        select(OutboxRow)
        .where(OutboxRow.status == MailStatus.FAILED)
        .order_by(OutboxRow.id.desc())
        .limit(limit)
    )
    return list(result)


async def retry_failed(
    session: AsyncSession, mail_id: int, *, now: datetime | None = None
) -> OutboxRow:
    """Put a failed email back in the queue, due now, with a fresh set of attempts."""
    row = await session.get(OutboxRow, mail_id, with_for_update=True)
    if row is None:
        raise MailNotFound(id=mail_id)
    if row.status != MailStatus.FAILED:
        raise MailNotFailed(id=mail_id, status=row.status)
    row.status = MailStatus.PENDING
    row.attempts = 0
    row.next_attempt_at = now or utcnow()
    await session.flush()
    return row
