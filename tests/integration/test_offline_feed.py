"""The signed revocation feed over HTTP and the offline verifier that syncs it, on both
engines: revocations, suspensions and their lifting reach a scanner by delta, the bundle is
trusted only by its signature, and bad cursors get stable codes."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, select, update

from cardservice.cards.feed import BundleRejected, open_bundle
from cardservice.cards.feed_log import FEED_SEQUENCE, FeedEntry
from cardservice.cards.keys import Keyring, SigningKey
from cardservice.cards.lifecycle import (
    ReissueReason,
    reinstate_card,
    reissue_card,
    renew_card,
    suspend_card,
)
from cardservice.cards.models import Card, NumberSequence, RevocationReason
from cardservice.cards.numbers import barcode_text
from cardservice.cards.offline import OfflineState, OfflineVerifier, apply_bundle
from cardservice.cards.service import get_card, revoke_card
from cardservice.services import Services
from tests.card_support import card_token_of, counter_api_key
from tests.factories import make_card
from tests.web_support import Client, web_client, with_free_catcher_port


@pytest.fixture
async def client(services: Services) -> AsyncIterator[Client]:
    async with web_client(with_free_catcher_port(services.settings), mail=False) as running:
        yield running


async def _feed(client: Client, key: str, since: int | str | None = None) -> str:
    query = "" if since is None else f"?since={since}"
    response = await client.get(f"/api/v1/offline/feed{query}", headers={"X-API-Key": key})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/jose")
    assert response.headers["cache-control"] == "no-store"
    return response.text


async def _jwks(client: Client) -> object:
    return (await client.get("/.well-known/jwks.json")).json()


async def _first_sync(client: Client, key: str) -> OfflineState:
    return apply_bundle(
        None, await _feed(client, key), trust=await _jwks(client), now=datetime.now(UTC)
    )


async def _delta(client: Client, key: str, state: OfflineState) -> OfflineState:
    bundle = await _feed(client, key, state.cursor)
    return apply_bundle(state, bundle, now=datetime.now(UTC))


async def _revoke(services: Services, card: Card) -> None:
    async with services.db.transaction() as session:
        await revoke_card(
            session,
            await get_card(session, card.user_number),
            RevocationReason.LOST,
            services.policy,
        )


async def test_a_revoked_card_is_rejected_after_one_sync(
    services: Services, client: Client
) -> None:
    key = await counter_api_key(services)
    kept, lost = await make_card(services), await make_card(services, email="b@example.org")
    state = await _first_sync(client, key)
    verifier = OfflineVerifier(state)
    assert verifier.verify(card_token_of(services, lost)).status == "valid"

    await _revoke(services, lost)
    state = await _delta(client, key, state)
    verifier = OfflineVerifier(state)
    token_verdict = verifier.verify(card_token_of(services, lost))
    assert (token_verdict.status, token_verdict.reason) == ("revoked", "lost")
    scanned = barcode_text(services.policy.number_format, lost.user_number)
    barcode_verdict = verifier.verify(scanned)
    assert (barcode_verdict.status, barcode_verdict.reason) == ("revoked", "lost")
    valid = verifier.verify(card_token_of(services, kept))
    assert (valid.status, valid.user_number, valid.expires_on) == (
        "valid",
        kept.user_number,
        kept.expires_on,
    )
    # Every verdict says how old its data is.
    assert 0 <= valid.data_age_seconds < 60
    assert valid.stale is False
    later = verifier.verify(kept.user_number, now=datetime.now(UTC) + timedelta(days=2))
    assert later.data_age_seconds >= 2 * 86_400
    assert later.stale is True
    assert (later.status, later.reason) == ("valid", "number_not_listed")


async def test_suspension_reaches_scanners_and_reinstatement_lifts_it_by_delta(
    services: Services, client: Client
) -> None:
    key = await counter_api_key(services)
    card = await make_card(services)
    state = await _first_sync(client, key)
    async with services.db.transaction() as session:
        await suspend_card(session, await get_card(session, card.user_number), "staff_hold")
    state = await _delta(client, key, state)
    verdict = OfflineVerifier(state).verify(card_token_of(services, card))
    assert (verdict.status, verdict.reason) == ("suspended", "staff_hold")

    async with services.db.transaction() as session:
        await reinstate_card(session, await get_card(session, card.user_number))
    cursor = state.cursor
    delta = open_bundle(await _feed(client, key, cursor), Keyring(services.keyring.keys))
    assert delta["numbers"] == [[card.user_number, "active", None]]
    assert (delta["since"], delta["full"]) == (cursor, False)
    state = await _delta(client, key, state)
    assert OfflineVerifier(state).verify(card_token_of(services, card)).status == "valid"
    # A full sync no longer lists it at all.
    full = open_bundle(await _feed(client, key), Keyring(services.keyring.keys))
    assert full["numbers"] == []


async def test_reissue_and_renewal_revoke_the_old_number_and_token(
    services: Services, client: Client
) -> None:
    key = await counter_api_key(services)
    old = await make_card(services)
    other = await make_card(services, email="c@example.org")
    old_token, other_token = card_token_of(services, old), card_token_of(services, other)
    state = await _first_sync(client, key)
    async with services.db.transaction() as session:
        new = await reissue_card(
            session,
            await get_card(session, old.user_number),
            ReissueReason.LOST,
            services.policy,
        )
        await renew_card(
            session,
            await get_card(session, other.user_number),
            services.settings.profile.card,
            services.policy,
        )
    state = await _delta(client, key, state)
    verifier = OfflineVerifier(state)
    assert (verifier.verify(old_token).status, verifier.verify(old_token).reason) == (
        "revoked",
        "reissued",
    )
    renewed = verifier.verify(other_token)
    assert (renewed.status, renewed.reason) == ("revoked", "token_revoked")
    assert verifier.verify(new.user_number).reason == "number_not_listed"


async def test_bad_cursors_get_stable_codes(services: Services, client: Client) -> None:
    key = await counter_api_key(services)
    await _revoke(services, await make_card(services))
    head = open_bundle(await _feed(client, key), Keyring(services.keyring.keys))["cursor"]
    assert head >= 1
    too_big = ("9" * 30, "9" * 70, "9" * 2000, str(2**63), str(2**64))
    for garbage in ("abc", "-1", "1.5", "01", *too_big, "%00", "", " 1", "١", "１", "1e3"):
        response = await client.get(
            "/api/v1/offline/feed", params={"since": garbage}, headers={"X-API-Key": key}
        )
        assert response.status_code == 422, (garbage, response.text)
        assert response.json()["error"]["code"] == "feed_cursor_invalid", garbage
    ahead = await client.get(
        "/api/v1/offline/feed", params={"since": head + 1}, headers={"X-API-Key": key}
    )
    assert (ahead.status_code, ahead.json()["error"]["code"]) == (409, "feed_cursor_ahead")
    # Up to date: an empty delta that keeps the cursor.
    same = open_bundle(await _feed(client, key, head), Keyring(services.keyring.keys))
    assert (same["cursor"], same["numbers"], same["tokens"]) == (head, [], [])
    unauthorised = await client.get("/api/v1/offline/feed")
    assert unauthorised.status_code == 401
    assert unauthorised.json()["error"]["code"] == "api_key_invalid"


async def test_only_the_signature_decides_whether_a_bundle_is_trusted(
    services: Services, client: Client
) -> None:
    key = await counter_api_key(services)
    card = await make_card(services)
    state = await _first_sync(client, key)
    await _revoke(services, card)
    bundle = await _feed(client, key, state.cursor)
    head, payload, signature = bundle.split(".")
    decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    decoded["numbers"] = []  # an attacker lifting the revocation
    forged = base64.urlsafe_b64encode(json.dumps(decoded).encode()).rstrip(b"=").decode()
    now = datetime.now(UTC)
    with pytest.raises(BundleRejected) as caught:
        apply_bundle(state, f"{head}.{forged}.{signature}", now=now)
    assert caught.value.detail["reason"] == "bad_signature"
    # Signed by a key the scanner does not trust: refused, whatever it says.
    stranger = Keyring([SigningKey.generate(sign_from=now - timedelta(days=1))])
    with pytest.raises(BundleRejected) as caught:
        apply_bundle(None, bundle, trust=stranger.jwks(now), now=now)
    assert caught.value.detail["reason"] == "unknown_key"
    with pytest.raises(BundleRejected) as caught:
        apply_bundle(state, "not.a-bundle", now=now)
    assert caught.value.detail["reason"] == "malformed"
    # The genuine copy applies wherever it came from; applying it twice is out of order,
    # and an older full bundle cannot roll the scanner back.
    old_full = await _feed(client, key)  # made before the change below was applied
    updated = apply_bundle(state, bundle, now=now)
    with pytest.raises(BundleRejected) as caught:
        apply_bundle(updated, bundle, now=now)
    assert caught.value.detail["reason"] == "out_of_order"
    newer = apply_bundle(updated, await _feed(client, key), now=now)
    assert newer.numbers == {card.user_number: ["revoked", "lost"]}
    await _revoke(services, await make_card(services, email="d@example.org"))
    newest = apply_bundle(newer, await _feed(client, key, newer.cursor), now=now)
    with pytest.raises(BundleRejected) as caught:
        apply_bundle(newest, old_full, now=now)
    assert caught.value.detail["reason"] == "older"


async def test_seqs_become_visible_in_commit_order(services: Services) -> None:
    """A second revocation waits for the first one's transaction (the feed's counter row on
    PostgreSQL, the write lock on SQLite), so no scanner can read a later seq before an
    earlier one commits and skip it."""
    first, second = await make_card(services), await make_card(services, email="e@example.org")
    async with services.db.transaction() as session:
        card = await get_card(session, first.user_number)
        await revoke_card(session, card, RevocationReason.LOST, services.policy)
        waiting = asyncio.create_task(_revoke(services, second))
        await asyncio.sleep(0.3)
        assert not waiting.done()  # held until the first transaction ends
    await waiting
    async with services.db.read() as session:
        rows = (await session.execute(select(FeedEntry.seq, FeedEntry.subject))).all()
    order = [subject for _, subject in sorted(rows)]
    assert set(order[:2]) == {first.user_number, first.token_jti}
    assert set(order[2:]) == {second.user_number, second.token_jti}


async def test_a_feed_restored_from_backup_and_changed_is_not_taken_as_a_delta(
    services: Services, client: Client
) -> None:
    key = await counter_api_key(services)
    first, second, third = [
        await make_card(services, email=f"{name}@example.org") for name in ("f", "s", "t")
    ]
    state = await _first_sync(client, key)
    backup = state.cursor
    await _revoke(services, first)
    state = await _delta(client, key, state)
    assert state.cursor_entry is not None
    # The database comes back from a backup taken before that revocation, and staff go on:
    # the same seqs now name other changes, and the feed is no longer behind the scanner.
    async with services.db.transaction() as session:
        await session.execute(delete(FeedEntry).where(FeedEntry.seq > backup))
        await session.execute(
            update(NumberSequence)
            .where(NumberSequence.name == FEED_SEQUENCE)
            .values(next_serial=backup + 1)
        )
    await _revoke(services, second)
    await _revoke(services, third)
    with pytest.raises(BundleRejected) as refused:
        await _delta(client, key, state)  # it would skip the second card's revocation
    assert refused.value.detail["reason"] == "out_of_order"
    full = apply_bundle(state, await _feed(client, key), now=datetime.now(UTC))
    assert sorted(full.numbers) == sorted([second.user_number, third.user_number])
    assert (await _delta(client, key, full)).cursor == full.cursor  # and on by delta
