"""Review staff's decisions: approve or reject, and viewing the ID images.

Each decision is one unit of work in the caller's transaction: the guarded status change,
the patron and card (on approval), the email to the applicant and the audit entry commit
together or not at all. A new registration is approved here; what approving a reissue,
renewal or change does is in ``decisions.py``, and who such an application is for in
``candidates.py``. Reading the queue and an application is in ``queue.py``; questions to
the applicant are in ``inquiries.py``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cardservice.cards.models import Card
from cardservice.cards.service import CardPolicy
from cardservice.db.base import utcnow
from cardservice.mail.letterhead import letterhead
from cardservice.mail.outbox import OutgoingMail, enqueue
from cardservice.mail.render import Language
from cardservice.patrons.service import NewPatron, create_patron_with_card
from cardservice.profiles.schema import Profile
from cardservice.registration.candidates import ApplicationPatronRequired
from cardservice.registration.decisions import (
    TARGET,
    Approval,
    approve_procedure,
    card_link,
    language_of,
    release_lost_card,
)
from cardservice.registration.errors import (
    ApplicationNotReviewable,
    RejectionReasonInvalid,
    RejectionReasonInvisible,
)
from cardservice.registration.models import Application, ApplicationStatus, RejectionTemplate
from cardservice.registration.queue import (
    ApplicationDetail,
    QueueItem,
    application_detail,
    queue,
)
from cardservice.registration.status import transition
from cardservice.registration.storage import decrypt_document, get_document
from cardservice.staff import audit
from cardservice.staff.models import Role, StaffUser
from cardservice.staff.service import require_role
from cardservice.text import has_invisible, unify_line_breaks

__all__ = [
    "TARGET",
    "ApplicationDetail",
    "QueueItem",
    "application_detail",
    "approve",
    "card_link",
    "document_image",
    "language_of",
    "queue",
    "reject",
    "rejection_templates",
]

REASON_MAX = 2000


async def document_image(
    session: AsyncSession,
    app: Application,
    document_id: int,
    *,
    staff: StaffUser,
    document_key: bytes,
) -> tuple[str, bytes]:
    """``(content_type, image)``; serve it with ``Cache-Control: no-store``. Each view of an
    ID image is audited (which document, never the image)."""
    require_role(staff, Role.REVIEWER)
    row = await get_document(session, app, document_id)
    image = decrypt_document(app, row, document_key)
    await audit.record(
        session,
        staff_id=staff.id,
        action="application.document_view",
        target_type=TARGET,
        target_id=app.public_id,
        detail={"document_id": row.id, "doc_type": row.doc_type, "side": row.side},
    )
    return row.content_type, image


async def approve(
    session: AsyncSession,
    app: Application,
    staff: StaffUser,
    policy: CardPolicy,
    *,
    profile: Profile,
    base_url: str,
    now: datetime | None = None,
) -> Card:
    """Approve, and return the card issued (new registration, reissue), renewed, or whose
    patron's details changed.

    A new registration gets its patron, card and number, the completion email and the audit
    entry; the other procedures do what ``decisions.approve_procedure`` says, and need their
    patron first (:class:`ApplicationPatronRequired`). Only a submitted application
    (answered inquiries included) can be approved; approving a decided one raises
    ``application_already_decided``, so of two reviewers approving at once one wins.
    """
    require_role(staff, Role.REVIEWER)
    now = now or utcnow()
    await transition(
        session,
        app,
        [ApplicationStatus.SUBMITTED],
        ApplicationStatus.APPROVED,
        decided_at=now,
        decided_by=staff.id,
        updated_at=now,
    )
    if app.procedure != "new":
        if app.patron_id is None:  # raised in the transaction, so the status rolls back
            raise ApplicationPatronRequired(public_id=app.public_id)
        app.password_hash = None  # only a new registration takes the password over
        ctx = Approval(staff=staff, policy=policy, profile=profile, base_url=base_url, now=now)
        card = await approve_procedure(session, app, ctx)
        await session.flush()
        return card
    return await _register(session, app, staff, policy, profile, base_url=base_url, now=now)


async def _register(
    session: AsyncSession,
    app: Application,
    staff: StaffUser,
    policy: CardPolicy,
    profile: Profile,
    *,
    base_url: str,
    now: datetime,
) -> Card:
    """A new registration: the patron, their card and number, the completion email."""
    card = await create_patron_with_card(session, _new_patron(app), policy)
    app.patron_id = card.patron_id
    app.card_id = card.id
    app.password_hash = None  # it lives on the patron now
    context = {
        "name": app.person_name,
        "user_number": card.user_number,
        "card_link": card_link(base_url),
        "expires_on": card.expires_on,
        "library": letterhead(profile, language_of(app)),
    }
    mail = OutgoingMail(app.email, "registration_completed", language_of(app), context)
    await enqueue(session, mail, now=now)
    await audit.record(
        session,
        staff_id=staff.id,
        action="application.approve",
        target_type=TARGET,
        target_id=app.public_id,
        detail={"user_number": card.user_number, "patron_id": card.patron_id},
    )
    await session.flush()
    return card


def _new_patron(app: Application) -> NewPatron:
    if app.birth_date is None:  # submit refuses an application without its form
        raise ApplicationNotReviewable(public_id=app.public_id, status=app.status)
    return NewPatron(
        family_name=app.family_name,
        given_name=app.given_name,
        family_kana=app.family_kana,
        given_kana=app.given_kana,
        birth_date=app.birth_date,
        email=app.email,
        phone=app.phone,
        postal_code=app.postal_code,
        prefecture=app.prefecture,
        city=app.city,
        street=app.street,
        building=app.building,
        eligibility_basis=app.basis,
        workplace_or_school=app.workplace_or_school,
        language=app.language,
        password_hash=app.password_hash,
        notifications=dict(app.notifications),
    )


async def rejection_templates(session: AsyncSession) -> list[RejectionTemplate]:
    """The active reasons staff can choose from."""
    rows = await session.scalars(
        select(RejectionTemplate)
        .where(RejectionTemplate.active.is_(True))
        .order_by(RejectionTemplate.id)
    )
    return list(rows)


async def reject(
    session: AsyncSession,
    app: Application,
    staff: StaffUser,
    *,
    profile: Profile,
    template_id: int | None = None,
    text: str | None = None,
    now: datetime | None = None,
) -> None:
    """Reject with a reason the applicant can act on: a template (in their language) or
    ``text`` written by staff. A submitted application, or one waiting for an answer. The
    card a "lost" reissue suspended is reinstated if it is still suspended as reported lost
    (the issue: "On rejection of a lost reissue the old card is reinstated")."""
    require_role(staff, Role.REVIEWER)
    now = now or utcnow()
    language = language_of(app)
    reason, code = await _reason(session, language, template_id, text)
    await transition(
        session,
        app,
        [ApplicationStatus.SUBMITTED, ApplicationStatus.INQUIRY],
        ApplicationStatus.REJECTED,
        decided_at=now,
        decided_by=staff.id,
        decision_reason=reason,
        updated_at=now,
    )
    app.password_hash = None  # never needed again
    reinstated = await release_lost_card(session, app, now=now)
    context = {
        "name": app.person_name,
        "procedure": app.procedure,
        "reason": reason,
        "reinstated_number": reinstated or "",  # a lost card that works again
        "library": letterhead(profile, language),
    }
    mail = OutgoingMail(app.email, "application_rejected", language, context)
    await enqueue(session, mail, now=now)
    await audit.record(
        session,
        staff_id=staff.id,
        action="application.reject",
        target_type=TARGET,
        target_id=app.public_id,
        detail={"template": code, **({"reinstated": reinstated} if reinstated else {})},
    )
    await session.flush()


async def _reason(
    session: AsyncSession, language: Language, template_id: int | None, text: str | None
) -> tuple[str, str | None]:
    """The reason's text and its template code (None for a written reason)."""
    if template_id is not None:
        template = await session.get(RejectionTemplate, template_id)
        if template is None or not template.active:
            raise RejectionReasonInvalid(field="template_id")
        return template.text(language), template.code
    written = unify_line_breaks(text or "").strip()
    if has_invisible(written):
        raise RejectionReasonInvisible(field="text")
    if not written or len(written) > REASON_MAX:
        raise RejectionReasonInvalid(field="text", max=REASON_MAX)
    return written, None
