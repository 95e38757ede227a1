"""Saved Google Wallet passes follow their cards: the jobs read the card events that the
life-cycle functions write and patch the passes through the REST interface (recorded here:
Google cannot be reached from the tests). Both database engines."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import select

from cardservice.cards.event_cursors import CardEventCursor
from cardservice.cards.lifecycle import ReissueReason, reissue_card, renew_card, suspend_card
from cardservice.cards.models import Card
from cardservice.db.base import utcnow
from cardservice.jobs import run_jobs
from cardservice.services import Services
from passes.google import GoogleWallet, from_settings
from passes.google_rest import RecordingObjects
from passes.google_sync import CURSOR, GoogleWalletSync, sync_google_wallet
from tests.factories import make_card
from tests.google_wallet_support import ISSUER_ID, write_key_file


def _wallet(services: Services, tmp_path: Path) -> GoogleWallet:
    profile = services.settings.profile
    wallet = from_settings(
        issuer_id=ISSUER_ID,
        key_file=write_key_file(tmp_path),
        base_url=services.settings.base_url,
        profile_id=profile.id,
        library_name=profile.library.name,
        colours=profile.colours,
        symbology=profile.barcode.symbology,
    )
    assert wallet is not None
    return wallet


async def _cursor(services: Services) -> int:
    async with services.db.transaction() as session:
        value = await session.scalar(
            select(CardEventCursor.last_event_id).where(CardEventCursor.name == CURSOR)
        )
    assert value is not None
    return value


async def test_renewal_patches_and_reissue_expires_the_saved_pass(
    services: Services, tmp_path: Path
) -> None:
    card = await make_card(services)
    wallet = _wallet(services, tmp_path)
    old_id = wallet.object_id(card.user_number)
    objects = RecordingObjects(saved={old_id})
    sync = GoogleWalletSync(wallet=wallet, objects=objects)

    # The first run starts at the newest event: the issue before it has no pass to patch.
    first = await sync_google_wallet(services.db, sync)
    assert (first.patched, first.not_saved, objects.patches) == (0, 0, [])
    start = await _cursor(services)

    profile = services.settings.profile
    async with services.db.transaction() as session:
        stored = await session.get_one(Card, card.id)
        # Due for renewal: a week before expiry.
        stored.expires_on = date.today() + timedelta(days=7)
        new_expiry = await renew_card(session, stored, profile.card, services.policy)
    report = await run_jobs(services.db, profile, google=sync)
    assert report.wallet_passes_updated == 1
    assert "Google Wallet passes updated: 1" in report.lines()
    [(object_id, fields)] = objects.patches
    assert object_id == old_id
    assert fields["state"] == "ACTIVE"
    assert fields["validTimeInterval"] == {
        "end": {"date": f"{new_expiry.isoformat()}T23:59:59+09:00"}
    }
    assert fields["textModulesData"][0]["body"] == (
        f"{new_expiry.year}年{new_expiry.month}月{new_expiry.day}日"
    )
    assert await _cursor(services) == start + 1

    objects.patches.clear()
    async with services.db.transaction() as session:
        stored = await session.get_one(Card, card.id)
        new = await reissue_card(session, stored, ReissueReason.LOST, services.policy)
        new_number = new.user_number
    result = await sync_google_wallet(services.db, sync)
    assert objects.patches == [(old_id, {"state": "EXPIRED"})]
    assert (result.patched, result.failed) == (1, False)
    assert wallet.object_id(new_number) != old_id  # the new number is a pass of its own
    # Run again, as a second worker would: nothing is patched twice.
    again = await sync_google_wallet(services.db, sync)
    assert (again.patched, again.not_saved) == (0, 0)
    assert len(objects.patches) == 1


async def test_unreachable_google_is_retried_and_unsaved_passes_are_skipped(
    services: Services, tmp_path: Path
) -> None:
    card = await make_card(services)
    sync = GoogleWalletSync(wallet=_wallet(services, tmp_path), objects=RecordingObjects())
    await sync_google_wallet(services.db, sync)
    start = await _cursor(services)
    async with services.db.transaction() as session:
        await suspend_card(session, await session.get_one(Card, card.id), "staff")

    sync.objects.fail = True  # type: ignore[attr-defined]  # RecordingObjects
    report = await run_jobs(services.db, services.settings.profile, google=sync, now=utcnow())
    assert report.failed == ["Google Wallet updates"]
    assert await _cursor(services) == start  # the event waits for the next run

    sync.objects.fail = False  # type: ignore[attr-defined]
    result = await sync_google_wallet(services.db, sync)
    # Nobody saved this pass: Google answers 404, and the event is done with.
    assert (result.patched, result.not_saved, result.failed) == (0, 1, False)
    assert sync.objects.patches[0][1]["state"] == "INACTIVE"  # type: ignore[attr-defined]
    assert await _cursor(services) == start + 1


async def test_a_pass_google_refuses_does_not_hold_up_the_others(
    services: Services, tmp_path: Path
) -> None:
    wallet = _wallet(services, tmp_path)
    refused, fine = await make_card(services), await make_card(services)
    objects = RecordingObjects(
        saved={wallet.object_id(fine.user_number)},
        refused={wallet.object_id(refused.user_number)},
    )
    sync = GoogleWalletSync(wallet=wallet, objects=objects)
    await sync_google_wallet(services.db, sync)
    start = await _cursor(services)
    async with services.db.transaction() as session:
        for card in (refused, fine):  # the refused one first: it must not stop the other
            await suspend_card(session, await session.get_one(Card, card.id), "staff")

    report = await run_jobs(services.db, services.settings.profile, google=sync, now=utcnow())
    assert report.failed == []
    assert report.wallet_passes_updated == 1
    assert "Google Wallet passes updated: 1 (1 refused by Google, see the log)" in report.lines()
    assert [object_id for object_id, _ in objects.patches] == [wallet.object_id(fine.user_number)]
    assert await _cursor(services) == start + 2  # past both: the refusal is not retried


async def test_without_google_wallet_the_jobs_say_so(services: Services) -> None:
    report = await run_jobs(services.db, services.settings.profile)
    assert report.wallet_passes_updated is None
    assert "Google Wallet passes updated: not configured" in report.lines()


async def test_two_workers_starting_at_once_make_one_cursor(
    services: Services, tmp_path: Path
) -> None:
    await make_card(services)
    sync = GoogleWalletSync(wallet=_wallet(services, tmp_path), objects=RecordingObjects())
    results = await asyncio.gather(
        sync_google_wallet(services.db, sync), sync_google_wallet(services.db, sync)
    )
    assert [result.failed for result in results] == [False, False]
    assert await _cursor(services) > 0  # at the issue event, the newest
