"""Reissue and renewal on both engines: what verify answers afterwards, the event rows for
the library system, and two reissues of one card at once giving one new number."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from cardservice.calendar import local_today
from cardservice.cards.lifecycle import (
    ReissueReason,
    reinstate_card,
    reissue_card,
    renew_card,
    renewed_expiry,
    suspend_card,
)
from cardservice.cards.models import Card, CardEvent, CardStatus
from cardservice.cards.service import CardAlreadyRevoked, get_card
from cardservice.cards.verification import Status
from cardservice.services import Services
from tests.card_support import card_token_of
from tests.factories import make_card


async def _events(services: Services) -> list[tuple[Any, ...]]:
    async with services.db.transaction() as session:
        rows = await session.execute(
            # Each new patron's first event ("issued", patron registered) is not the subject.
            select(CardEvent.kind, CardEvent.user_number, CardEvent.new_user_number)
            .where(CardEvent.kind != "issued")
            .order_by(CardEvent.id)
        )
        return [tuple(row) for row in rows]


async def test_reissue_revokes_the_old_number_and_token(services: Services) -> None:
    old = await make_card(services)
    old_token = card_token_of(services, old)
    async with services.db.transaction() as session:
        card = await get_card(session, old.user_number)
        new = await reissue_card(session, card, ReissueReason.LOST, services.policy)
    assert new.user_number != old.user_number
    assert new.patron_id == old.patron_id

    by_number = await services.verifier.by_barcode(old.user_number)
    assert (by_number.status, by_number.reason) == (Status.REVOKED, "reissued")
    by_token = await services.verifier.by_token(old_token)
    assert by_token.status == Status.REVOKED
    assert (await services.verifier.by_barcode(new.user_number)).status == Status.VALID
    assert (await services.verifier.by_token(card_token_of(services, new))).status == Status.VALID

    async with services.db.transaction() as session:
        reloaded = await get_card(session, old.user_number)
        assert reloaded.replaced_by_id == new.id
        with pytest.raises(CardAlreadyRevoked):
            await reissue_card(session, reloaded, ReissueReason.LOST, services.policy)
    assert await _events(services) == [("reissued", old.user_number, new.user_number)]


async def test_two_reissues_at_once_give_one_new_number(services: Services) -> None:
    old = await make_card(services)

    async def reissue() -> str | None:
        try:
            async with services.db.transaction() as session:
                card = await get_card(session, old.user_number)
                await asyncio.sleep(0.05)  # both have read the card as active
                new = await reissue_card(session, card, ReissueReason.LOST, services.policy)
                return new.user_number
        except CardAlreadyRevoked:
            return None

    results = await asyncio.gather(reissue(), reissue())
    assert sorted(result is None for result in results) == [False, True]
    async with services.db.transaction() as session:
        cards = await session.scalar(select(func.count()).select_from(Card))
    assert cards == 2  # the old card and exactly one new one
    assert len(await _events(services)) == 1


async def test_renewal_keeps_the_number_and_replaces_the_token(services: Services) -> None:
    card = await make_card(services)
    old_token = card_token_of(services, card)
    async with services.db.transaction() as session:
        loaded = await get_card(session, card.user_number)
        old_expiry = loaded.expires_on
        new_expiry = await renew_card(
            session,
            loaded,
            services.settings.profile.card,
            services.policy,
            now=datetime.now(UTC),
        )
        new_token = card_token_of(services, loaded)
    today = local_today(services.policy.timezone)
    assert new_expiry == renewed_expiry(old_expiry, services.settings.profile.card, today)
    verdict = await services.verifier.by_barcode(card.user_number)
    assert (verdict.status, verdict.expires_on) == (Status.VALID, new_expiry)
    assert (await services.verifier.by_token(old_token)).status == Status.REVOKED
    assert (await services.verifier.by_token(new_token)).status == Status.VALID
    assert [kind for kind, _, _ in await _events(services)] == ["renewed"]


async def test_lost_card_suspended_then_reinstated(services: Services) -> None:
    card = await make_card(services)
    async with services.db.transaction() as session:
        loaded = await get_card(session, card.user_number)
        await suspend_card(session, loaded, "reported_lost")
    verdict = await services.verifier.by_barcode(card.user_number)
    assert (verdict.status, verdict.reason) == (Status.SUSPENDED, "reported_lost")
    async with services.db.transaction() as session:
        loaded = await get_card(session, card.user_number)
        await reinstate_card(session, loaded)
        assert loaded.status == CardStatus.ACTIVE
    assert (await services.verifier.by_barcode(card.user_number)).status == Status.VALID
    assert [kind for kind, _, _ in await _events(services)] == ["suspended", "reinstated"]
