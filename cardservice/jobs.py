"""The scheduled housekeeping jobs, run by every app process and by ``cardservice jobs``.

- unanswered inquiries past their date count as unanswered; at the profile's limit the
  application is cancelled and the applicant told (``registration/inquiries.py``);
- ID images go once their application was decided more than the retention period ago,
  drafts never submitted are deleted, and closed applications' personal details erased
  (``registration/retention.py``); sent mail and delivered webhooks lose their bodies
  (``mail/retention.py``, ``events/retention.py``); on
  SQLite the WAL is then checkpointed and truncated, so what was purged leaves the disk;
- expired one-time links, spent rate-limit counters and expired "keep me signed in"
  devices are deleted;
- expiry reminders go to opted-in patrons whose card expires soon
  (``notices/reminders.py``; it needs the service's base URL for the renewal link);
- emergency-closure notices that are not finished are queued on in batches
  (``notices/closures.py``);
- saved Google Wallet passes follow their cards' renewals and reissues, from the card
  events (``passes/google_sync.py``; only when Google Wallet is configured);
- saved Apple Wallet passes likewise: marked updated and pushed to their devices
  (``passkit/updates.py``; only when Apple Wallet is configured).

Each job runs in a transaction of its own, so one that fails leaves the others' work done.
Every job is safe to run twice at once (several worker processes, or cron beside them):
status changes are guarded by the status itself, deletions only delete, and every notice
email is claimed by a unique delivery row before it is queued.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from cardservice.db.base import utcnow
from cardservice.db.engine import Database, sqlite_path
from cardservice.db.files import truncate_sqlite_wal
from cardservice.events.retention import clear_delivered_bodies
from cardservice.mail.retention import clear_sent_bodies
from cardservice.notices.closures import deliver_pending_notices
from cardservice.notices.reminders import send_expiry_reminders
from cardservice.passkit.updates import update_apple_passes
from cardservice.passkit.wallet import AppleWallet
from cardservice.patrons.devices import purge_devices
from cardservice.profiles.schema import Profile
from cardservice.registration.inquiries import expire_inquiries
from cardservice.registration.retention import erase_closed, purge_documents, purge_drafts
from cardservice.security.links import purge_links
from cardservice.security.ratelimit import purge_rate_counters
from passes.google_sync import GoogleWalletSync, sync_google_wallet

log = logging.getLogger(__name__)

# How often each process runs the jobs; they are cheap when there is nothing to do.
INTERVAL: Final = timedelta(minutes=10)
# Used or expired links are kept this long after they expire, to say "already used".
LINK_KEEP: Final = timedelta(days=7)


@dataclass(slots=True)
class JobReport:
    returned_to_queue: list[str] = field(default_factory=list)  # application public ids
    cancelled: list[str] = field(default_factory=list)
    documents_purged: int = 0
    drafts_purged: int = 0
    applications_erased: int = 0
    mail_bodies_cleared: int = 0
    webhook_bodies_cleared: int = 0
    links_purged: int = 0
    rate_counters_purged: int = 0
    devices_purged: int = 0
    expiry_reminders: int | None = 0  # None: not run (no base URL for the renewal link)
    notice_emails: int = 0
    wallet_passes_updated: int | None = None  # None: Google Wallet is not configured
    wallet_passes_refused: int = 0  # patches Google refused for what they were (logged)
    apple_passes_updated: int | None = None  # None: Apple Wallet is not configured
    apple_pushes_failed: int = 0  # pushes APNs did not take (not retried; Wallet asks later)
    failed: list[str] = field(default_factory=list)  # names of jobs that raised

    def lines(self) -> list[str]:
        return [
            f"inquiries lapsed, back in the queue: {len(self.returned_to_queue)}",
            f"applications cancelled for unanswered inquiries: {len(self.cancelled)}",
            f"ID images deleted: {self.documents_purged}",
            f"unsubmitted drafts deleted: {self.drafts_purged}",
            f"closed applications' personal details erased: {self.applications_erased}",
            f"sent email bodies cleared: {self.mail_bodies_cleared}",
            f"delivered webhook bodies cleared: {self.webhook_bodies_cleared}",
            f"expired links deleted: {self.links_purged}",
            f"rate-limit counters deleted: {self.rate_counters_purged}",
            f"expired signed-in devices deleted: {self.devices_purged}",
            "expiry reminders queued: "
            + (
                "not run (no base URL)"
                if self.expiry_reminders is None
                else f"{self.expiry_reminders}"
            ),
            f"closure notice emails queued: {self.notice_emails}",
            "Google Wallet passes updated: "
            + (
                "not configured"
                if self.wallet_passes_updated is None
                else f"{self.wallet_passes_updated}"
                + (
                    f" ({self.wallet_passes_refused} refused by Google, see the log)"
                    if self.wallet_passes_refused
                    else ""
                )
            ),
            "Apple Wallet passes updated: "
            + (
                "not configured"
                if self.apple_passes_updated is None
                else f"{self.apple_passes_updated}"
            )
            + (
                f" (pushes to devices failed: {self.apple_pushes_failed}; they get the new"
                " pass when Wallet next asks)"
                if self.apple_pushes_failed
                else ""
            ),
            *(f"FAILED: {name}" for name in self.failed),
        ]

    @property
    def eventful(self) -> bool:
        """Something a person might want to see in the log happened."""
        return bool(
            self.cancelled
            or self.documents_purged
            or self.drafts_purged
            or self.applications_erased
            or self.returned_to_queue
            or self.expiry_reminders
            or self.notice_emails
            or self.wallet_passes_updated
            or self.apple_passes_updated
        )


async def run_jobs(
    db: Database,
    profile: Profile,
    *,
    now: datetime | None = None,
    base_url: str | None = None,
    google: GoogleWalletSync | None = None,
    apple: AppleWallet | None = None,
) -> JobReport:
    """Run every job once; a failing job is logged and reported, the others still run.

    ``base_url`` is the service's public URL (``Settings.base_url``), for links in emails;
    without it the expiry reminders are not run (and the report says so). ``google`` is
    the configured Google Wallet (``Services.google_wallet``); without it no pass is patched."""
    now = now or utcnow()
    report = JobReport()
    try:
        async with db.transaction() as session:
            expiry = await expire_inquiries(session, profile=profile, now=now)
        report.returned_to_queue, report.cancelled = expiry.returned_to_queue, expiry.cancelled
    except Exception:
        log.exception("job failed: inquiry expiry")
        report.failed.append("inquiry expiry")
    try:
        async with db.transaction() as session:
            report.documents_purged = await purge_documents(session, profile=profile, now=now)
    except Exception:
        log.exception("job failed: ID image purge")
        report.failed.append("ID image purge")
    await _retain(db, profile, report, now=now)
    try:
        async with db.transaction() as session:
            report.links_purged = await purge_links(session, older_than=LINK_KEEP, now=now)
            report.rate_counters_purged = await purge_rate_counters(session, now)
            report.devices_purged = await purge_devices(session, now=now)
    except Exception:
        log.exception("job failed: link and counter cleanup")
        report.failed.append("link and counter cleanup")
    await _send_notices(db, profile, report, now=now, base_url=base_url)
    if google is not None:
        try:
            wallet = await sync_google_wallet(db, google)
        except Exception:  # the database (Google's own errors come back as wallet.failed)
            log.exception("job failed: Google Wallet updates")
            report.failed.append("Google Wallet updates")
        else:
            report.wallet_passes_updated = wallet.patched
            report.wallet_passes_refused = wallet.refused
            if wallet.failed:
                report.failed.append("Google Wallet updates")
    if apple is not None:
        try:
            updates = await update_apple_passes(db, apple, now=now)
            report.apple_passes_updated = updates.updated
            report.apple_pushes_failed = updates.failed
        except Exception:
            log.exception("job failed: Apple Wallet updates")
            report.failed.append("Apple Wallet updates")
    return report


async def _retain(db: Database, profile: Profile, report: JobReport, *, now: datetime) -> None:
    """Drafts, closed applications and sent mail bodies (``profile.retention``)."""
    try:
        async with db.transaction() as session:
            report.drafts_purged = await purge_drafts(session, profile=profile, now=now)
            report.applications_erased = await erase_closed(session, profile=profile, now=now)
            report.mail_bodies_cleared = await clear_sent_bodies(
                session, profile.retention, now=now
            )
            report.webhook_bodies_cleared = await clear_delivered_bodies(
                session, profile.retention, now=now
            )
    except Exception:
        log.exception("job failed: personal data retention")
        report.failed.append("personal data retention")
    purged = report.documents_purged + report.drafts_purged + report.applications_erased
    if db.is_sqlite and (purged or report.mail_bodies_cleared or report.webhook_bodies_cleared):
        await asyncio.to_thread(truncate_sqlite_wal, sqlite_path(db.url))


async def _send_notices(
    db: Database, profile: Profile, report: JobReport, *, now: datetime, base_url: str | None
) -> None:
    """The notice jobs manage their own transactions: one per batch."""
    report.expiry_reminders = None
    if base_url is not None:
        try:
            report.expiry_reminders = await send_expiry_reminders(
                db, profile, base_url=base_url, now=now
            )
        except Exception:
            log.exception("job failed: expiry reminders")
            report.failed.append("expiry reminders")
    try:
        report.notice_emails = await deliver_pending_notices(db, profile, now=now)
    except Exception:
        log.exception("job failed: closure notices")
        report.failed.append("closure notices")


@contextlib.asynccontextmanager
async def jobs_background(
    db: Database,
    profile: Profile,
    *,
    interval: timedelta = INTERVAL,
    base_url: str | None = None,
    google: GoogleWalletSync | None = None,
    apple: AppleWallet | None = None,
) -> AsyncIterator[None]:
    """Run the jobs now and then every ``interval`` while the app runs."""
    stop = asyncio.Event()

    async def loop() -> None:
        while not stop.is_set():
            report = await run_jobs(db, profile, base_url=base_url, google=google, apple=apple)
            if report.eventful:
                log.info("jobs: %s", "; ".join(report.lines()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval.total_seconds())

    task = asyncio.create_task(loop(), name="jobs")
    try:
        yield
    finally:
        stop.set()
        await task
