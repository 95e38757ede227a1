"""Creating patrons. Registration approval and the CLI both come through here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from cardservice.cards.lifecycle import record_event
from cardservice.cards.models import Card, CardEventKind
from cardservice.cards.service import CardPolicy, issue_card
from cardservice.mail.addresses import normalise_address
from cardservice.patrons.models import Patron, PatronSource
from cardservice.patrons.names import normalise_kana


@dataclass(frozen=True, slots=True, kw_only=True)
class NewPatron:
    family_name: str
    given_name: str
    family_kana: str
    given_kana: str
    birth_date: date
    email: str
    phone: str = ""
    postal_code: str = ""
    prefecture: str = ""
    city: str = ""
    street: str = ""
    building: str = ""
    eligibility_basis: str = "lives"
    workplace_or_school: str = ""
    language: str = "ja"
    password_hash: str | None = None
    notifications: dict[str, Any] = field(default_factory=dict)
    source: PatronSource = PatronSource.ONLINE


async def create_patron_with_card(
    session: AsyncSession, new: NewPatron, policy: CardPolicy
) -> Card:
    """The patron and their first card, in the caller's transaction."""
    patron = Patron(
        family_name=new.family_name.strip(),
        given_name=new.given_name.strip(),
        family_kana=normalise_kana(new.family_kana, field="family_kana"),
        given_kana=normalise_kana(new.given_kana, field="given_kana"),
        birth_date=new.birth_date,
        email=normalise_address(new.email) if new.email.strip() else "",
        phone=new.phone,
        postal_code=new.postal_code,
        prefecture=new.prefecture,
        city=new.city,
        street=new.street,
        building=new.building,
        eligibility_basis=new.eligibility_basis,
        workplace_or_school=new.workplace_or_school,
        language=new.language,
        password_hash=new.password_hash,
        notifications=dict(new.notifications),
        source=new.source,
    )
    session.add(patron)
    await session.flush()
    card = await issue_card(session, patron.id, policy)
    # "Patron registered" for the library system (``events``), with the card it got.
    await record_event(session, CardEventKind.ISSUED, card, now=card.issued_at)
    return card
