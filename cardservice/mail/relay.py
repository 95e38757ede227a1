"""The relay: delivers queued email over SMTP, with retries, backoff and a final 'failed'.

The relay holds one message at a time. It claims the oldest due row in one short
transaction, sends it after that commits (so the database is never locked while an SMTP
server thinks), records the result, and claims the next. To claim is to count the attempt
and push ``next_attempt_at`` forward by a lease: the SMTP timeout, which bounds the whole
send, plus a margin for the commit after it (``lease_for``; 40 s with the default 30 s
timeout). Another relay, in this process or another, skips a leased row: PostgreSQL locks
the candidate with ``FOR UPDATE SKIP LOCKED``, and on both engines the claim is a
conditional update (still pending, still due) that a second claimant finds already done.

A relay that dies mid-send therefore leaves one message leased, due again when its lease
ends, and every other pending message due as it was: after a restart the queue is sent at
once, the interrupted message within the lease. A row is marked sent only after the SMTP
server accepted it. That makes delivery at-least-once: after a crash between the server's
"250 OK" and our commit the patron may get the message twice, with the same Message-ID
(set on the first claim and kept), never zero times.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import make_msgid

import aiosmtplib
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

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
# Past the send itself: the commit that records it, on a database that may be busy.
LEASE_MARGIN = timedelta(seconds=10)

Clock = Callable[[], datetime]


def lease_for(target: SmtpTarget) -> timedelta:
    """How long a claimed message is held: the SMTP timeout plus ``LEASE_MARGIN``.

    The relay cuts a send at ``target.timeout`` seconds as a whole (connection, TLS, login
    and data), so the lease outlasts any send that is still going. 40 s with the default
    30 s timeout: after a crash the message in hand is due again within that.
    """
    return timedelta(seconds=target.timeout) + LEASE_MARGIN


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    attempt: int  # the row's attempt count once claimed: whether the lease is still ours
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
        lease: timedelta | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.db = db
        self.target = target
        self.sender = sender
        self.max_attempts = max_attempts
        # Messages per pass; each is claimed alone, so this only bounds a pass's length.
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.lease = lease or lease_for(target)
        self.rng = rng or random.Random()  # noqa: S311  # jitter, not a secret

    @classmethod
    def from_settings(cls, db: Database, settings: Settings) -> MailRelay:
        library = settings.profile.library
        sender = Sender(library.sender_email, {"ja": library.name.ja, "en": library.name.en})
        return cls(db, SmtpTarget.from_url(effective_smtp_url(settings)), sender)

    async def run_once(self, now: datetime | None = None) -> int:
        """Send what is due (at ``now`` if given, else as time goes); returns how many
        emails the server accepted, at most ``batch_size``."""
        _, sent = await self._pass(utcnow if now is None else lambda: now)
        return sent

    async def run_forever(self, stop_event: asyncio.Event) -> None:
        """Poll until ``stop_event`` is set; a failing pass is logged and tried again.

        Once ``stop_event`` is set, the message in hand is finished (marked sent or due
        again) and no other is claimed.
        """
        while not stop_event.is_set():
            try:
                claimed, _ = await self._pass(utcnow, stop_event)
            except Exception:
                # The database may be briefly away; the rows are safe in it, so wait and retry.
                log.exception("mail relay pass failed")
                claimed = 0
            if claimed >= self.batch_size:
                continue  # a full pass: more is probably waiting
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop_event.wait(), self.poll_seconds)

    async def _pass(self, clock: Clock, stop: asyncio.Event | None = None) -> tuple[int, int]:
        claimed = sent = 0
        while claimed < self.batch_size and not (stop is not None and stop.is_set()):
            mail = await self._claim(clock())
            if mail is None:
                break
            claimed += 1
            sent += await self._send(mail, clock)
        return claimed, sent

    async def _claim(self, now: datetime) -> Claimed | None:
        """Lease the oldest due message to this relay, or None when nothing is due."""
        due = (
            select(OutboxRow)
            .where(OutboxRow.status == MailStatus.PENDING, OutboxRow.next_attempt_at <= now)
            .order_by(OutboxRow.next_attempt_at, OutboxRow.id)
            .limit(1)
            .with_for_update(skip_locked=True)  # PostgreSQL; SQLite has no row locks
        )
        async with self.db.transaction() as session:
            # A few candidates at most: rows out of attempts, or taken by another relay.
            for _ in range(self.batch_size):
                row = await session.scalar(due)
                if row is None:
                    return None
                claimed = await self._take(session, row, now)
                if claimed is not None:
                    return claimed
        return None

    async def _take(self, session: AsyncSession, row: OutboxRow, now: datetime) -> Claimed | None:
        still_due = (
            update(OutboxRow)
            .where(
                OutboxRow.id == row.id,
                OutboxRow.status == MailStatus.PENDING,
                OutboxRow.next_attempt_at <= now,
            )
            .execution_options(synchronize_session=False)
        )
        if row.attempts >= self.max_attempts:
            # Every attempt began and none recorded a result (crashes mid-send): stop here.
            await session.execute(
                still_due.values(
                    status=MailStatus.FAILED,
                    last_error=row.last_error or "interrupted while sending",
                )
            )
            return None
        message_id = row.message_id or make_msgid(domain=self.sender.domain)
        taken = await session.execute(
            still_due.values(
                attempts=row.attempts + 1,
                next_attempt_at=now + self.lease,
                message_id=message_id,
            )
        )
        if taken.rowcount != 1:  # type: ignore[attr-defined]  # an UPDATE's CursorResult
            return None  # another relay claimed it first
        envelope = _envelope(row, message_id)
        return Claimed(row.id, row.attempts + 1, envelope)

    async def _send(self, mail: Claimed, clock: Clock) -> bool:
        try:
            message = build_message(mail.envelope, self.sender, date=clock())
            # The whole send within the SMTP timeout, so it ends inside its lease.
            async with asyncio.timeout(self.target.timeout):
                await deliver(self.target, message)
        except Exception as exc:  # one bad message must not stop the others
            log.warning("mail %s not sent: %s", mail.id, type(exc).__name__)
            await self._record_failure(mail, clock(), exc)
            return False
        async with self.db.transaction() as session:
            row = await session.get(OutboxRow, mail.id)
            if row is not None:
                row.status = MailStatus.SENT
                row.sent_at = clock()
                row.last_error = None
        return True

    async def _record_failure(self, mail: Claimed, now: datetime, exc: Exception) -> None:
        async with self.db.transaction() as session:
            row = await session.get(OutboxRow, mail.id)
            # Only while the lease is ours: a relay that claimed it since decides now.
            if row is None or row.status != MailStatus.PENDING or row.attempts != mail.attempt:
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


def _envelope(row: OutboxRow, message_id: str) -> Envelope:
    return Envelope(
        to_address=row.to_address,
        language=row.language,
        subject=row.subject,
        body_text=row.body_text,
        body_html=row.body_html,
        message_id=message_id,
    )
