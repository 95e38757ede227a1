"""Status changes guarded by the status itself.

Each change is one ``UPDATE ... WHERE id = ? AND status IN (...)``: of two reviewers
approving at once (or a reviewer and the expiry job), exactly one changes the row; the
other finds the status moved on and gets a conflict, inside a transaction that then rolls
back whatever else it did.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from cardservice.registration.errors import ApplicationAlreadyDecided, ApplicationNotReviewable
from cardservice.registration.models import DECIDED, Application, ApplicationStatus


async def transition(
    session: AsyncSession,
    app: Application,
    allowed: Collection[ApplicationStatus],
    to: ApplicationStatus,
    **values: Any,
) -> None:
    """Move ``app`` to ``to`` if it is in one of ``allowed``; refreshes ``app`` either way."""
    changed = await session.scalar(
        update(Application)
        .where(Application.id == app.id, Application.status.in_([str(s) for s in allowed]))
        .values(status=to, **values)
        .returning(Application.id)
        .execution_options(synchronize_session=False)
    )
    await session.refresh(app)
    if changed is None:
        if app.status in DECIDED:
            raise ApplicationAlreadyDecided(public_id=app.public_id, status=app.status)
        raise ApplicationNotReviewable(public_id=app.public_id, status=app.status)
