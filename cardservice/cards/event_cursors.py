"""How far a consumer of card events has read: one row per consumer (``google_wallet``).

Card events (:class:`cardservice.cards.models.CardEvent`) are written in the transaction of
each change. A consumer other than the library system, such as the Google Wallet updates
(``passes/google_sync.py``), reads the events after its cursor and moves the cursor in the
same transaction as what it did, so each event is handled once and in order, and a change
of the card's life cycle needs no code of the consumer's.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, String, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from cardservice.cards.models import CardEvent
from cardservice.db.base import Base


class CardEventCursor(Base):
    __tablename__ = "card_event_cursors"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    # The id of the last card event this consumer has handled; 0 before the first.
    last_event_id: Mapped[int] = mapped_column(BigInteger, default=0)


async def claim_cursor(session: AsyncSession, name: str) -> CardEventCursor:
    """The consumer's cursor, locked for this transaction (FOR UPDATE on PostgreSQL; SQLite
    writes one transaction at a time), made at the newest event on first use, so a consumer
    configured today does not replay the years before it."""
    query = select(CardEventCursor).where(CardEventCursor.name == name).with_for_update()
    cursor = await session.scalar(query)
    if cursor is None:
        # Two workers starting at once both get here: the second insert does nothing.
        newest = await session.scalar(select(CardEvent.id).order_by(CardEvent.id.desc()).limit(1))
        dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        await session.execute(
            insert(CardEventCursor)
            .values(name=name, last_event_id=newest or 0)
            .on_conflict_do_nothing(index_elements=["name"])
        )
        cursor = (await session.scalars(query)).one()
    return cursor


async def events_after(
    session: AsyncSession, cursor: CardEventCursor, *, limit: int
) -> list[CardEvent]:
    """Up to ``limit`` events after the cursor, oldest first."""
    rows = await session.scalars(
        select(CardEvent)
        .where(CardEvent.id > cursor.last_event_id)
        .order_by(CardEvent.id)
        .limit(limit)
    )
    return list(rows)
