"""User numbers are unique under concurrency and never handed out twice, on both engines."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from cardservice.cards.allocation import NumberSpaceExhausted, allocate_number
from cardservice.cards.checkdigits import CheckScheme
from cardservice.cards.models import Card, RevocationReason
from cardservice.cards.numbers import NumberFormat, normalise
from cardservice.cards.service import revoke_card
from cardservice.services import Services
from tests.factories import make_card


async def test_200_concurrent_allocations_are_distinct(services: Services) -> None:
    fmt = services.policy.number_format

    async def one() -> str:
        async with services.db.transaction() as session:
            return await allocate_number(session, fmt)

    numbers = await asyncio.gather(*(one() for _ in range(200)))
    assert len(set(numbers)) == 200
    for number in numbers:
        assert normalise(fmt, number) == number  # each carries a valid check digit


async def test_revoked_number_never_comes_back(services: Services) -> None:
    first = await make_card(services)
    async with services.db.transaction() as session:
        card = await session.get(Card, first.id)
        assert card is not None
        await revoke_card(session, card, RevocationReason.LOST, services.policy)
    later = [await make_card(services, email=f"p{i}@example.org") for i in range(5)]
    assert first.user_number not in {card.user_number for card in later}
    async with services.db.transaction() as session:
        all_numbers = list(await session.scalars(select(Card.user_number)))
    assert len(all_numbers) == len(set(all_numbers)) == 6


async def test_exhausted_number_space_is_a_clear_error(services: Services) -> None:
    tiny = NumberFormat(prefix="99", length=4, scheme=CheckScheme.LUHN)  # serials 0..9
    async with services.db.transaction() as session:
        numbers = [await allocate_number(session, tiny) for _ in range(9)]
    assert len(set(numbers)) == 9
    with pytest.raises(NumberSpaceExhausted) as caught:
        async with services.db.transaction() as session:
            await allocate_number(session, tiny)
    assert caught.value.code == "number_space_exhausted"
