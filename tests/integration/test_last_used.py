"""A card's last use: the library date of its last ``valid`` counter verification, by barcode
or by token, and what renewal's dormancy rule counts from. On both engines, travelling in
time; the verdict never waits for the write, so HTTP tests wait for the row."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import update

from cardservice.calendar import add_years
from cardservice.cards.lifecycle import RenewalBasis, renewal_opening
from cardservice.cards.models import Card, RevocationReason
from cardservice.cards.numbers import barcode_text
from cardservice.cards.service import revoke_card, set_suspended
from cardservice.services import Services
from tests.card_support import card_token_of, verify
from tests.factories import make_card
from tests.web_support import Client, web_client, with_free_catcher_port

# 16:00 UTC is 01:00 the next day in Tokyo: the library's date, not the server's.
EVENING_UTC = datetime(2027, 1, 1, 16, 0, tzinfo=UTC)
LIBRARY_DAY = date(2027, 1, 2)


@pytest.fixture
def profile_name() -> str:
    return "kashiwa"  # dormant after 3 years unused (3年以上使っていない)


@pytest.fixture
async def client(services: Services) -> AsyncIterator[Client]:
    settings = with_free_catcher_port(services.settings)
    async with web_client(settings, mail=False) as running:
        yield running


async def _card(services: Services, card_id: int) -> Card:
    async with services.db.transaction() as session:
        card = await session.get(Card, card_id)
    assert card is not None
    return card


async def _last_used(services: Services, card_id: int) -> date | None:
    return (await _card(services, card_id)).last_used_on


async def _wait_for_last_use(services: Services, card_id: int) -> date:
    """The app writes after answering; wait (a few seconds at most) for the row."""
    for _ in range(200):
        found = await _last_used(services, card_id)
        if found is not None:
            return found
        await asyncio.sleep(0.025)
    raise AssertionError("the last use was never recorded")


async def test_a_valid_scan_records_the_library_date(
    client: Client, services: Services, api_key: str
) -> None:
    by_barcode = await make_card(services, email="barcode@example.org")
    by_token = await make_card(services, email="token@example.org")
    assert by_barcode.last_used_on is None
    with time_machine.travel(EVENING_UTC, tick=False):
        scanned = barcode_text(services.policy.number_format, by_barcode.user_number)
        assert (await verify(client, api_key, barcode=scanned))["status"] == "valid"
        assert (await verify(client, api_key, token=card_token_of(services, by_token)))[
            "status"
        ] == "valid"
    assert await _wait_for_last_use(services, by_barcode.id) == LIBRARY_DAY
    assert await _wait_for_last_use(services, by_token.id) == LIBRARY_DAY
    # A use is not an edit of the card record.
    assert (await _card(services, by_barcode.id)).updated_at == by_barcode.updated_at


async def test_scans_that_are_not_valid_record_nothing(
    client: Client, services: Services, api_key: str
) -> None:
    expired = await make_card(services, email="expired@example.org")
    revoked = await make_card(services, email="revoked@example.org")
    suspended = await make_card(services, email="suspended@example.org")
    control = await make_card(services, email="control@example.org")
    revoked_token = card_token_of(services, revoked)
    async with services.db.transaction() as session:
        row = await session.get(Card, revoked.id)
        assert row is not None
        await revoke_card(session, row, RevocationReason.LOST, services.policy)
        row = await session.get(Card, suspended.id)
        assert row is not None
        set_suspended(row, "unpaid_fees")
    wrong_digit = control.user_number[:-1] + ("0" if control.user_number[-1] != "0" else "1")

    after_expiry = datetime.combine(expired.expires_on, datetime.min.time(), tzinfo=UTC)
    with time_machine.travel(after_expiry + timedelta(days=2), tick=False):
        verdict = await verify(client, api_key, barcode=expired.user_number)
        assert verdict["status"] == "expired"
    answers = [
        await verify(client, api_key, barcode=revoked.user_number),
        await verify(client, api_key, token=revoked_token),
        await verify(client, api_key, barcode=suspended.user_number),
        await verify(client, api_key, barcode=wrong_digit),
    ]
    assert [a["status"] for a in answers] == ["revoked", "revoked", "suspended", "invalid"]
    # The writer did run: the valid scan after them is recorded, and only it.
    assert (await verify(client, api_key, barcode=control.user_number))["status"] == "valid"
    await _wait_for_last_use(services, control.id)
    for card in (expired, revoked, suspended):
        assert await _last_used(services, card.id) is None


async def test_one_write_a_day_per_card_and_the_date_never_goes_back(services: Services) -> None:
    card = await make_card(services)
    verifier, recorder = services.verifier, services.verifier.last_use
    assert recorder is not None
    day_one = datetime(2027, 3, 1, 2, 0, tzinfo=UTC)

    await verifier.by_barcode(card.user_number, now=day_one)
    await recorder.drain()
    assert await _last_used(services, card.id) == date(2027, 3, 1)

    # Cleared behind the process's back: later scans that day write nothing at all.
    async with services.db.transaction() as session:
        await session.execute(update(Card).where(Card.id == card.id).values(last_used_on=None))
    for _ in range(20):
        await verifier.by_barcode(card.user_number, now=day_one + timedelta(hours=3))
    await recorder.drain()
    assert await _last_used(services, card.id) is None

    await verifier.by_barcode(card.user_number, now=day_one + timedelta(days=1))
    await recorder.drain()
    assert await _last_used(services, card.id) == date(2027, 3, 2)

    # Another worker process whose clock is behind cannot move the date back.
    other = Services.build(services.settings)
    try:
        await other.verifier.by_barcode(card.user_number, now=day_one)
    finally:
        await other.close()  # drains its writer first
    assert await _last_used(services, card.id) == date(2027, 3, 2)


async def test_renewal_opens_for_a_card_unused_for_the_dormant_period(
    client: Client, services: Services, api_key: str
) -> None:
    section = services.settings.profile.card
    issued = datetime(2026, 4, 6, 1, 0, tzinfo=UTC)  # 10:00 in Tokyo
    with time_machine.travel(issued, tick=False):
        card = await make_card(services)
    # A plastic card from the library system can run far longer than the dormant period.
    far = date(2040, 3, 31)
    async with services.db.transaction() as session:
        await session.execute(update(Card).where(Card.id == card.id).values(expires_on=far))

    def opening_on(day: date, stored: Card) -> RenewalBasis | None:
        return renewal_opening(stored, section, day).basis

    unused_until = add_years(issued.date(), section.dormant_years)
    stored = await _card(services, card.id)
    assert opening_on(unused_until - timedelta(days=1), stored) is None
    assert opening_on(unused_until, stored) == RenewalBasis.DORMANT

    # Scanned at the counter a year in: dormancy counts from that day instead.
    used = issued + timedelta(days=365)
    with time_machine.travel(used, tick=False):
        assert (await verify(client, api_key, barcode=card.user_number))["status"] == "valid"
    used_on = await _wait_for_last_use(services, card.id)
    assert used_on == used.date()
    stored = await _card(services, card.id)
    assert opening_on(unused_until, stored) is None
    dormant_from = add_years(used_on, section.dormant_years)
    assert opening_on(dormant_from - timedelta(days=1), stored) is None
    with time_machine.travel(datetime.combine(dormant_from, datetime.min.time(), tzinfo=UTC)):
        opening = renewal_opening(stored, section, datetime.now(UTC).date())
    assert opening.open
    assert opening.basis == RenewalBasis.DORMANT
