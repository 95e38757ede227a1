"""Expiry reminders: "your card expires on ..., renew it in My Library".

The rule (PRODUCT.md, "Email": card expiry near, only to patrons who opted in): a patron whose
``notifications["expiry_near"]`` is true gets the email ``expiry_reminder`` for each of their
**active** cards that expires within ``profile.card.expiry_notice_days`` of the library's
today (0: never), once per card per expiry date (delivery key ``expiry:{card_id}:{expires_on}``).
A renewal moves the expiry date, so the renewed card gets a reminder of its own when its time
comes. Expired cards are past "near" (renewal is open to them anyway); suspended and revoked
cards are not the patron's usable card, so neither gets one.

The job works in batches, one transaction each: read the next cards due, claim their delivery
rows (insert-or-skip), queue the emails beside the claims. Safe to run twice, and on several
processes at once, on both engines (see ``deliveries.claim``).
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cardservice.calendar import local_today
from cardservice.cards.models import Card, CardStatus
from cardservice.db.base import utcnow
from cardservice.db.engine import Database
from cardservice.mail.errors import InvalidRecipient
from cardservice.mail.letterhead import letterhead
from cardservice.mail.outbox import OutgoingMail, enqueue
from cardservice.notices.deliveries import (
    already_delivered,
    claim,
    mail_language,
    opted_in,
)
from cardservice.patrons.models import Patron
from cardservice.profiles.schema import Profile

log = logging.getLogger(__name__)

TEMPLATE: Final = "expiry_reminder"
# Cards per transaction: short transactions, so the counter's writes never wait long.
BATCH_SIZE: Final = 200


def reminder_key(card_id: int, expires_on: date) -> str:
    """The delivery key: one reminder per card per expiry date."""
    return f"expiry:{card_id}:{expires_on.isoformat()}"


def renew_link(base_url: str) -> str:
    """Where a patron renews: My Library, after logging in."""
    return f"{base_url.rstrip('/')}/my"


async def send_expiry_reminders(
    db: Database,
    profile: Profile,
    *,
    base_url: str,
    now: datetime | None = None,
    batch_size: int = BATCH_SIZE,
) -> int:
    """Queue every reminder due now; returns how many this run queued (0 when another run
    already did)."""
    days = profile.card.expiry_notice_days
    if days == 0:
        return 0
    now = now or utcnow()
    today = local_today(ZoneInfo(profile.library.timezone), now)
    last_day = today + timedelta(days=days)
    queued, after_id = 0, 0
    while True:
        async with db.transaction() as session:
            due = await _due(session, today, last_day, after_id, batch_size)
            queued += await _remind(session, due, profile, base_url=base_url, now=now)
        if len(due) < batch_size:
            return queued
        after_id = due[-1][0].id


async def _due(
    session: AsyncSession, first_day: date, last_day: date, after_id: int, limit: int
) -> list[tuple[Card, Patron]]:
    """The next ``limit`` active cards of opted-in patrons expiring within the period."""
    result = await session.execute(
        select(Card, Patron)
        .join(Patron, Patron.id == Card.patron_id)
        .where(
            Card.id > after_id,
            Card.status == CardStatus.ACTIVE,
            Card.expires_on >= first_day,
            Card.expires_on <= last_day,
            opted_in("expiry_near"),
        )
        .order_by(Card.id)
        .limit(limit)
    )
    return [(card, patron) for card, patron in result]


async def _remind(
    session: AsyncSession,
    due: list[tuple[Card, Patron]],
    profile: Profile,
    *,
    base_url: str,
    now: datetime,
) -> int:
    keyed = {
        (reminder_key(card.id, card.expires_on), patron.id): (card, patron) for card, patron in due
    }
    fresh = set(keyed) - await already_delivered(session, keyed)
    claimed = await claim(session, fresh, now=now)
    queued = 0
    for pair in sorted(claimed, key=lambda pair: keyed[pair][0].id):
        card, patron = keyed[pair]
        context = {
            "name": patron.person_name,
            "user_number": card.user_number,
            "expires_on": card.expires_on,
            "renew_link": renew_link(base_url),
            "library": letterhead(profile, mail_language(patron)),
        }
        try:
            await enqueue(
                session,
                OutgoingMail(patron.email, TEMPLATE, mail_language(patron), context),
                now=now,
            )
        except InvalidRecipient:
            # Kept as delivered: an address that cannot take mail must not stop the job.
            log.warning("expiry reminder not sent: patron %s has no usable address", patron.id)
            continue
        queued += 1
    return queued
