"""A patron's record at the staff card desk: every card with its status (and the number
that replaced a reissued one), the card events and the patron's applications; and the card
an action is about, locked for the change."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cardservice.cards.models import Card, CardEvent
from cardservice.cards.numbers import NumberFormat, normalise
from cardservice.cards.service import CardNotFound
from cardservice.errors import NotFound
from cardservice.patrons.card_view import CardState, card_state
from cardservice.patrons.models import Patron
from cardservice.registration.models import Application

EVENTS_MAX: Final = 200


class PatronNotFound(NotFound):
    """No patron has this id."""

    code = "patron_not_found"


@dataclass(frozen=True, slots=True)
class CardLine:
    card: Card
    state: CardState
    replaced_by: str | None  # the new number, for a card revoked by a reissue


@dataclass(frozen=True, slots=True)
class PatronRecord:
    patron: Patron
    cards: list[CardLine]  # newest first
    events: list[CardEvent]  # newest first
    applications: list[Application]  # newest first


async def get_patron(session: AsyncSession, patron_id: int) -> Patron:
    patron = await session.get(Patron, patron_id)
    if patron is None:
        raise PatronNotFound(patron_id=patron_id)
    return patron


async def patron_record(session: AsyncSession, patron_id: int, today: date) -> PatronRecord:
    """One patron with their cards (state as of ``today``), card events and applications."""
    patron = await get_patron(session, patron_id)
    cards = list(
        await session.scalars(
            select(Card).where(Card.patron_id == patron_id).order_by(Card.id.desc())
        )
    )
    numbers = {card.id: card.user_number for card in cards}
    events = await session.scalars(
        select(CardEvent)
        .where(CardEvent.patron_id == patron_id)
        .order_by(CardEvent.id.desc())
        .limit(EVENTS_MAX)
    )
    applications = await session.scalars(
        select(Application)
        .where(Application.patron_id == patron_id)
        .order_by(Application.id.desc())
    )
    lines = [
        CardLine(
            card=card,
            state=card_state(card, today),
            replaced_by=numbers.get(card.replaced_by_id) if card.replaced_by_id else None,
        )
        for card in cards
    ]
    return PatronRecord(
        patron=patron, cards=lines, events=list(events), applications=list(applications)
    )


async def patron_card(session: AsyncSession, patron_id: int, card_id: int) -> Card:
    """One of the patron's cards, locked for a change (``CardNotFound`` if not theirs)."""
    card = await session.scalar(
        select(Card).where(Card.id == card_id, Card.patron_id == patron_id).with_for_update()
    )
    if card is None:
        raise CardNotFound(card_id=card_id)
    return card


async def card_by_number(session: AsyncSession, fmt: NumberFormat, raw: str) -> Card:
    """The card with this (typed or scanned) number, locked for a change."""
    number = normalise(fmt, raw)
    card = await session.scalar(select(Card).where(Card.user_number == number).with_for_update())
    if card is None:
        raise CardNotFound(user_number=number)
    return card
