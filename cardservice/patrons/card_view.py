"""What the card page shows: the patron's current card, its state, and its two symbols.

The barcode carries the user number the way the library's scanners expect it (NW-7 with
its start/stop characters, or Code 128 with the bare number); the QR code carries the
signed card token. Both are SVG, so the page holds them inline and needs nothing else to
show the card offline.

Which codes a card shows follows its state: an active or suspended card shows both (the
counter scanner then tells staff about the suspension); an expired card shows the barcode
so that staff can find it for a renewal, but no QR code, because a card token cannot be
signed for an expiry that has passed; a revoked card shows neither, since its number no
longer borrows anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum

from sqlalchemy import case, select
from sqlalchemy.ext.asyncio import AsyncSession

from cardservice.calendar import local_today
from cardservice.cards.barcodes import BarcodeRenderer, Symbology
from cardservice.cards.keys import Keyring
from cardservice.cards.models import Card, CardStatus
from cardservice.cards.numbers import barcode_value
from cardservice.cards.service import CardPolicy, card_token


class CardState(StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    SUSPENDED = "suspended"
    REVOKED = "revoked"


@dataclass(frozen=True, slots=True)
class CardFace:
    user_number: str
    expires_on: date
    state: CardState
    reason: str | None
    barcode_svg: str | None
    qr_svg: str | None


@dataclass(frozen=True, slots=True)
class CardIssuer:
    """What signing a card token needs."""

    keyring: Keyring
    issuer: str
    audience: str


async def current_card(session: AsyncSession, patron_id: int) -> Card | None:
    """The newest card that is not revoked; else the newest revoked one; else None."""
    revoked_last = case((Card.status == CardStatus.REVOKED, 1), else_=0)
    card: Card | None = await session.scalar(
        select(Card)
        .where(Card.patron_id == patron_id)
        .order_by(revoked_last, Card.issued_at.desc(), Card.id.desc())
        .limit(1)
    )
    return card


def card_state(card: Card, today: date) -> CardState:
    """Revoked and suspended are stored; expired is worked out from the library's date."""
    if card.status == CardStatus.REVOKED:
        return CardState.REVOKED
    if card.status == CardStatus.SUSPENDED:
        return CardState.SUSPENDED
    if card.expires_on < today:
        return CardState.EXPIRED
    return CardState.ACTIVE


async def card_face(
    card: Card,
    *,
    symbology: Symbology | str,
    policy: CardPolicy,
    renderer: BarcodeRenderer,
    issuer: CardIssuer,
    now: datetime | None = None,
) -> CardFace:
    now = now or datetime.now(UTC)
    today = local_today(policy.timezone, now)
    state = card_state(card, today)
    barcode_svg = qr_svg = None
    if state is not CardState.REVOKED:
        text = barcode_value(symbology, policy.number_format, card.user_number)
        rendered = await renderer.render_async(symbology, text, "svg", human_readable=True)
        barcode_svg = rendered.body.decode()
    # A suspended card may also have expired: then there is no token to sign either.
    if state in (CardState.ACTIVE, CardState.SUSPENDED) and card.expires_on >= today:
        token = card_token(
            card,
            issuer.keyring,
            policy,
            issuer=issuer.issuer,
            audience=issuer.audience,
            now=now,
        )
        qr = await renderer.render_async(Symbology.QR, token, "svg", human_readable=False)
        qr_svg = qr.body.decode()
    return CardFace(
        user_number=card.user_number,
        expires_on=card.expires_on,
        state=state,
        reason=card.status_reason,
        barcode_svg=barcode_svg,
        qr_svg=qr_svg,
    )
