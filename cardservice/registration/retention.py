"""Retention: what of an application goes, and when (PRODUCT.md, "Privacy"; APPI).

- **ID images** of a decided application go ``documents.retention_days`` after the decision
  (:func:`purge_documents`). The ciphertext goes; the row stays, with ``purged_at``, so the
  reviewer's record still says which documents were seen.
- **Drafts** never submitted are deleted with their images ``retention.draft_days`` after
  the applicant last changed them (:func:`purge_drafts`): staff never saw them, and nothing
  of them is needed.
- **Rejected and cancelled applications** keep their personal details
  ``retention.closed_application_days`` after the decision; then :func:`erase_closed`
  empties them (:data:`ERASED`) and deletes any image left. What stays, for statistics and
  history: the reference number, public id, procedure, status, language, the dates
  (created, submitted, due, decided, erased), the decision and its reason, who decided,
  the basis of eligibility, the prefecture and the city, and the inquiries' dates.

Each application affected gets a system audit entry. Every step re-checks its condition in
the statement that acts, so two processes running the jobs at once do each thing once.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import ColumnElement, and_, delete, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cardservice.db.base import utcnow
from cardservice.profiles.schema import Profile
from cardservice.registration.models import (
    DECIDED,
    Application,
    ApplicationDocument,
    ApplicationStatus,
    Inquiry,
)
from cardservice.staff import audit

TARGET: Final = "application"
CLOSED: Final = (ApplicationStatus.REJECTED.value, ApplicationStatus.CANCELLED.value)
# The personal details of a closed application, and what they become when erased.
ERASED: Final[dict[str, Any]] = {
    "email": "",
    "family_name": "",
    "given_name": "",
    "family_kana": "",
    "given_kana": "",
    "birth_date": None,
    "postal_code": "",
    "street": "",
    "building": "",
    "phone": "",
    "workplace_or_school": "",
    "notifications": {},
    "password_hash": None,
    "previous": {},
}


async def purge_documents(
    session: AsyncSession, *, profile: Profile, now: datetime | None = None
) -> int:
    """Delete the images of applications decided more than ``documents.retention_days``
    ago; returns how many images were deleted."""
    now = now or utcnow()
    cutoff = now - timedelta(days=profile.documents.retention_days)
    due = await session.execute(
        select(Application.id, Application.public_id)
        .where(
            Application.status.in_([str(s) for s in DECIDED]),
            Application.decided_at < cutoff,
            _has_images(),
        )
        .order_by(Application.id)
    )
    purged = 0
    for app_id, public_id in list(due):
        count = await _purge_images(session, app_id, now)
        if count == 0:  # another process purged them a moment ago
            continue
        purged += count
        await _audit(session, "application.documents_purge", public_id, documents=count)
    return purged


async def purge_drafts(
    session: AsyncSession, *, profile: Profile, now: datetime | None = None
) -> int:
    """Delete drafts (and their images) untouched for ``retention.draft_days``: neither the
    draft nor any of its documents changed since; returns how many drafts were deleted."""
    now = now or utcnow()
    stale = _stale_draft(now - timedelta(days=profile.retention.draft_days))
    due = await session.execute(
        select(Application.id, Application.public_id).where(stale).order_by(Application.id)
    )
    deleted = 0
    for app_id, public_id in list(due):
        # Locked and checked again: the applicant may be saving the draft right now.
        still = await session.scalar(
            select(Application.id).where(Application.id == app_id, stale).with_for_update()
        )
        if still is None:
            continue
        images = await _delete_rows(session, ApplicationDocument, app_id)
        await _delete_rows(session, Inquiry, app_id)
        await session.execute(delete(Application).where(Application.id == app_id))
        deleted += 1
        await _audit(session, "application.draft_purge", public_id, documents=images)
    return deleted


async def erase_closed(
    session: AsyncSession, *, profile: Profile, now: datetime | None = None
) -> int:
    """Erase the personal details (:data:`ERASED`) of applications rejected or cancelled
    more than ``retention.closed_application_days`` ago, with the inquiries' words and any
    image left; returns how many applications were erased."""
    now = now or utcnow()
    cutoff = now - timedelta(days=profile.retention.closed_application_days)
    due_when = and_(
        Application.status.in_(CLOSED),
        Application.decided_at < cutoff,
        Application.personal_data_erased_at.is_(None),
    )
    due = await session.execute(
        select(Application.id, Application.public_id).where(due_when).order_by(Application.id)
    )
    erased = 0
    for app_id, public_id in list(due):
        result = await session.execute(
            update(Application)
            .where(Application.id == app_id, due_when)
            .values(**ERASED, personal_data_erased_at=now)
            .execution_options(synchronize_session=False)
        )
        if _rowcount(result) == 0:  # another process erased it a moment ago
            continue
        await session.execute(
            update(Inquiry)
            .where(Inquiry.application_id == app_id)
            .values(question="", answer_text=None)
            .execution_options(synchronize_session=False)
        )
        images = await _purge_images(session, app_id, now)
        erased += 1
        await _audit(session, "application.personal_data_erase", public_id, documents=images)
    return erased


def _stale_draft(cutoff: datetime) -> ColumnElement[bool]:
    fresh_document = exists().where(
        ApplicationDocument.application_id == Application.id,
        ApplicationDocument.created_at >= cutoff,
    )
    return and_(
        Application.status == ApplicationStatus.DRAFT,
        Application.updated_at < cutoff,
        ~fresh_document,
    )


def _has_images() -> ColumnElement[bool]:
    return exists().where(
        ApplicationDocument.application_id == Application.id,
        ApplicationDocument.purged_at.is_(None),
    )


async def _purge_images(session: AsyncSession, app_id: int, now: datetime) -> int:
    result = await session.execute(
        update(ApplicationDocument)
        .where(
            ApplicationDocument.application_id == app_id,
            ApplicationDocument.purged_at.is_(None),
        )
        .values(ciphertext=None, purged_at=now)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result)


async def _delete_rows(
    session: AsyncSession, model: type[ApplicationDocument] | type[Inquiry], app_id: int
) -> int:
    result = await session.execute(
        delete(model)
        .where(model.application_id == app_id)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result)


def _rowcount(result: object) -> int:
    return int(result.rowcount)  # type: ignore[attr-defined]  # a DML result has rowcount


async def _audit(session: AsyncSession, action: str, public_id: str, *, documents: int) -> None:
    await audit.record(
        session,
        staff_id=None,
        action=action,
        target_type=TARGET,
        target_id=public_id,
        detail={"documents": documents},
    )
