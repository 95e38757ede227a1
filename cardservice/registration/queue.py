"""What review staff read: the queue in due-date order, each with its procedure and what
needs attention first, and one application in full with its documents, inquiries and
possible duplicates (same kana name and birth date). A procedure's own checks are in
``checks.py``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Final, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cardservice.calendar import OpeningCalendar, local_today
from cardservice.cards.models import Card
from cardservice.profiles.schema import Profile
from cardservice.registration.applicant import get_application
from cardservice.registration.candidates import (
    card_holder_applications,
    same_name_birth,
    same_person,
)
from cardservice.registration.models import (
    Application,
    ApplicationDocument,
    ApplicationStatus,
    Inquiry,
)
from cardservice.registration.storage import list_documents


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueItem:
    public_id: str
    name: str
    kana: str
    submitted_at: datetime
    due_on: date
    overdue: bool
    # Opening days since submission (the day of submission not counted).
    waiting_opening_days: int
    # The applicant answered a question since it was submitted.
    answered_inquiries: int
    # Questions that went unanswered past their date (see ``inquiries.py``).
    unanswered_inquiries: int
    procedure: str = "new"
    reissue_reason: str | None = None
    # A procedure started without logging in: the reviewer must pick the patron.
    patron_missing: bool = False
    # A new registration by someone who already holds a card (``candidates.py``).
    card_holder: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class DocumentInfo:
    id: int
    doc_type: str
    side: str
    content_type: str
    width: int
    height: int
    created_at: datetime
    purged: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class PossibleDuplicate:
    kind: Literal["patron", "application"]
    ref: str  # the patron id, or the other application's public id
    name: str
    email: str
    status: str  # the application's status; "registered" for a patron
    user_numbers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ApplicationDetail:
    application: Application
    documents: list[DocumentInfo]
    inquiries: list[Inquiry]
    duplicates: list[PossibleDuplicate]


# The queue's order: the earliest due date first, then the earliest submitted.
_QUEUE_ORDER: Final = (Application.due_on, Application.submitted_at, Application.id)


async def next_in_queue(session: AsyncSession) -> str | None:
    """The public id of the application at the head of the queue (the order of
    :func:`queue`), or None when no application waits for a decision."""
    return await session.scalar(
        select(Application.public_id)
        .where(Application.status == ApplicationStatus.SUBMITTED)
        .order_by(*_QUEUE_ORDER)
        .limit(1)
    )


async def queue(session: AsyncSession, today: date, *, profile: Profile) -> list[QueueItem]:
    """Applications waiting for a decision, the most urgent first."""
    calendar = OpeningCalendar.from_profile(profile.calendar)
    tz = ZoneInfo(profile.library.timezone)
    answered = (
        select(Inquiry.application_id, func.count().label("n"))
        .where(Inquiry.answered_at.is_not(None))
        .group_by(Inquiry.application_id)
        .subquery()
    )
    rows = await session.execute(
        select(Application, func.coalesce(answered.c.n, 0))
        .outerjoin(answered, answered.c.application_id == Application.id)
        .where(Application.status == ApplicationStatus.SUBMITTED)
        .order_by(*_QUEUE_ORDER)
    )
    found = list(rows)
    holders = await card_holder_applications(session, [app.id for app, _ in found])
    items = []
    for app, answers in found:
        if app.submitted_at is None or app.due_on is None:  # never for a submitted one
            continue
        submitted_on = local_today(tz, app.submitted_at)
        items.append(
            QueueItem(
                public_id=app.public_id,
                name=app.display_name,
                kana=f"{app.family_kana}\u3000{app.given_kana}",
                submitted_at=app.submitted_at,
                due_on=app.due_on,
                overdue=app.due_on < today,
                waiting_opening_days=calendar.opening_days_between(submitted_on, today),
                answered_inquiries=int(answers),
                unanswered_inquiries=app.unanswered_inquiries,
                procedure=app.procedure,
                reissue_reason=app.reissue_reason,
                patron_missing=app.procedure != "new" and app.patron_id is None,
                card_holder=app.id in holders,
            )
        )
    return items


async def application_detail(session: AsyncSession, public_id: str) -> ApplicationDetail:
    app = await get_application(session, public_id)
    documents = [_document_info(row) for row in await list_documents(session, app)]
    inquiries = await session.scalars(
        select(Inquiry).where(Inquiry.application_id == app.id).order_by(Inquiry.id)
    )
    return ApplicationDetail(
        application=app,
        documents=documents,
        inquiries=list(inquiries),
        duplicates=await possible_duplicates(session, app),
    )


def _document_info(row: ApplicationDocument) -> DocumentInfo:
    return DocumentInfo(
        id=row.id,
        doc_type=row.doc_type,
        side=row.side,
        content_type=row.content_type,
        width=row.width,
        height=row.height,
        created_at=row.created_at,
        purged=row.ciphertext is None,
    )


async def possible_duplicates(session: AsyncSession, app: Application) -> list[PossibleDuplicate]:
    """Patrons and other (non-draft) applications with the same kana name (its reading:
    ``patrons.names.reading_key``, so サイトウ and サイトー alike) and birth date."""
    if app.birth_date is None:
        return []
    kana = (app.family_kana, app.given_kana)
    # Once approved, the application's own patron is no duplicate of it.
    patrons = await same_name_birth(session, kana, app.birth_date, exclude=app.patron_id or 0)
    numbers: dict[int, list[str]] = {}
    if patrons:
        cards = await session.execute(
            select(Card.patron_id, Card.user_number)
            .where(Card.patron_id.in_([p.id for p in patrons]))
            .order_by(Card.id)
        )
        for patron_id, number in cards:
            numbers.setdefault(patron_id, []).append(number)
    born = await session.scalars(
        select(Application)
        .where(
            Application.id != app.id,
            Application.status != ApplicationStatus.DRAFT,
            Application.birth_date == app.birth_date,
        )
        .order_by(Application.id)
    )
    others = [o for o in born if same_person(kana, app.birth_date, _kana(o), o.birth_date)]
    found = [
        PossibleDuplicate(
            kind="patron",
            ref=str(p.id),
            name=f"{p.family_name} {p.given_name}",
            email=p.email,
            status="registered",
            user_numbers=tuple(numbers.get(p.id, ())),
        )
        for p in patrons
    ]
    found += [
        PossibleDuplicate(
            kind="application",
            ref=o.public_id,
            name=o.display_name,
            email=o.email,
            status=o.status,
        )
        for o in others
    ]
    return found


def _kana(app: Application) -> tuple[str, str]:
    return (app.family_kana, app.given_kana)
