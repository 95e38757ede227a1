"""Review on both engines and both shipped profiles: the queue, approval (patron, card,
email, audit in one transaction), rejection, duplicates, and ID images for staff."""

from __future__ import annotations

import asyncio
import io
from datetime import date
from pathlib import Path

import pytest
from jinja2 import TemplateNotFound
from PIL import Image
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cardservice.cards.models import Card
from cardservice.cards.numbers import compose, normalise
from cardservice.mail.models import OutboxRow
from cardservice.patrons.models import Patron
from cardservice.registration import applicant, review
from cardservice.registration.errors import (
    ApplicationAlreadyDecided,
    ApplicationNotReviewable,
    DocumentNotFound,
    RejectionReasonInvalid,
)
from cardservice.registration.models import Application, ApplicationStatus
from cardservice.security.passwords import verify_password
from cardservice.services import Services
from cardservice.staff.audit import for_target
from cardservice.staff.models import AuditEntry, Role, StaffUser
from cardservice.staff.service import StaffForbidden, create_staff
from tests.factories import make_card
from tests.registration_flow import (
    FORMS,
    FRIDAY,
    both_profiles,  # noqa: F401  # a fixture
    count,
    document_key,
    fill_draft,
    friday_for_every_test,  # noqa: F401  # a fixture
    load,
    make_reviewer,
    outbox,
    request_and_open,
    seed_rejection_templates,
    submitted_application,
)

DUE_ON = {"kashiwa": date(2026, 4, 5), "yokohama": date(2026, 4, 6)}


async def _approve(services: Services, public_id: str, staff_name: str = "reviewer") -> Card:
    async with services.db.transaction() as session:
        app = await applicant.get_application(session, public_id)
        staff = await session.scalar(select(StaffUser).where(StaffUser.username == staff_name))
        assert staff is not None
        return await review.approve(
            session,
            app,
            staff,
            services.policy,
            profile=services.settings.profile,
            base_url=services.settings.base_url,
        )


async def test_queue_shows_the_application_with_its_due_date(services: Services) -> None:
    profile = services.settings.profile
    later = await submitted_application(services, "later@example.org")
    async with services.db.transaction() as session:
        items = await review.queue(session, date(2026, 4, 3), profile=profile)
    assert [i.public_id for i in items] == [later]
    item = items[0]
    assert item.due_on == DUE_ON[profile.id]
    assert item.overdue is False
    assert item.waiting_opening_days == 0
    assert item.kana == "ヤマダ\u3000ハナコ"
    # Two days after its due date it is overdue, counted in the library's opening days.
    async with services.db.transaction() as session:
        (overdue,) = await review.queue(session, date(2026, 4, 8), profile=profile)
    assert overdue.overdue is True
    # Kashiwa is closed on Monday 6 April: Sat, Sun, Tue, Wed are 4; Yokohama opens all 5.
    assert overdue.waiting_opening_days == {"kashiwa": 4, "yokohama": 5}[profile.id]


async def test_approve_makes_patron_card_and_completion_email(services: Services) -> None:
    profile = services.settings.profile
    public_id = await submitted_application(services)
    await make_reviewer(services)
    card = await _approve(services, public_id)

    assert normalise(services.policy.number_format, card.user_number) == card.user_number
    assert len(card.user_number) == profile.number.length
    assert card.user_number.startswith(profile.number.prefix)
    async with services.db.transaction() as session:
        patron = await session.get(Patron, card.patron_id)
    assert patron is not None
    assert (patron.family_kana, patron.given_kana) == ("ヤマダ", "ハナコ")
    assert patron.password_hash is not None
    assert (await verify_password(patron.password_hash, FORMS[profile.id]["password"])).ok
    app = await load(services, public_id)
    assert app.status == ApplicationStatus.APPROVED
    assert (app.patron_id, app.card_id) == (patron.id, card.id)
    assert app.password_hash is None
    assert app.decided_at == FRIDAY
    (completed,) = await outbox(services, "registration_completed")
    assert card.user_number in completed.body_text
    assert f"{services.settings.base_url}/card" in completed.body_text
    async with services.db.transaction() as session:
        (entry,) = await staff_entries(session, public_id)
    assert entry.action == "application.approve"
    assert entry.detail["user_number"] == card.user_number

    with pytest.raises(ApplicationAlreadyDecided) as twice:
        await _approve(services, public_id)
    assert twice.value.code == "application_already_decided"
    assert await count(services, Card) == 1
    assert len(await outbox(services, "registration_completed")) == 1


async def test_a_failed_approval_leaves_nothing_behind(
    services: Services, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    public_id = await submitted_application(services)
    await make_reviewer(services)
    mail_before = len(await outbox(services))
    # No email templates where the service looks: queueing the completion email fails
    # after the number was allocated and the card issued.
    monkeypatch.setenv("CARDSERVICE_TEMPLATE_DIR", str(tmp_path))
    with pytest.raises(TemplateNotFound, match="registration_completed"):
        await _approve(services, public_id)
    monkeypatch.delenv("CARDSERVICE_TEMPLATE_DIR")

    assert await count(services, Patron) == 0
    assert await count(services, Card) == 0
    async with services.db.transaction() as session:
        assert await staff_entries(session, public_id) == []
    assert len(await outbox(services)) == mail_before
    assert (await load(services, public_id)).status == ApplicationStatus.SUBMITTED
    # Approving again works, and the number space shows no trace of the failed attempt.
    card = await _approve(services, public_id)
    assert card.user_number == compose(services.policy.number_format, 1)


async def test_only_reviewers_decide(services: Services) -> None:
    public_id = await submitted_application(services)
    async with services.db.transaction() as session:
        await create_staff(session, "counter", "counter staff password", Role.COUNTER)
    with pytest.raises(StaffForbidden):
        await _approve(services, public_id, "counter")
    assert (await load(services, public_id)).status == ApplicationStatus.SUBMITTED


async def test_a_draft_cannot_be_approved(services: Services) -> None:
    public_id = await request_and_open(services)
    await fill_draft(services, public_id)
    await make_reviewer(services)
    with pytest.raises(ApplicationNotReviewable):
        await _approve(services, public_id)
    assert await count(services, Patron) == 0


async def test_reject_with_a_template_in_the_applicants_language(services: Services) -> None:
    await seed_rejection_templates(services)
    public_id = await submitted_application(services)
    staff = await make_reviewer(services)
    async with services.db.transaction() as session:
        templates = await review.rejection_templates(session)
        expired = next(t for t in templates if t.code == "document_expired")
        app = await applicant.get_application(session, public_id)
        await review.reject(
            session, app, staff, profile=services.settings.profile, template_id=expired.id
        )
    app = await load(services, public_id)
    assert app.status == ApplicationStatus.REJECTED
    assert app.decision_reason == expired.text_ja
    assert app.decided_by == staff.id
    (mail,) = await outbox(services, "application_rejected")
    assert expired.text_ja in mail.body_text
    async with services.db.transaction() as session:
        (entry,) = await staff_entries(session, public_id)
        assert entry.detail == {"template": "document_expired"}
        app = await applicant.get_application(session, public_id)
        with pytest.raises(ApplicationAlreadyDecided):
            await review.approve(
                session,
                app,
                staff,
                services.policy,
                profile=services.settings.profile,
                base_url=services.settings.base_url,
            )
    assert await count(services, Patron) == 0


async def test_reject_with_written_reason_and_bad_reasons(services: Services) -> None:
    public_id = await submitted_application(services)
    staff = await make_reviewer(services)
    profile = services.settings.profile
    async with services.db.transaction() as session:
        app = await applicant.get_application(session, public_id)
        for bad in ({"text": "   "}, {"text": "x" * 2001}, {"template_id": 999}, {}):
            with pytest.raises(RejectionReasonInvalid):
                await review.reject(session, app, staff, profile=profile, **bad)
    assert (await load(services, public_id)).status == ApplicationStatus.SUBMITTED
    async with services.db.transaction() as session:
        app = await applicant.get_application(session, public_id)
        await review.reject(session, app, staff, profile=profile, text="写真が横向きです。")
    (mail,) = await outbox(services, "application_rejected")
    assert "写真が横向きです。" in mail.body_text


async def test_detail_lists_documents_and_possible_duplicates(services: Services) -> None:
    first = await submitted_application(services, "first@example.org")
    second = await submitted_application(services, "second@example.org")
    # Registered meanwhile at the counter (Yokohama turns away a card holder's application).
    existing = await make_card(services, email="other@example.org")  # ヤマダ ハナコ 1990-04-01
    async with services.db.transaction() as session:
        detail = await review.application_detail(session, second)
    assert detail.application.public_id == second
    assert {(d.doc_type, d.side) for d in detail.documents} == {
        ("health_insurance", "front"),
        ("health_insurance", "back"),
    }
    assert detail.inquiries == []
    found = {(d.kind, d.ref) for d in detail.duplicates}
    assert found == {("patron", str(existing.patron_id)), ("application", first)}
    patron = next(d for d in detail.duplicates if d.kind == "patron")
    assert patron.user_numbers == (existing.user_number,)


async def test_document_image_for_staff_is_decrypted_and_audited(services: Services) -> None:
    public_id = await submitted_application(services)
    staff = await make_reviewer(services)
    async with services.db.transaction() as session:
        detail = await review.application_detail(session, public_id)
        app = detail.application
        content_type, image = await review.document_image(
            session, app, detail.documents[0].id, staff=staff, document_key=document_key(services)
        )
        with pytest.raises(DocumentNotFound):
            await review.document_image(
                session, app, 10_000, staff=staff, document_key=document_key(services)
            )
    assert content_type == "image/jpeg"
    with Image.open(io.BytesIO(image)) as opened:
        assert opened.size == (640, 400)
    async with services.db.transaction() as session:
        (entry,) = await staff_entries(session, public_id)
    assert entry.action == "application.document_view"


async def staff_entries(session: AsyncSession, public_id: str) -> list[AuditEntry]:
    """The application's audit entries written by staff (the applicant's own steps, such as
    the submission, are recorded with no staff member)."""
    entries = await for_target(session, "application", public_id)
    return [entry for entry in entries if entry.staff_id is not None]


async def test_emails_go_only_to_the_applicant(services: Services) -> None:
    public_id = await submitted_application(services)
    await make_reviewer(services)
    await _approve(services, public_id)
    async with services.db.transaction() as session:
        addresses = set(await session.scalars(select(OutboxRow.to_address)))
        apps = list(await session.scalars(select(Application)))
    assert addresses == {apps[0].email}


async def test_two_reviewers_approving_at_once_make_one_card(services: Services) -> None:
    public_id = await submitted_application(services)
    await make_reviewer(services)
    results = await asyncio.gather(
        _approve(services, public_id), _approve(services, public_id), return_exceptions=True
    )
    cards = [r for r in results if isinstance(r, Card)]
    conflicts = [r for r in results if isinstance(r, ApplicationAlreadyDecided)]
    assert (len(cards), len(conflicts)) == (1, 1)
    assert await count(services, Card) == 1
    assert len(await outbox(services, "registration_completed")) == 1
