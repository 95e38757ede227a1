"""Personal data leaves on time: unsubmitted drafts, closed applications' personal details
and sent mail bodies, each after its profile period ([retention]); on both engines, run by
the scheduled jobs and travelling in time. SQLite leaves no trace of a purged image."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text, update

from cardservice.db.base import utcnow
from cardservice.db.engine import sqlite_path
from cardservice.db.migrate import upgrade
from cardservice.jobs import run_jobs
from cardservice.mail.catcher import Received, store_caught
from cardservice.mail.models import CaughtMail, MailStatus, OutboxRow
from cardservice.profiles import load_profile
from cardservice.registration import applicant, review
from cardservice.registration.models import (
    Application,
    ApplicationDocument,
    ApplicationStatus,
    Inquiry,
)
from cardservice.registration.retention import ERASED
from cardservice.services import Services
from cardservice.settings import Settings
from cardservice.staff.audit import for_target
from tests.registration_flow import (
    ask,
    count,
    fill_draft,
    load,
    make_reviewer,
    outbox,
    request_and_open,
    submitted_application,
)
from tests.web_support import login, make_staff, web_client, with_free_catcher_port


@pytest.fixture
def profile_name() -> str:
    return "yokohama"  # two unanswered inquiries cancel an application


async def _reject(services: Services, public_id: str) -> None:
    staff = await make_reviewer(services, "decider")
    async with services.db.transaction() as session:
        app = await applicant.get_application(session, public_id)
        await review.reject(
            session, app, staff, profile=services.settings.profile, text="住所が確認できません。"
        )


async def _actions(services: Services, public_id: str) -> list[str]:
    async with services.db.transaction() as session:
        return [entry.action for entry in await for_target(session, "application", public_id)]


async def test_a_draft_with_images_is_deleted_after_its_period(services: Services) -> None:
    profile = services.settings.profile
    public_id = await request_and_open(services)
    await fill_draft(services, public_id)  # the form and one ID image, never submitted
    assert await count(services, ApplicationDocument) == 1

    early = await run_jobs(
        services.db, profile, now=utcnow() + timedelta(days=profile.retention.draft_days - 1)
    )
    assert early.drafts_purged == 0
    assert (await load(services, public_id)).status == ApplicationStatus.DRAFT

    later = utcnow() + timedelta(days=400)  # the example: +400 days, once still there
    report = await run_jobs(services.db, profile, now=later)
    assert report.drafts_purged == 1
    assert report.failed == []
    assert await count(services, Application) == 0
    assert await count(services, ApplicationDocument) == 0
    assert await _actions(services, public_id) == ["application.draft_purge"]
    again = await run_jobs(services.db, profile, now=later)  # as a second worker would
    assert again.drafts_purged == 0


async def test_a_draft_with_a_recent_upload_stays(services: Services) -> None:
    profile = services.settings.profile
    public_id = await request_and_open(services)
    await fill_draft(services, public_id)
    later = utcnow() + timedelta(days=profile.retention.draft_days + 5)
    async with services.db.transaction() as session:  # an image added two days ago
        await session.execute(
            update(ApplicationDocument).values(created_at=later - timedelta(days=2))
        )
    report = await run_jobs(services.db, profile, now=later)
    assert report.drafts_purged == 0
    assert (await load(services, public_id)).status == ApplicationStatus.DRAFT


async def test_closed_applications_keep_only_what_statistics_need(
    services: Services, settings: Settings
) -> None:
    profile = services.settings.profile
    rejected = await submitted_application(services, "rejected@example.org")
    await _reject(services, rejected)
    cancelled = await submitted_application(services, "cancelled@example.org")
    staff = await make_reviewer(services)
    waiting = await submitted_application(services, "waiting@example.org")
    for round_ in (1, 2):  # two unanswered inquiries cancel (the Yokohama profile)
        await ask(services, cancelled, staff)
        lapsed = await run_jobs(
            services.db,
            profile,
            now=utcnow() + timedelta(days=round_ * (profile.inquiry.answer_days + 2)),
        )
        assert lapsed.failed == []
    assert (await load(services, cancelled)).status == ApplicationStatus.CANCELLED
    before = {pid: await load(services, pid) for pid in (rejected, cancelled)}

    days = profile.retention.closed_application_days
    early = await run_jobs(services.db, profile, now=utcnow() + timedelta(days=days - 1))
    assert early.applications_erased == 0
    assert (await load(services, rejected)).family_name == "山田"

    cancelled_at = (await load(services, cancelled)).decided_at
    assert cancelled_at is not None
    report = await run_jobs(services.db, profile, now=cancelled_at + timedelta(days=days + 1))
    assert report.applications_erased == 2
    for public_id in (rejected, cancelled):
        app = await load(services, public_id)
        old = before[public_id]
        for column, value in ERASED.items():
            assert getattr(app, column) == value, column
        assert app.personal_data_erased_at is not None
        # What stays: reference, procedure, status, dates, decision, basis and city.
        kept = [*("id", "public_id", "procedure", "status", "submitted_at", "decided_at")]
        kept += ["created_at", "due_on", "decision_reason", "basis", "prefecture", "city"]
        assert [getattr(app, c) for c in kept] == [getattr(old, c) for c in kept]
        assert app.reference == old.reference
        assert "application.personal_data_erase" in await _actions(services, public_id)
    app_id = (await load(services, cancelled)).id
    closed = [(await load(services, pid)).id for pid in (rejected, cancelled)]
    async with services.db.transaction() as session:
        words = await session.execute(
            select(Inquiry.question, Inquiry.answer_text).where(Inquiry.application_id == app_id)
        )
        assert [tuple(row) for row in words] == [("", None), ("", None)]
        images = await session.scalars(
            select(ApplicationDocument.ciphertext).where(
                ApplicationDocument.application_id.in_(closed)
            )
        )
        assert all(image is None for image in images)
    assert (await load(services, waiting)).family_name == "山田"  # still in the queue

    # The review page still reads for an erased application.
    await make_staff(services, "sato")
    async with web_client(with_free_catcher_port(settings), mail=False) as client:
        await login(client, "sato")
        page = await client.get(f"/staff/applications/{rejected}")
        assert page.status_code == 200
        assert before[rejected].reference in page.text
        assert "山田" not in page.text


async def _sent_mail(services: Services) -> OutboxRow:
    await request_and_open(services)
    async with services.db.transaction() as session:
        await session.execute(update(OutboxRow).values(status=MailStatus.SENT, sent_at=utcnow()))
    (row,) = await outbox(services, "verify_email")
    return row


async def test_sent_mail_bodies_are_cleared_and_the_envelope_stays(services: Services) -> None:
    profile = services.settings.profile
    sent = await _sent_mail(services)
    assert "/apply/verify/" in sent.body_text
    async with services.db.transaction() as session:
        pending = OutboxRow(
            to_address="later@example.org",
            language="ja",
            template="verify_email",
            subject="s",
            body_text="a pending body",
            body_html="<p>a pending body</p>",
        )
        session.add(pending)
        store_caught(session, Received("lib@example.org", ["hanako@example.org"], b"x"))
    days = profile.retention.sent_mail_body_days
    early = await run_jobs(services.db, profile, now=utcnow() + timedelta(days=days - 1))
    assert early.mail_bodies_cleared == 0

    report = await run_jobs(services.db, profile, now=utcnow() + timedelta(days=days + 1))
    assert report.mail_bodies_cleared == 2  # the sent one and the caught one
    async with services.db.transaction() as session:
        rows = {row.id: row for row in await session.scalars(select(OutboxRow))}
        caught = (await session.scalars(select(CaughtMail))).one()
    cleared = rows[sent.id]
    assert (cleared.body_text, cleared.body_html) == ("", "")
    assert cleared.body_cleared_at is not None
    envelope = ("to_address", "subject", "template", "language", "status", "sent_at")
    assert [getattr(cleared, c) for c in envelope] == [getattr(sent, c) for c in envelope]
    assert rows[pending.id].body_text == "a pending body"  # still to be sent
    assert (caught.body_text, caught.raw, caught.rcpt_tos) == ("", b"", "hanako@example.org")


async def test_the_staff_mail_page_says_the_text_was_cleared(
    services: Services, settings: Settings
) -> None:
    raw = (
        b"From: lib@example.org\r\nTo: hanako@example.org\r\nSubject: Verify\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
        b"https://cards.example.org/apply/verify/abcdefghijklmnop\r\n"
    )
    async with services.db.transaction() as session:
        row = store_caught(session, Received("lib@example.org", ["hanako@example.org"], raw))
        await session.flush()
        mail_id = row.id
    await make_staff(services, "sato")
    async with web_client(with_free_catcher_port(settings), mail=False) as client:
        await login(client, "sato")
        before = await client.get(f"/staff/mail/{mail_id}")
        assert "/apply/verify/abcdefghijklmnop" in before.text
        assert 'id="body-cleared"' not in before.text
        days = settings.profile.retention.sent_mail_body_days
        await run_jobs(services.db, settings.profile, now=utcnow() + timedelta(days=days))
        after = await client.get(f"/staff/mail/{mail_id}")
        assert after.status_code == 200
        assert "abcdefghijklmnop" not in after.text
        assert 'id="body-cleared"' in after.text
        assert "このメールの本文は" in after.text
        assert "hanako@example.org" in after.text  # the envelope stays for staff
        listing = await client.get("/staff/mail")
        assert "本文消去済み" in listing.text
        html = await client.get(f"/staff/mail/{mail_id}/html")
        assert html.status_code == 404
        assert "abcdefghijklmnop" not in html.text


# --- SQLite: no trace on disk -------------------------------------------------------------


@pytest.fixture
async def sqlite_services(tmp_path: Path) -> AsyncIterator[Services]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'data' / 'cardservice.db'}"
    (tmp_path / "data").mkdir()
    await upgrade(url)
    settings = Settings.from_env(
        {},
        data_dir=tmp_path / "data",
        database_url=url,
        profile=load_profile("yokohama"),
        base_url="https://cards.example.org",
    )
    services = Services.build(settings)
    try:
        yield services
    finally:
        await services.close()


def _disk(url: str) -> bytes:
    path = Path(sqlite_path(url))
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())


async def test_a_purged_image_leaves_no_trace_in_the_sqlite_file(
    sqlite_services: Services,
) -> None:
    services = sqlite_services
    async with services.db.transaction() as session:
        assert (await session.execute(text("PRAGMA secure_delete"))).scalar() == 1
    public_id = await submitted_application(services)
    await _reject(services, public_id)
    async with services.db.transaction() as session:
        stored = await session.scalars(select(ApplicationDocument.ciphertext))
        images = [bytes(image or b"") for image in stored]
    assert len(images) == 2
    assert all(len(image) > 4096 for image in images)  # beyond one page: overflow pages
    markers = [image[len(image) // 2 : len(image) // 2 + 48] for image in images]
    assert all(marker in _disk(services.db.url) for marker in markers)

    profile = services.settings.profile
    later = utcnow() + timedelta(days=profile.documents.retention_days + 1)
    report = await run_jobs(services.db, profile, now=later)
    assert report.documents_purged == 2
    disk = _disk(services.db.url)
    assert not any(marker in disk for marker in markers)
