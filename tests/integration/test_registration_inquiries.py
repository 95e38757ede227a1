"""Inquiries, their expiry and the purge of ID images, on both engines and both profiles,
travelling in time for the deadlines."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import msgspec
import pytest
import time_machine
from sqlalchemy import select

from cardservice.cards.lifecycle import REPORTED_LOST, suspend_card
from cardservice.cards.service import get_card
from cardservice.profiles.schema import InquirySection
from cardservice.registration import applicant, inquiries, review
from cardservice.registration.documents import DocumentRejected
from cardservice.registration.errors import (
    ApplicationNotReviewable,
    DocumentPurged,
    InquiryNotOpen,
    InquiryTextInvalid,
)
from cardservice.registration.models import (
    ApplicationDocument,
    ApplicationStatus,
    Inquiry,
)
from cardservice.registration.retention import purge_documents
from cardservice.security.links import LinkInvalid
from cardservice.services import Services
from cardservice.staff.audit import for_target
from tests.factories import make_card
from tests.registration_flow import (
    FRIDAY,
    QUESTION,
    ask,
    checked,
    document_key,
    fake_pdf,
    load,
    make_reviewer,
    outbox,
    photo,
    submitted_application,
)

ANSWER_BY = date(2026, 4, 17)  # 14 days after Friday 3 April


@pytest.fixture(params=["yokohama", "kashiwa"])
def profile_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(FRIDAY, tick=False) as traveller:
        yield traveller


def tokyo(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC) - timedelta(hours=9)


async def _answer(
    services: Services, token: str, text: str, document: inquiries.AnswerDocument | None = None
) -> None:
    async with services.db.transaction() as session:
        await inquiries.answer(
            session,
            token,
            text,
            profile=services.settings.profile,
            document_key=document_key(services),
            document=document,
        )


async def _expire(services: Services) -> inquiries.ExpiryReport:
    async with services.db.transaction() as session:
        return await inquiries.expire_inquiries(session, profile=services.settings.profile)


async def _queue_ids(services: Services) -> list[str]:
    async with services.db.transaction() as session:
        items = await review.queue(session, date(2026, 4, 3), profile=services.settings.profile)
    return [i.public_id for i in items]


@pytest.mark.usefixtures("clock")
async def test_ask_and_answer_through_the_link(services: Services) -> None:
    public_id = await submitted_application(services)
    staff = await make_reviewer(services)
    token = await ask(services, public_id, staff)

    (mail,) = await outbox(services, "inquiry")
    assert QUESTION in mail.body_text
    assert "2026年4月17日" in mail.body_text
    assert (await load(services, public_id)).status == ApplicationStatus.INQUIRY
    assert await _queue_ids(services) == []
    async with services.db.transaction() as session:
        shown = await inquiries.open_inquiry(session, token)
    assert (shown.public_id, shown.question, shown.answer_by) == (public_id, QUESTION, ANSWER_BY)

    await _answer(services, token, "撮り直しました。")
    app = await load(services, public_id)
    assert app.status == ApplicationStatus.SUBMITTED
    assert app.unanswered_inquiries == 0
    async with services.db.transaction() as session:
        (item,) = await review.queue(session, date(2026, 4, 3), profile=services.settings.profile)
        (inquiry,) = list(await session.scalars(select(Inquiry)))
        history = [e.action for e in await for_target(session, "application", public_id)]
    assert item.answered_inquiries == 1
    assert inquiry.answer_text == "撮り直しました。"
    assert inquiry.answered_at == FRIDAY
    assert history == ["application.submit", "application.inquiry", "application.answer"]
    with pytest.raises(LinkInvalid) as again:
        await _answer(services, token, "もう一度")
    assert again.value.code == "link_used"


@pytest.mark.usefixtures("clock")
async def test_answer_with_a_new_image_replaces_that_side(services: Services) -> None:
    public_id = await submitted_application(services)
    staff = await make_reviewer(services)
    token = await ask(services, public_id, staff)
    with pytest.raises(DocumentRejected):  # checked before the answer's transaction
        checked(services, fake_pdf(), "back.png")
    wrong_side = inquiries.AnswerDocument("my_number", "back", checked(services, photo("PNG")))
    with pytest.raises(DocumentRejected):
        await _answer(services, token, "", wrong_side)
    # Nothing happened, so the link still works.
    assert (await load(services, public_id)).status == ApplicationStatus.INQUIRY
    good = inquiries.AnswerDocument("health_insurance", "back", checked(services, photo("PNG")))
    await _answer(services, token, "", good)
    async with services.db.transaction() as session:
        rows = list(await session.scalars(select(ApplicationDocument)))
    assert len(rows) == 2
    back = next(r for r in rows if r.side == "back")
    assert back.content_type == "image/png"
    assert (await load(services, public_id)).status == ApplicationStatus.SUBMITTED


@pytest.mark.usefixtures("clock")
async def test_ask_needs_a_question_and_a_submitted_application(services: Services) -> None:
    public_id = await submitted_application(services)
    staff = await make_reviewer(services)
    async with services.db.transaction() as session:
        app = await applicant.get_application(session, public_id)
        with pytest.raises(InquiryTextInvalid):
            await inquiries.ask(
                session, app, staff, "  ", profile=services.settings.profile, base_url="https://x"
            )
    token = await ask(services, public_id, staff)
    with pytest.raises(ApplicationNotReviewable):
        await ask(services, public_id, staff)
    with pytest.raises(InquiryTextInvalid):
        await _answer(services, token, " ")
    assert len(await outbox(services, "inquiry")) == 1


@pytest.mark.usefixtures("clock")
async def test_a_rejected_application_takes_no_answer(services: Services) -> None:
    public_id = await submitted_application(services)
    staff = await make_reviewer(services)
    token = await ask(services, public_id, staff)
    async with services.db.transaction() as session:
        app = await applicant.get_application(session, public_id)
        await review.reject(
            session, app, staff, profile=services.settings.profile, text="窓口にお越しください。"
        )
    with pytest.raises(InquiryNotOpen):
        await _answer(services, token, "遅れました。")
    assert (await load(services, public_id)).status == ApplicationStatus.REJECTED


async def test_unanswered_inquiries_return_then_cancel(
    services: Services, clock: time_machine.Traveller
) -> None:
    profile = services.settings.profile
    assert profile.inquiry.max_unanswered == 2
    public_id = await submitted_application(services)
    staff = await make_reviewer(services)
    token = await ask(services, public_id, staff)

    clock.move_to(tokyo(2026, 4, 17, 23, 59))  # the last day to answer
    assert await _expire(services) == inquiries.ExpiryReport()
    clock.move_to(tokyo(2026, 4, 18, 0, 1))
    with pytest.raises(LinkInvalid) as late:
        await _answer(services, token, "遅れました。")
    assert late.value.code == "link_expired"
    first = await _expire(services)
    assert first.returned_to_queue == [public_id]
    app = await load(services, public_id)
    assert (app.status, app.unanswered_inquiries) == (ApplicationStatus.SUBMITTED, 1)
    assert await outbox(services, "application_cancelled") == []
    assert await _expire(services) == inquiries.ExpiryReport()  # counted once

    await ask(services, public_id, staff)
    clock.move_to(tokyo(2026, 5, 3, 9))  # answer_by was 2 May
    second = await _expire(services)
    assert second.cancelled == [public_id]
    app = await load(services, public_id)
    assert app.status == ApplicationStatus.CANCELLED
    assert app.unanswered_inquiries == 2
    assert app.decided_at is not None
    assert app.password_hash is None
    (mail,) = await outbox(services, "application_cancelled")
    assert "2026年5月2日" in mail.body_text
    async with services.db.transaction() as session:
        actions = [e.action for e in await for_target(session, "application", public_id)]
    assert actions[-1] == "application.cancel"


async def test_with_one_allowed_silence_the_deadline_cancels(
    services: Services, clock: time_machine.Traveller
) -> None:
    strict = msgspec.structs.replace(
        services.settings.profile, inquiry=InquirySection(max_unanswered=1, answer_days=3)
    )
    public_id = await submitted_application(services)
    staff = await make_reviewer(services)
    async with services.db.transaction() as session:
        app = await applicant.get_application(session, public_id)
        await inquiries.ask(session, app, staff, QUESTION, profile=strict, base_url="https://x")
    clock.move_to(tokyo(2026, 4, 7, 0, 1))  # answer_by 6 April has passed
    async with services.db.transaction() as session:
        report = await inquiries.expire_inquiries(session, profile=strict)
    assert report.cancelled == [public_id]
    assert len(await outbox(services, "application_cancelled")) == 1


async def test_a_cancelled_lost_card_reissue_gives_the_card_back(
    services: Services, clock: time_machine.Traveller
) -> None:
    strict = msgspec.structs.replace(
        services.settings.profile, inquiry=InquirySection(max_unanswered=1, answer_days=3)
    )
    public_id = await submitted_application(services)
    card = await make_card(services, email="lost@example.org")
    async with services.db.transaction() as session:
        app = await applicant.get_application(session, public_id)
        app.procedure, app.reissue_reason, app.patron_id = "reissue", "lost", card.patron_id
        loaded = await get_card(session, card.user_number)
        await suspend_card(session, loaded, REPORTED_LOST)
    staff = await make_reviewer(services)
    async with services.db.transaction() as session:
        app = await applicant.get_application(session, public_id)
        await inquiries.ask(session, app, staff, QUESTION, profile=strict, base_url="https://x")
    clock.move_to(tokyo(2026, 4, 7, 0, 1))
    async with services.db.transaction() as session:
        report = await inquiries.expire_inquiries(session, profile=strict)
    assert report.cancelled == [public_id]
    verdict = await services.verifier.by_barcode(card.user_number)
    assert verdict.status == "valid"


async def test_purge_deletes_images_after_the_retention_period(
    services: Services, clock: time_machine.Traveller
) -> None:
    profile = services.settings.profile
    decided = await submitted_application(services, "decided@example.org")
    waiting = await submitted_application(services, "waiting@example.org")
    staff = await make_reviewer(services)
    async with services.db.transaction() as session:
        app = await applicant.get_application(session, decided)
        await review.approve(
            session, app, staff, services.policy, profile=profile, base_url="https://x"
        )

    async def purge() -> int:
        async with services.db.transaction() as session:
            return await purge_documents(session, profile=profile)

    clock.shift(timedelta(days=profile.documents.retention_days) - timedelta(minutes=1))
    assert await purge() == 0
    clock.shift(timedelta(minutes=2))
    assert await purge() == 2
    assert await purge() == 0
    async with services.db.transaction() as session:
        rows = list(await session.scalars(select(ApplicationDocument)))
        app = await applicant.get_application(session, decided)
        detail = await review.application_detail(session, decided)
        with pytest.raises(DocumentPurged):
            await review.document_image(
                session, app, detail.documents[0].id, staff=staff, document_key=b"k" * 32
            )
    gone = [r for r in rows if r.application_id == app.id]
    kept = [r for r in rows if r.application_id != app.id]
    assert len(gone) == 2
    assert all(r.ciphertext is None and r.purged_at is not None for r in gone)
    assert all(d.purged for d in detail.documents)
    assert {(r.doc_type, r.side, r.width) for r in gone} == {
        ("health_insurance", "front", 640),
        ("health_insurance", "back", 640),
    }
    assert len(kept) == 2
    assert all(r.ciphertext is not None for r in kept)
    assert (await load(services, waiting)).status == ApplicationStatus.SUBMITTED
