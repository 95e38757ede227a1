"""Atomic user-number allocation.

One row per number space holds the next serial. ``UPDATE ... SET next_serial = next_serial + 1
RETURNING`` takes the row lock on PostgreSQL and the write lock on SQLite, so concurrent
approvals each get their own serial, and a rolled-back approval never hands its number to
anyone else twice (the counter only grows; a gap is harmless, a repeat is not).
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from cardservice.cards.models import NumberSequence
from cardservice.cards.numbers import NumberFormat, capacity, compose
from cardservice.errors import Conflict

FIRST_SERIAL = 1


class NumberSpaceExhausted(Conflict):
    """Every user number of this format has been handed out; widen the format."""

    code = "number_space_exhausted"


def sequence_name(fmt: NumberFormat) -> str:
    """Numbers with the same prefix and length share one space, whatever the check scheme."""
    return f"{fmt.prefix}/{fmt.length}"


async def allocate_number(session: AsyncSession, fmt: NumberFormat) -> str:
    """The next user number, inside the caller's transaction."""
    serial = await _take_serial(session, sequence_name(fmt))
    if serial is None:
        await _create_sequence(session, sequence_name(fmt))
        serial = await _take_serial(session, sequence_name(fmt))
    if serial is None or serial >= capacity(fmt):
        raise NumberSpaceExhausted(f"no user numbers left with prefix {fmt.prefix!r}")
    return compose(fmt, serial)


async def _take_serial(session: AsyncSession, name: str) -> int | None:
    result = await session.execute(
        update(NumberSequence)
        .where(NumberSequence.name == name)
        .values(next_serial=NumberSequence.next_serial + 1)
        .returning(NumberSequence.next_serial)
    )
    after = result.scalar_one_or_none()
    return None if after is None else after - 1


async def _create_sequence(session: AsyncSession, name: str) -> None:
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    await session.execute(
        insert(NumberSequence)
        .values(name=name, next_serial=FIRST_SERIAL)
        .on_conflict_do_nothing(index_elements=["name"])
    )
