"""What expiry reminders and closure notices share: who opted in, and "at most once" as a
row that only one transaction can insert.

A :class:`NoticeDelivery` row is unique by ``(notice_key, patron_id)``. Claiming inserts the
rows with ``ON CONFLICT DO NOTHING`` (PostgreSQL and SQLite alike) and returns only those this
transaction inserted: two job runs at once never both send. The email is queued in the same
transaction as its claim, so a rolled-back batch neither sends nor keeps its claims.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Literal

from sqlalchemy import ColumnElement, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from cardservice.mail.render import Language
from cardservice.notices.models import NoticeDelivery
from cardservice.patrons.models import Patron

# The Patron.notifications keys this package sends for (registration.form.Notifications).
Choice = Literal["expiry_near", "emergency_closure"]


def opted_in(choice: Choice) -> ColumnElement[bool]:
    """SQL: the patron ticked ``choice`` (a JSON true; missing or false is no)."""
    flag: ColumnElement[bool] = Patron.notifications[choice].as_boolean()
    return flag.is_(True)


def mail_language(patron: Patron) -> Language:
    return "en" if patron.language == "en" else "ja"


async def already_delivered(
    session: AsyncSession, pairs: Iterable[tuple[str, int]]
) -> set[tuple[str, int]]:
    """Which ``(notice_key, patron_id)`` pairs have a delivery row already.

    Checked before claiming so that the rows a frequent job finds again and again do not
    each spend a value of the id sequence on an insert that does nothing."""
    wanted = set(pairs)
    if not wanted:
        return set()
    rows = await session.execute(
        select(NoticeDelivery.notice_key, NoticeDelivery.patron_id).where(
            NoticeDelivery.notice_key.in_({key for key, _ in wanted}),
            NoticeDelivery.patron_id.in_({patron for _, patron in wanted}),
        )
    )
    return {(key, patron) for key, patron in rows} & wanted


async def claim(
    session: AsyncSession, pairs: Iterable[tuple[str, int]], *, now: datetime
) -> set[tuple[str, int]]:
    """Insert-or-skip a delivery row per ``(notice_key, patron_id)``; the pairs this
    transaction inserted, i.e. the patrons it alone must now send to."""
    # Always in one order, so two transactions claiming overlapping rows wait for each
    # other instead of deadlocking.
    ordered = sorted(set(pairs), key=lambda pair: (pair[1], pair[0]))
    values = [
        {"notice_key": key, "patron_id": patron, "created_at": now} for key, patron in ordered
    ]
    if not values:
        return set()
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(NoticeDelivery)
        .values(values)
        .on_conflict_do_nothing(index_elements=["notice_key", "patron_id"])
        .returning(NoticeDelivery.notice_key, NoticeDelivery.patron_id)
    )
    return {(key, patron) for key, patron in await session.execute(statement)}
