"""The relay: delivers queued email over SMTP, with retries, backoff and a final 'failed'.

A pass claims the due rows in one short transaction and sends them after it commits, so the
database is never locked while an SMTP server thinks. To claim is to push ``next_attempt_at``
forward by a lease and count the attempt. Another relay therefore skips the row (PostgreSQL:
``FOR UPDATE SKIP LOCKED``; SQLite: the write lock every transaction takes), and a relay that
crashes mid-send leaves the row to be sent again when the lease runs out. A row is marked
sent only after the SMTP server accepted it. That makes delivery at-least-once: after a crash
between the server's "250 OK" and our commit the patron may get the message twice, with
the same Message-ID, never zero times.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import make_msgid

import aiosmtplib
from sqlalchemy import select

from cardservice.db.base import utcnow
from cardservice.db.engine import Database
from cardservice.mail.catcher import effective_smtp_url
from cardservice.mail.models import MailStatus, OutboxRow
from cardservice.mail.smtp import Envelope, Sender, SmtpTarget, build_message, deliver
from cardservice.settings import Settings

log = logging.getLogger(__name__)

BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(hours=1)
MAX_ATTEMPTS = 8
ERROR_LENGTH = 255


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    envelope: Envelope


class MailRelay:
    def __init__(
        self,
        db: Database,
        target: SmtpTarget,
        sender: Sender,
        *,
        max_attempts: int = MAX_ATTEMPTS,
        batch_size: int = 20,
        poll_seconds: float = 3.0,
        lease: timedelta = timedelta(minutes=15),
        rng: random.Random | None = None,
    ) -> None:
        self.db = db
        self.target = target
        self.sender = sender
        self.max_attempts = max_attempts
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        # Longer than a batch can take (batch_size x SMTP timeout), or a slow send is repeated.
        self.lease = max(lease, timedelta(seconds=batch_size * target.timeout * 2))
        self.rng = rng or random.Random()  # noqa: S311  # jitter, not a secret

    @classmethod
    def from_settings(cls, db: Database, settings: Settings) -> MailRelay:
        library = settings.profile.library
        sender = Sender(library.sender_email, {"ja": library.name.ja, "en": library.name.en})
        return cls(db, SmtpTarget.from_url(effective_smtp_url(settings)), sender)

    async def run_once(self, now: datetime | None = None) -> int:
        """Send what is due at ``now``; returns how many emails the server accepted."""
        _, sent = await self._pass(now or utcnow())
        return sent

    async def run_forever(self, stop_event: asyncio.Event) -> None:
        """Poll until ``stop_event`` is set; a failing pass is logged and tried again."""
        while not stop_event.is_set():
            try:
                claimed, _ = await self._pass(utcnow())
            except Exception:
                # The database may be briefly away; the rows are safe in it, so wait and retry.
                log.exception("mail relay pass failed")
                claimed = 0
            if claimed >= self.batch_size:
                continue  # a full batch: more is probably waiting
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop_event.wait(), self.poll_seconds)

    async def _pass(self, now: datetime) -> tuple[int, int]:
        claimed = await self._claim(now)
        sent = 0
        for mail in claimed:
            sent += await self._send(mail, now)
        return len(claimed), sent

    async def _claim(self, now: datetime) -> list[Claimed]:
        due = (
            select(OutboxRow)
            .where(OutboxRow.status == MailStatus.PENDING, OutboxRow.next_attempt_at <= now)
            .order_by(OutboxRow.next_attempt_at, OutboxRow.id)
            .limit(self.batch_size)
            .with_for_update(skip_locked=True)
        )
        async with self.db.transaction() as session:
            rows = list(await session.scalars(due))
            return [Claimed(row.id, _envelope(row)) for row in rows if self._take(row, now)]

    def _take(self, row: OutboxRow, now: datetime) -> bool:
        if row.attempts >= self.max_attempts:
            # Every attempt began and none recorded a result (crashes mid-send): stop here.
            row.status = MailStatus.FAILED
            row.last_error = row.last_error or "interrupted while sending"
            return False
        row.attempts += 1
        row.next_attempt_at = now + self.lease
        row.message_id = row.message_id or make_msgid(domain=self.sender.domain)
        return True

    async def _send(self, mail: Claimed, now: datetime) -> bool:
        try:
            message = build_message(mail.envelope, self.sender, date=now)
            await deliver(self.target, message)
        except Exception as exc:  # one bad message must not stop the others
            log.warning("mail %s not sent: %s", mail.id, type(exc).__name__)
            await self._record_failure(mail.id, now, exc)
            return False
        async with self.db.transaction() as session:
            row = await session.get(OutboxRow, mail.id)
            if row is not None:
                row.status = MailStatus.SENT
                row.sent_at = now
                row.last_error = None
        return True

    async def _record_failure(self, mail_id: int, now: datetime, exc: Exception) -> None:
        async with self.db.transaction() as session:
            row = await session.get(OutboxRow, mail_id)
            if row is None or row.status != MailStatus.PENDING:
                return
            row.last_error = self.describe(exc)
            if is_permanent(exc) or row.attempts >= self.max_attempts:
                row.status = MailStatus.FAILED
            else:
                row.next_attempt_at = now + retry_delay(row.attempts, self.rng)

    def describe(self, exc: Exception) -> str:
        """A short error for staff: the exception and the server's words, no password."""
        text = " ".join(f"{type(exc).__name__}: {exc}".split())
        return self.target.redact(text)[:ERROR_LENGTH]


def retry_delay(attempts: int, rng: random.Random) -> timedelta:
    """30 s, 1 min, 2 min, ... up to an hour, each up to a quarter shorter at random.

    The jitter spreads out retries of messages that failed together in one outage.
    """
    doublings = min(max(attempts - 1, 0), 16)  # past the cap anyway; keeps the number small
    delay = min(BACKOFF_CAP, BACKOFF_BASE * (1 << doublings))
    return delay * rng.uniform(0.75, 1.0)


def is_permanent(exc: Exception) -> bool:
    """True when trying again cannot help: the server refused the mail itself (5xx)."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return all(500 <= refused.code < 600 for refused in exc.recipients)
    if isinstance(exc, aiosmtplib.SMTPRecipientRefused | aiosmtplib.SMTPDataError):
        return 500 <= exc.code < 600
    # A message that could not even be built will not build next time either.
    return not isinstance(exc, aiosmtplib.SMTPException | OSError | TimeoutError)


def _envelope(row: OutboxRow) -> Envelope:
    return Envelope(
        to_address=row.to_address,
        language=row.language,
        subject=row.subject,
        body_text=row.body_text,
        body_html=row.body_html,
        message_id=row.message_id or "",
    )
