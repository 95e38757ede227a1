"""Saved Apple Wallet passes follow their cards: a scheduled job (``cardservice/jobs.py``)
reads the card events after its cursor (``cards/event_cursors.py``, consumer
``apple_wallet``), marks the passes of the cards they name as updated and pushes to the
devices that hold them; Wallet then asks the web service and fetches the new pass.

The life cycle code knows nothing of this: every change it makes writes a
:class:`~cardservice.cards.models.CardEvent` in its own transaction, and this job reads
them. A renewal updates the pass (new expiry and QR code); a reissue's event names the old
number, whose pass is then served void (the new card has a pass of its own once the patron
adds it); a suspension, reinstatement or revocation changes the status on the pass.

The cursor moves in the same transaction as the passes' ``updated_at``, so each event is
handled once however many processes run the job. The pushes go after that commit: one
lost to an APNs outage is not retried, but the pass is updated all the same, and Wallet
fetches it when it next asks (on opening the pass, or pulling to refresh).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from cardservice.cards.event_cursors import claim_cursor, events_after
from cardservice.cards.models import CardEventKind
from cardservice.db.engine import Database
from cardservice.passkit.service import forget_push_tokens, mark_updated, push_tokens
from cardservice.passkit.wallet import AppleWallet

log = logging.getLogger(__name__)

CURSOR: Final = "apple_wallet"
BATCH: Final = 500
# What a pass shows: a change of address (details_changed) or an import changes none of it.
PASS_EVENTS: Final = frozenset(
    {
        CardEventKind.RENEWED,
        CardEventKind.REISSUED,
        CardEventKind.SUSPENDED,
        CardEventKind.REINSTATED,
        CardEventKind.REVOKED,
    }
)


@dataclass(slots=True)
class PassUpdates:
    """One run: ``updated`` passes marked, pushes ``sent``, ``forgotten`` registrations
    whose device APNs no longer knows, pushes ``failed``."""

    updated: int = 0
    sent: int = 0
    forgotten: int = 0
    failed: int = 0


async def update_apple_passes(
    db: Database, wallet: AppleWallet, *, now: datetime | None = None
) -> PassUpdates:
    """Handle every card event after the cursor, :data:`BATCH` at a time (see the module's
    docstring)."""
    result = PassUpdates()
    while True:
        moment = now or datetime.now(UTC)
        async with db.transaction() as session:
            cursor = await claim_cursor(session, CURSOR)
            events = await events_after(session, cursor, limit=BATCH)
            if not events:
                break
            numbers = {event.user_number for event in events if event.kind in PASS_EVENTS}
            pass_ids = await mark_updated(session, numbers, now=moment)
            cursor.last_event_id = events[-1].id
            tokens = await push_tokens(session, pass_ids)
        result.updated += len(pass_ids)
        if tokens and wallet.pusher is not None:
            report = await wallet.pusher.push(wallet.pass_type_id, tokens)
            result.sent += report.sent
            result.failed += report.failed
            if report.gone:
                async with db.transaction() as session:
                    await forget_push_tokens(session, report.gone)
                result.forgotten += len(report.gone)
        if len(events) < BATCH:
            break
    if result.failed:
        log.warning("Apple Wallet: %d pushes failed", result.failed)
    return result
