"""Test factories: patrons with cards, made through the same service code as the CLI."""

from __future__ import annotations

from datetime import date

from cardservice.cards.models import Card
from cardservice.patrons.service import NewPatron, create_patron_with_card
from cardservice.services import Services


async def make_card(services: Services, *, email: str = "hanako@example.org") -> Card:
    async with services.db.transaction() as session:
        return await create_patron_with_card(
            session,
            NewPatron(
                family_name="山田",
                given_name="花子",
                family_kana="やまだ",
                given_kana="はなこ",
                birth_date=date(1990, 4, 1),
                email=email,
            ),
            services.policy,
        )
