"""The job that deletes ID images once their application is decided and the profile's
retention period (``documents.retention_days``) has passed.

The ciphertext goes; the row stays, with ``purged_at``, so the reviewer's record still says
which documents were seen. Each application whose images go gets a system audit entry.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cardservice.db.base import utcnow
from cardservice.profiles.schema import Profile
from cardservice.registration.models import DECIDED, Application, ApplicationDocument
from cardservice.staff import audit

TARGET = "application"


async def purge_documents(
    session: AsyncSession, *, profile: Profile, now: datetime | None = None
) -> int:
    """Delete the images of applications decided more than the retention period ago;
    returns how many images were deleted."""
    now = now or utcnow()
    cutoff = now - timedelta(days=profile.documents.retention_days)
    due = await session.execute(
        select(Application.id, Application.public_id)
        .where(
            Application.status.in_([str(s) for s in DECIDED]),
            Application.decided_at < cutoff,
            select(ApplicationDocument.id)
            .where(
                ApplicationDocument.application_id == Application.id,
                ApplicationDocument.purged_at.is_(None),
            )
            .exists(),
        )
        .order_by(Application.id)
    )
    purged = 0
    for app_id, public_id in list(due):
        result = await session.execute(
            update(ApplicationDocument)
            .where(
                ApplicationDocument.application_id == app_id,
                ApplicationDocument.purged_at.is_(None),
            )
            .values(ciphertext=None, purged_at=now)
            .execution_options(synchronize_session=False)
        )
        count = int(result.rowcount)  # type: ignore[attr-defined]  # a DML result has rowcount
        if count == 0:  # another process purged them a moment ago
            continue
        purged += count
        await audit.record(
            session,
            staff_id=None,
            action="application.documents_purge",
            target_type=TARGET,
            target_id=public_id,
            detail={"documents": count},
        )
    return purged
