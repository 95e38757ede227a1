"""Atomic user-number allocation.

One row per number space holds the next serial. ``UPDATE ... SET next_serial = next_serial + 1
RETURNING`` takes the row lock on PostgreSQL and the write lock on SQLite, so concurrent
approvals each get their own serial, and a rolled-back approval never hands its number to
anyone else twice (the counter only grows; a gap is harmless, a repeat is not).

Numbers this service did not allocate (a library system's plastic cards, loaded by the
patron import) live in the same space. The import raises the sequence past the highest
serial it stores (:func:`reserve_through`, in the import's own transaction), and the
allocator also steps over any number a card already holds, so an imported number is never
handed out again, whatever order things happened in.
"""

from __future__ import annotations

from sqlalchemy import case, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from cardservice.cards.models import Card, NumberSequence
from cardservice.cards.numbers import NumberFormat, capacity, compose
from cardservice.errors import Conflict

FIRST_SERIAL = 1


class NumberSpaceExhausted(Conflict):
    """Every user number of this format has been handed out; widen the format."""

    code = "number_space_exhausted"


def sequence_name(fmt: NumberFormat) -> str:
    """Numbers with the same prefix and length share one space, whatever the check scheme."""
    return f"{fmt.prefix}/{fmt.length}"


def serial_of(fmt: NumberFormat, number: str) -> int:
    """The serial inside a canonical user number of ``fmt`` (the inverse of ``compose``)."""
    start = len(fmt.prefix)
    return int(number[start : start + fmt.serial_digits])


async def allocate_number(session: AsyncSession, fmt: NumberFormat) -> str:
    """The next user number no card holds yet, inside the caller's transaction.

    Raises :class:`NumberSpaceExhausted` when the format has no serial left.
    """
    while True:
        serial = await _take_serial(session, sequence_name(fmt))
        if serial is None:
            await _create_sequence(session, sequence_name(fmt))
            serial = await _take_serial(session, sequence_name(fmt))
        if serial is None or serial >= capacity(fmt):
            raise NumberSpaceExhausted(f"no user numbers left with prefix {fmt.prefix!r}")
        number = compose(fmt, serial)
        # Normally one indexed miss; a hit is a number loaded from the library system.
        if await session.scalar(select(Card.id).where(Card.user_number == number)) is None:
            return number


async def reserve_through(session: AsyncSession, fmt: NumberFormat, serial: int) -> None:
    """Make sure the sequence of ``fmt`` never hands out ``serial`` or any serial below it
    (the patron import calls this with the highest serial it stores). It only ever raises
    the sequence, in the caller's transaction."""
    name = sequence_name(fmt)
    await _create_sequence(session, name)
    await session.execute(
        update(NumberSequence)
        .where(NumberSequence.name == name)
        .values(
            next_serial=case(
                (NumberSequence.next_serial <= serial, serial + 1),
                else_=NumberSequence.next_serial,
            )
        )
    )


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
