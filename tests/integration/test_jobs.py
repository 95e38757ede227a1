"""The scheduled jobs: run once, run by the app's background loop, run by ``cardservice jobs``;
on both engines, travelling in time for the deadlines."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta

import pytest
import time_machine
from sqlalchemy import select, update

from cardservice.calendar import local_today
from cardservice.cards.models import Card
from cardservice.db.base import utcnow
from cardservice.jobs import run_jobs
from cardservice.notices import closures
from cardservice.patrons.devices import remember
from cardservice.patrons.models import Patron, PatronDevice
from cardservice.patrons.service import NewPatron, create_patron_with_card
from cardservice.registration import applicant, review
from cardservice.registration.models import ApplicationDocument, ApplicationStatus
from cardservice.security.links import LinkPurpose, issue
from cardservice.security.models import LinkToken
from cardservice.services import Services
from cardservice.settings import Settings
from cardservice.staff.audit import for_target
from tests.cli_support import cardservice
from tests.registration_flow import (
    ask,
    load,
    make_reviewer,
    outbox,
    submitted_application,
)
from tests.web_support import web_client, with_free_catcher_port


@pytest.fixture
def profile_name() -> str:
    return "yokohama"  # two unanswered inquiries cancel; images kept 30 days


async def _reject(services: Services, public_id: str) -> None:
    staff = await make_reviewer(services, "decider")
    async with services.db.transaction() as session:
        app = await applicant.get_application(session, public_id)
        await review.reject(
            session, app, staff, profile=services.settings.profile, text="住所が確認できません。"
        )


async def _images(services: Services) -> list[ApplicationDocument]:
    async with services.db.transaction() as session:
        return list(await session.scalars(select(ApplicationDocument)))


async def test_unanswered_inquiries_return_to_the_queue_then_cancel(services: Services) -> None:
    profile = services.settings.profile
    public_id = await submitted_application(services)
    staff = await make_reviewer(services)
    await ask(services, public_id, staff)
    later = utcnow() + timedelta(days=profile.inquiry.answer_days + 2)

    first = await run_jobs(services.db, profile, now=later)
    assert first.returned_to_queue == [public_id]
    assert first.cancelled == []
    assert (await load(services, public_id)).status == ApplicationStatus.SUBMITTED

    await ask(services, public_id, staff)
    second = await run_jobs(
        services.db, profile, now=utcnow() + timedelta(days=2 * profile.inquiry.answer_days + 4)
    )
    assert second.cancelled == [public_id]
    assert (await load(services, public_id)).status == ApplicationStatus.CANCELLED
    assert len(await outbox(services, "application_cancelled")) == 1
    assert second.failed == []


async def test_images_go_after_the_retention_period_and_only_then(services: Services) -> None:
    profile = services.settings.profile
    public_id = await submitted_application(services)
    await _reject(services, public_id)
    assert all(row.ciphertext for row in await _images(services))

    early = await run_jobs(
        services.db, profile, now=utcnow() + timedelta(days=profile.documents.retention_days - 1)
    )
    assert early.documents_purged == 0
    assert all(row.ciphertext for row in await _images(services))

    due = utcnow() + timedelta(days=profile.documents.retention_days + 1)
    report = await run_jobs(services.db, profile, now=due)
    assert report.documents_purged == 2
    rows = await _images(services)
    assert [row.ciphertext for row in rows] == [None, None]
    assert all(row.purged_at is not None for row in rows)
    # A second run, as another worker would do at the same time, finds nothing more.
    again = await run_jobs(services.db, profile, now=due)
    assert again.documents_purged == 0
    async with services.db.transaction() as session:
        actions = [entry.action for entry in await for_target(session, "application", public_id)]
    assert actions.count("application.documents_purge") == 1


async def test_expired_links_are_deleted_a_week_after_expiry(services: Services) -> None:
    now = utcnow()
    async with services.db.transaction() as session:
        await issue(session, LinkPurpose.VERIFY_EMAIL, "a@example.org", timedelta(hours=1), now=now)
    kept = await run_jobs(services.db, services.settings.profile, now=now + timedelta(days=2))
    assert kept.links_purged == 0
    gone = await run_jobs(services.db, services.settings.profile, now=now + timedelta(days=9))
    assert gone.links_purged == 1
    async with services.db.transaction() as session:
        assert list(await session.scalars(select(LinkToken))) == []


async def test_expired_signed_in_devices_are_deleted(services: Services) -> None:
    now = utcnow()
    async with services.db.transaction() as session:
        card = await create_patron_with_card(
            session,
            NewPatron(
                family_name="山田",
                given_name="花子",
                family_kana="ヤマダ",
                given_kana="ハナコ",
                birth_date=date(1990, 4, 1),
                email="device@example.org",
                password_hash="$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
            ),
            services.policy,
        )
        patron = await session.get(Patron, card.patron_id)
        assert patron is not None
        await remember(session, patron, days=90, now=now)
    kept = await run_jobs(services.db, services.settings.profile, now=now + timedelta(days=89))
    assert kept.devices_purged == 0
    gone = await run_jobs(services.db, services.settings.profile, now=now + timedelta(days=91))
    assert gone.devices_purged == 1
    async with services.db.transaction() as session:
        assert list(await session.scalars(select(PatronDevice))) == []


async def test_the_app_runs_the_jobs_in_the_background(services: Services) -> None:
    """Started with the app: an image past its retention period is gone without anyone asking."""
    public_id = await submitted_application(services)
    await _reject(services, public_id)
    past = utcnow() - timedelta(days=services.settings.profile.documents.retention_days + 1)
    async with services.db.transaction() as session:
        app = await applicant.get_application(session, public_id)
        app.decided_at = past
    settings = with_free_catcher_port(services.settings)
    async with web_client(settings, mail=False, jobs=True):
        for _ in range(100):
            if all(row.ciphertext is None for row in await _images(services)):
                break
            await asyncio.sleep(0.05)
    assert [row.ciphertext for row in await _images(services)] == [None, None]


def test_the_jobs_command(empty_db: Settings) -> None:
    env = {
        "CARDSERVICE_DATA_DIR": str(empty_db.data_dir),
        "CARDSERVICE_DATABASE_URL": empty_db.database_url,
        "CARDSERVICE_PROFILE": "yokohama",
    }
    out = cardservice(env, "jobs").out
    assert "ID images deleted: 0" in out
    assert "applications cancelled for unanswered inquiries: 0" in out


NOTICE = {
    "subject_ja": "臨時休館のお知らせ",
    "body_ja": "本日は臨時休館します。",
    "subject_en": "Closed today",
    "body_en": "The library is closed today.",
}


async def _opted_in_patron(services: Services, email: str = "hanako@example.org") -> Card:
    async with services.db.transaction() as session:
        return await create_patron_with_card(
            session,
            NewPatron(
                family_name="山田",
                given_name="花子",
                family_kana="ヤマダ",
                given_kana="ハナコ",
                birth_date=date(1990, 4, 1),
                email=email,
                notifications={"expiry_near": True, "emergency_closure": True},
            ),
            services.policy,
        )


async def test_the_jobs_remind_of_expiry_and_finish_closure_notices(services: Services) -> None:
    """With the base URL a run reminds the patron whose card expires soon and queues a
    notice nobody finished; a second run, as another process would, adds nothing."""
    profile, base_url = services.settings.profile, services.settings.base_url
    card = await _opted_in_patron(services)
    staff = await make_reviewer(services, "kanri")
    async with services.db.transaction() as session:
        await closures.create_notice(session, closures.parse_draft(NOTICE), staff)
    soon = datetime.combine(card.expires_on - timedelta(days=3), time(1), tzinfo=UTC)
    with time_machine.travel(soon, tick=False):
        first = await run_jobs(services.db, profile, base_url=base_url)
        second = await run_jobs(services.db, profile, base_url=base_url)
    assert (first.expiry_reminders, first.notice_emails, first.failed) == (1, 1, [])
    assert (second.expiry_reminders, second.notice_emails) == (0, 0)
    assert "expiry reminders queued: 1" in first.lines()
    assert "closure notice emails queued: 1" in first.lines()
    assert len(await outbox(services, "expiry_reminder")) == 1
    assert len(await outbox(services, "emergency_closure")) == 1


async def test_the_app_sends_due_reminders_in_the_background(services: Services) -> None:
    """The app's own jobs know the base URL: the reminder links to My Library there."""
    card = await _opted_in_patron(services)
    today = local_today(services.policy.timezone)
    async with services.db.transaction() as session:
        await session.execute(
            update(Card).where(Card.id == card.id).values(expires_on=today + timedelta(days=5))
        )
    settings = with_free_catcher_port(services.settings)
    async with web_client(settings, mail=False, jobs=True):
        for _ in range(100):
            if await outbox(services, "expiry_reminder"):
                break
            await asyncio.sleep(0.05)
    [mail] = await outbox(services, "expiry_reminder")
    assert f"{settings.base_url}/my" in mail.body_text


def test_the_jobs_command_reports_the_notices(empty_db: Settings) -> None:
    env = {
        "CARDSERVICE_DATA_DIR": str(empty_db.data_dir),
        "CARDSERVICE_DATABASE_URL": empty_db.database_url,
        "CARDSERVICE_PROFILE": "kashiwa",
    }
    out = cardservice(env, "jobs").out
    assert "expiry reminders queued: 0" in out
    assert "closure notice emails queued: 0" in out
