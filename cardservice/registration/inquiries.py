"""Questions from review staff, answered by the applicant through a one-time link, and the
job that ends applications whose questions go unanswered.

The rules, with the profile's ``[inquiry]`` settings:

- Staff ask a submitted application a question; it waits (status ``inquiry``) for the
  answer until ``answer_by``, ``answer_days`` calendar days after the library date it was
  asked. The answer link expires at the end of that day.
- An answer puts the application back in the queue and resets its unanswered count.
- When ``answer_by`` passes without an answer, the question has gone unanswered: the count
  goes up. At ``max_unanswered`` the application is cancelled and the applicant told;
  below it, the application returns to the queue (flagged) so staff can ask again or
  decide. With ``max_unanswered = 1`` the first silence cancels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cardservice.calendar import OpeningCalendar, end_of_day, local_today
from cardservice.db.base import utcnow
from cardservice.mail.letterhead import letterhead
from cardservice.mail.outbox import OutgoingMail, enqueue
from cardservice.profiles.schema import Profile
from cardservice.registration.decisions import release_lost_card
from cardservice.registration.documents import CleanImage
from cardservice.registration.errors import (
    ApplicationAlreadyDecided,
    ApplicationNotReviewable,
    InquiryNotOpen,
    InquiryTextInvalid,
    InquiryTextInvisible,
)
from cardservice.registration.models import Application, ApplicationStatus, Inquiry
from cardservice.registration.review import TARGET, language_of
from cardservice.registration.status import transition
from cardservice.registration.storage import list_documents, store_document
from cardservice.security.links import LinkInvalid, LinkPurpose, consume, issue, peek
from cardservice.staff import audit
from cardservice.staff.models import Role, StaffUser
from cardservice.staff.service import require_role
from cardservice.text import has_invisible, unify_line_breaks

QUESTION_MAX = 2000
ANSWER_MAX = 4000
CANCEL_REASON = "inquiry_unanswered"
_SUBJECT_PREFIX = "inquiry:"


def answer_link(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/apply/answer/{token}"


@dataclass(frozen=True, slots=True)
class AnswerDocument:
    """A new image sent with an answer (a retaken photo, the other side)."""

    doc_type: str
    side: str
    image: CleanImage = field(repr=False)  # checked before the transaction (images.ImagePool)


@dataclass(frozen=True, slots=True)
class OpenInquiry:
    """What the answer page shows."""

    public_id: str
    name: str
    question: str
    answer_by: date


@dataclass(slots=True)
class ExpiryReport:
    returned_to_queue: list[str] = field(default_factory=list)  # public ids
    cancelled: list[str] = field(default_factory=list)


async def ask(
    session: AsyncSession,
    app: Application,
    staff: StaffUser,
    question: str,
    *,
    profile: Profile,
    base_url: str,
    now: datetime | None = None,
) -> Inquiry:
    """Ask the applicant ``question`` by email, with a link to answer through."""
    require_role(staff, Role.REVIEWER)
    now = now or utcnow()
    text = _text(question, QUESTION_MAX, "question")
    tz = ZoneInfo(profile.library.timezone)
    answer_by = local_today(tz, now) + timedelta(days=profile.inquiry.answer_days)
    await transition(
        session,
        app,
        [ApplicationStatus.SUBMITTED],
        ApplicationStatus.INQUIRY,
        last_inquiry_at=now,
        updated_at=now,
    )
    inquiry = Inquiry(
        application_id=app.id, question=text, asked_by=staff.id, asked_at=now, answer_by=answer_by
    )
    session.add(inquiry)
    await session.flush()
    ttl = end_of_day(answer_by, tz) - now
    subject = f"{_SUBJECT_PREFIX}{inquiry.id}"
    token = await issue(session, LinkPurpose.INQUIRY_ANSWER, subject, ttl, now=now)
    context = {
        "name": app.person_name,
        "procedure": app.procedure,
        "question": text,
        "answer_link": answer_link(base_url, token),
        "answer_by": answer_by,
        "library": letterhead(profile, language_of(app)),
    }
    await enqueue(session, OutgoingMail(app.email, "inquiry", language_of(app), context), now=now)
    await audit.record(
        session,
        staff_id=staff.id,
        action="application.inquiry",
        target_type=TARGET,
        target_id=app.public_id,
        detail={"inquiry_id": inquiry.id, "answer_by": answer_by.isoformat()},
    )
    return inquiry


async def open_inquiry(
    session: AsyncSession, token: str, *, now: datetime | None = None
) -> OpenInquiry:
    """The question behind an answer link, without using the link (for the answer page)."""
    link = await peek(session, LinkPurpose.INQUIRY_ANSWER, token, now=now)
    inquiry, app = await _inquiry_and_application(session, link.subject)
    return OpenInquiry(app.public_id, app.display_name, inquiry.question, inquiry.answer_by)


async def answer(
    session: AsyncSession,
    token: str,
    text: str,
    *,
    profile: Profile,
    document_key: bytes,
    document: AnswerDocument | None = None,
    now: datetime | None = None,
) -> Application:
    """The applicant's answer through the link: back to the queue, with a new due date."""
    now = now or utcnow()
    link = await consume(session, LinkPurpose.INQUIRY_ANSWER, token, now=now)
    inquiry, app = await _inquiry_and_application(session, link.subject)
    if inquiry.answered_at is not None or app.status != ApplicationStatus.INQUIRY:
        raise InquiryNotOpen(public_id=app.public_id)
    written = unify_line_breaks(text).strip()
    if has_invisible(written):
        raise InquiryTextInvisible(field="answer")
    if len(written) > ANSWER_MAX or (not written and document is None):
        raise InquiryTextInvalid(field="answer", max=ANSWER_MAX)
    calendar = OpeningCalendar.from_profile(profile.calendar)
    today = local_today(ZoneInfo(profile.library.timezone), now)
    due_on = calendar.add_opening_days(today, profile.review.deadline_opening_days)
    inquiry.answered_at = now
    inquiry.answer_text = written
    # The history says which image the answer brought, and whether it took another's place.
    detail: dict[str, object] = {"inquiry_id": inquiry.id, "with_document": document is not None}
    if document is not None:
        slot = (document.doc_type, document.side)
        existing = await list_documents(session, app)
        detail |= {
            "doc_type": document.doc_type,
            "side": document.side,
            "replaced": any((d.doc_type, d.side) == slot for d in existing),
        }
        await store_document(
            session,
            app,
            doc_type=document.doc_type,
            side=document.side,
            image=document.image,
            documents=profile.documents,
            document_key=document_key,
            now=now,
            counted=False,  # asked for by the reviewer: never refused for the file count
        )
    await transition(
        session,
        app,
        [ApplicationStatus.INQUIRY],
        ApplicationStatus.SUBMITTED,
        unanswered_inquiries=0,
        due_on=due_on,
        updated_at=now,
    )
    await audit.record(
        session,
        staff_id=None,
        action="application.answer",
        target_type=TARGET,
        target_id=app.public_id,
        detail=detail,
    )
    return app


async def _inquiry_and_application(
    session: AsyncSession, subject: str
) -> tuple[Inquiry, Application]:
    inquiry_id = subject.removeprefix(_SUBJECT_PREFIX)
    inquiry = await session.get(Inquiry, int(inquiry_id)) if inquiry_id.isdigit() else None
    app = await session.get(Application, inquiry.application_id) if inquiry else None
    if inquiry is None or app is None:
        raise LinkInvalid("This link is not known.", code="link_unknown")
    return inquiry, app


def _text(raw: str, max_length: int, field: str) -> str:
    text = unify_line_breaks(raw).strip()
    if has_invisible(text):
        raise InquiryTextInvisible(field=field)
    if not text or len(text) > max_length:
        raise InquiryTextInvalid(field=field, max=max_length)
    return text


async def expire_inquiries(
    session: AsyncSession, *, profile: Profile, now: datetime | None = None
) -> ExpiryReport:
    """The job: questions past their date count as unanswered; at the profile's limit the
    application is cancelled and the applicant emailed, below it it returns to the queue."""
    now = now or utcnow()
    today = local_today(ZoneInfo(profile.library.timezone), now)
    report = ExpiryReport()
    waiting = await session.scalars(
        select(Application)
        .where(Application.status == ApplicationStatus.INQUIRY)
        .order_by(Application.id)
    )
    for app in list(waiting):
        latest = await session.scalar(
            select(Inquiry)
            .where(Inquiry.application_id == app.id)
            .order_by(Inquiry.id.desc())
            .limit(1)
        )
        if latest is None or latest.answered_at is not None or latest.answer_by >= today:
            continue
        try:
            cancelled = await _lapse(session, app, latest, profile, now)
        except (ApplicationAlreadyDecided, ApplicationNotReviewable):
            # Answered or decided since it was read: its status guard changed nothing.
            continue
        (report.cancelled if cancelled else report.returned_to_queue).append(app.public_id)
    return report


async def _lapse(
    session: AsyncSession, app: Application, inquiry: Inquiry, profile: Profile, now: datetime
) -> bool:
    """Count the silence; cancel at the limit. True when the application was cancelled."""
    unanswered = app.unanswered_inquiries + 1
    detail: dict[str, str | int]
    if unanswered < profile.inquiry.max_unanswered:
        await transition(
            session,
            app,
            [ApplicationStatus.INQUIRY],
            ApplicationStatus.SUBMITTED,
            unanswered_inquiries=unanswered,
            updated_at=now,
        )
        action, detail = "application.inquiry_lapsed", {"inquiry_id": inquiry.id}
    else:
        await transition(
            session,
            app,
            [ApplicationStatus.INQUIRY],
            ApplicationStatus.CANCELLED,
            unanswered_inquiries=unanswered,
            decided_at=now,
            decision_reason=CANCEL_REASON,
            password_hash=None,
            updated_at=now,
        )
        # A cancelled "lost" reissue gives the patron their suspended card back.
        await release_lost_card(session, app, now=now)
        language = language_of(app)
        context = {
            "name": app.person_name,
            "procedure": app.procedure,
            "answer_by": inquiry.answer_by,
            "library": letterhead(profile, language),
        }
        mail = OutgoingMail(app.email, "application_cancelled", language, context)
        await enqueue(session, mail, now=now)
        action, detail = "application.cancel", {"reason": CANCEL_REASON}
    await audit.record(
        session,
        staff_id=None,
        action=action,
        target_type=TARGET,
        target_id=app.public_id,
        detail={**detail, "unanswered_inquiries": unanswered},
    )
    return action == "application.cancel"
