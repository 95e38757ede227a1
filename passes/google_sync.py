"""Keep saved Google Wallet passes true to their cards, driven by the card events.

Every change of a card's life writes a :class:`~cardservice.cards.models.CardEvent` in the
change's own transaction (``cards/lifecycle.py``). This job reads the events after its
cursor (``cards/event_cursors.py``, name ``google_wallet``) and patches the pass object of
each card named to show the card as it is now:

- a renewal (or reinstatement): ``state`` ACTIVE and the new expiry;
- a suspension: ``state`` INACTIVE;
- a reissue or revocation: the old number's pass ``state`` EXPIRED (the new number is a
  new pass, saved from the card page).

An event of a card whose pass was never saved is answered 404 by Google and skipped. The
network calls happen outside any database transaction; the cursor then moves past what was
handled, guarded by its old value, so two workers at once at worst patch a pass twice with
the same fields. When Google cannot be reached the cursor stays at the first event not
handled, and the next run tries again. A patch Google refuses for what it is (one object's
400 or 409, say) would be refused at every run: it is logged with the event and the card
number's object id and passed, so that one pass cannot hold up every later one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import select, update

from cardservice.cards.event_cursors import CardEventCursor, claim_cursor, events_after
from cardservice.cards.models import Card, CardEventKind, CardStatus
from cardservice.db.engine import Database
from cardservice.settings import Settings
from passes.google import EXPIRED_PATCH, GoogleWallet, from_settings, renewal_patch
from passes.google_rest import GoogleRestObjects, WalletApiError, WalletObjects

log = logging.getLogger(__name__)

CURSOR: Final = "google_wallet"
BATCH: Final = 200
# Events about a card that has no pass yet.
_NO_PASS_YET: Final = frozenset({CardEventKind.ISSUED, CardEventKind.IMPORTED})


@dataclass(frozen=True, slots=True)
class GoogleWalletSync:
    """The configured wallet and the REST client the job patches through."""

    wallet: GoogleWallet
    objects: WalletObjects


@dataclass(slots=True)
class SyncResult:
    patched: int = 0  # passes that were in a wallet and now match their card
    not_saved: int = 0  # events of cards whose pass nobody saved
    refused: int = 0  # patches Google refused for what they are: logged and passed
    failed: bool = False  # Google could not be reached or refused: retried next run


def fields_for(wallet: GoogleWallet, card: Card) -> dict[str, Any]:
    """The patch that makes a pass show ``card`` as it is stored now."""
    if card.status == CardStatus.REVOKED:
        return dict(EXPIRED_PATCH)
    fields = renewal_patch(wallet, card.expires_on)
    if card.status == CardStatus.SUSPENDED:
        fields["state"] = "INACTIVE"
    return fields


async def _pending(db: Database) -> tuple[int, list[tuple[int, str, Card | None]]]:
    """The cursor's position and the events after it: (event id, number, its card)."""
    async with db.transaction() as session:
        cursor = await claim_cursor(session, CURSOR)
        events = await events_after(session, cursor, limit=BATCH)
        numbers = {event.user_number for event in events}
        cards = {
            card.user_number: card
            for card in await session.scalars(select(Card).where(Card.user_number.in_(numbers)))
        }
        start = cursor.last_event_id
        pending = [
            (event.id, event.user_number, cards.get(event.user_number))
            for event in events
            if event.kind not in _NO_PASS_YET
        ]
        last = events[-1].id if events else start
    # Events with nothing to patch still move the cursor: the last id read is the end.
    return start, [*pending, (last, "", None)]


async def sync_google_wallet(db: Database, sync: GoogleWalletSync) -> SyncResult:
    """Patch the passes of the cards named by the events after the cursor (one batch of at
    most ``BATCH`` events), then move the cursor. Never raises for Google's errors: they
    are logged and reported as ``failed``."""
    result = SyncResult()
    start, pending = await _pending(db)
    done = start
    for event_id, number, card in pending:
        if card is not None:
            try:
                patched = await sync.objects.patch_object(
                    sync.wallet.object_id(number), fields_for(sync.wallet, card)
                )
            except WalletApiError as exc:
                if exc.object_refused:
                    log.warning("Google Wallet refused card event %s, passed: %s", event_id, exc)
                    result.refused += 1
                    done = event_id
                    continue
                log.warning("Google Wallet update stopped at card event %s: %s", event_id, exc)
                result.failed = True
                break
            result.patched += patched
            result.not_saved += not patched
        done = event_id
    if done != start:
        async with db.transaction() as session:
            await session.execute(
                update(CardEventCursor)
                .where(CardEventCursor.name == CURSOR, CardEventCursor.last_event_id == start)
                .values(last_event_id=done)
            )
    return result


def wallet_sync_of(settings: Settings) -> GoogleWalletSync | None:
    """The Google Wallet of these settings with the real REST client, or None when it is not
    configured. Raises ConfigurationError for a key file that cannot be used, at start."""
    profile = settings.profile
    wallet = from_settings(
        issuer_id=settings.google_wallet_issuer_id,
        key_file=settings.google_wallet_key_file,
        base_url=settings.base_url,
        profile_id=profile.id,
        library_name=profile.library.name,
        colours=profile.colours,
        symbology=profile.barcode.symbology,
    )
    if wallet is None:
        return None
    return GoogleWalletSync(wallet=wallet, objects=GoogleRestObjects(wallet.account))
