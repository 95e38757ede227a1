"""What the card page shows, on both engines: which card, its state, which codes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from cardservice.cards.barcodes import BarcodeRenderer
from cardservice.cards.models import Card, CardStatus, RevocationReason
from cardservice.cards.numbers import barcode_value, compose
from cardservice.cards.service import CardPolicy, issue_card, revoke_card, set_suspended
from cardservice.patrons.card_view import (
    CardFace,
    CardIssuer,
    CardState,
    card_face,
    card_state,
    current_card,
)
from cardservice.profiles import load_profile
from cardservice.services import Services
from tests.factories import make_card

NOW = datetime(2031, 6, 1, 3, tzinfo=UTC)  # noon in Japan
TODAY = date(2031, 6, 1)


def issuer(services: Services) -> CardIssuer:
    return CardIssuer(
        keyring=services.keyring,
        issuer=services.settings.issuer,
        audience=services.settings.token_audience,
    )


async def face_of(services: Services, card: Card, symbology: str = "codabar") -> CardFace:
    return await card_face(
        card,
        symbology=symbology,
        policy=services.policy,
        renderer=BarcodeRenderer(),
        issuer=issuer(services),
        now=NOW,
    )


async def test_newest_card_that_is_not_revoked(services: Services) -> None:
    first = await make_card(services)
    async with services.db.transaction() as session:
        assert (await current_card(session, first.patron_id)) is not None
        second = await issue_card(session, first.patron_id, services.policy)
        newest = await current_card(session, first.patron_id)
        assert newest is not None
        assert newest.id == second.id
        await revoke_card(session, second, RevocationReason.LOST, services.policy)
        back = await current_card(session, first.patron_id)
        assert back is not None
        assert back.id == first.id  # the older one still holds
        stored_first = await session.get(Card, first.id)
        assert stored_first is not None
        await revoke_card(session, stored_first, RevocationReason.LOST, services.policy)
        only_revoked = await current_card(session, first.patron_id)
        assert only_revoked is not None
        assert only_revoked.status == CardStatus.REVOKED
        assert (await current_card(session, first.patron_id + 999)) is None


@pytest.mark.parametrize(
    ("status", "expires_on", "state"),
    [
        (CardStatus.ACTIVE, TODAY, CardState.ACTIVE),  # valid through its last day
        (CardStatus.ACTIVE, TODAY - timedelta(days=1), CardState.EXPIRED),
        (CardStatus.SUSPENDED, TODAY, CardState.SUSPENDED),
        (CardStatus.SUSPENDED, TODAY - timedelta(days=1), CardState.SUSPENDED),
        (CardStatus.REVOKED, TODAY, CardState.REVOKED),
    ],
)
def test_card_state(status: CardStatus, expires_on: date, state: CardState) -> None:
    card = Card(user_number="1", status=status, expires_on=expires_on, token_jti="j")
    assert card_state(card, TODAY) is state


def test_barcode_value_per_symbology() -> None:
    policy = CardPolicy.of(load_profile("kashiwa"))
    number = compose(policy.number_format, 7)
    assert barcode_value("codabar", policy.number_format, number) == f"B{number}B"
    assert barcode_value("code128", policy.number_format, number) == number


async def test_active_card_shows_barcode_and_qr(services: Services) -> None:
    card = await make_card(services)
    card.expires_on = TODAY + timedelta(days=30)
    face = await face_of(services, card)
    assert face.state is CardState.ACTIVE
    assert face.barcode_svg is not None
    assert face.barcode_svg.startswith("<svg")
    assert face.qr_svg is not None
    assert face.qr_svg.startswith("<svg")


@pytest.mark.parametrize("status", [CardStatus.ACTIVE, CardStatus.SUSPENDED])
async def test_expired_card_shows_barcode_but_no_token(
    services: Services, status: CardStatus
) -> None:
    card = await make_card(services)
    card.expires_on = TODAY - timedelta(days=1)
    if status == CardStatus.SUSPENDED:
        set_suspended(card, "overdue")
    face = await face_of(services, card)
    assert face.barcode_svg is not None
    assert face.qr_svg is None


async def test_suspended_card_keeps_its_reason(services: Services) -> None:
    card = await make_card(services)
    card.expires_on = TODAY + timedelta(days=30)
    set_suspended(card, "overdue")
    face = await face_of(services, card, "code128")
    assert face.state is CardState.SUSPENDED
    assert face.reason == "overdue"
    assert face.qr_svg is not None


async def test_revoked_card_shows_no_codes(services: Services) -> None:
    card = await make_card(services)
    async with services.db.transaction() as session:
        stored = await session.get(Card, card.id)
        assert stored is not None
        await revoke_card(session, stored, RevocationReason.REISSUED, services.policy)
    face = await face_of(services, stored)
    assert face.state is CardState.REVOKED
    assert (face.barcode_svg, face.qr_svg) == (None, None)
