"""What review staff read besides the queue: applications waiting for the applicant's answer,
and the number a decided application was given."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cardservice.cards.models import Card
from cardservice.registration.models import Application, ApplicationStatus, Inquiry


@dataclass(frozen=True, slots=True, kw_only=True)
class WaitingItem:
    public_id: str
    name: str
    kana: str
    # The open question: when it was asked and the last library date for the answer.
    asked_at: datetime
    answer_by: date
    overdue: bool  # the answer date has passed; the expiry job will count the silence
    inquiries: int  # questions asked so far, the open one included


async def awaiting_answer(session: AsyncSession, today: date) -> list[WaitingItem]:
    """Applications in status ``inquiry``, the one whose answer is due first at the top."""
    latest = (
        select(
            Inquiry.application_id,
            func.max(Inquiry.id).label("latest_id"),
            func.count().label("asked"),
        )
        .group_by(Inquiry.application_id)
        .subquery()
    )
    rows = await session.execute(
        select(Application, Inquiry, latest.c.asked)
        .join(latest, latest.c.application_id == Application.id)
        .join(Inquiry, Inquiry.id == latest.c.latest_id)
        .where(Application.status == ApplicationStatus.INQUIRY)
        .order_by(Inquiry.answer_by, Inquiry.asked_at, Application.id)
    )
    return [
        WaitingItem(
            public_id=app.public_id,
            name=app.display_name,
            kana=f"{app.family_kana}\u3000{app.given_kana}",
            asked_at=inquiry.asked_at,
            answer_by=inquiry.answer_by,
            overdue=inquiry.answer_by < today,
            inquiries=int(asked),
        )
        for app, inquiry, asked in rows
    ]


async def issued_number(session: AsyncSession, app: Application) -> str | None:
    """The user number the approval allocated (None before approval)."""
    if app.card_id is None:
        return None
    card = await session.get(Card, app.card_id)
    return card.user_number if card else None
