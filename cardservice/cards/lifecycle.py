"""A card's life after issue: reissue with a new number, renewal, suspension, reinstatement.

Each function works in the caller's transaction and writes a :class:`CardEvent` for the
library system beside the change. Online procedures (after review) and the staff card desk
and CLI (at once) come through here, so a reissue has the same effects wherever it starts
(PRODUCT.md, "Procedures"; architecture principle 4: reissue revokes).
"""

from __future__ import annotations

import calendar as _calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from cardservice.calendar import add_years, end_of_day, local_today
from cardservice.cards.models import (
    Card,
    CardEvent,
    CardEventKind,
    CardStatus,
    RevocationReason,
    TokenRevocation,
)
from cardservice.cards.service import CardAlreadyRevoked, CardPolicy, issue_card, new_jti
from cardservice.errors import Conflict
from cardservice.profiles.schema import CardSection


class ReissueReason(StrEnum):
    """Why a card is reissued with a new number (Kashiwa: 紛失, 氏名の変更)."""

    LOST = "lost"
    NAME_CHANGED = "name_changed"


# The suspension reason while a "lost" reissue waits for review: a finder cannot borrow.
REPORTED_LOST = "reported_lost"
# A renewal replaces the card token (new expiry); the old token stops verifying.
TOKEN_RENEWED = "renewed"  # noqa: S105  # a revocation reason, not a secret


class CardNotSuspended(Conflict):
    """The card is not suspended, so there is nothing to reinstate."""

    code = "card_not_suspended"


class CardNotRenewable(Conflict):
    """The card cannot be renewed now (revoked or suspended)."""

    code = "card_not_renewable"


async def record_event(
    session: AsyncSession,
    kind: CardEventKind,
    card: Card,
    *,
    new_user_number: str | None = None,
    detail: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> CardEvent:
    """One row for the library system, in the caller's transaction."""
    event = CardEvent(
        kind=kind,
        patron_id=card.patron_id,
        user_number=card.user_number,
        new_user_number=new_user_number,
        detail=detail or {},
        created_at=now or datetime.now(UTC),
    )
    session.add(event)
    await session.flush()
    return event


async def _revoke_token(
    session: AsyncSession, card: Card, reason: str, policy: CardPolicy, now: datetime
) -> None:
    session.add(
        TokenRevocation(
            jti=card.token_jti,
            user_number=card.user_number,
            reason=reason,
            revoked_at=now,
            token_expires_at=end_of_day(card.expires_on, policy.timezone),
        )
    )
    await session.flush()


async def reissue_card(
    session: AsyncSession,
    old: Card,
    reason: ReissueReason,
    policy: CardPolicy,
    *,
    now: datetime | None = None,
) -> Card:
    """A new card with a **new** user number for the same patron; the old card is revoked
    with reason ``reissued`` and points to the new one, and its token is revoked. The new
    card is valid for the profile's full validity from today, or until the old card's
    expiry if that is later (a card renewed just before it was lost keeps its renewal).

    Raises :class:`CardAlreadyRevoked` if the old card is revoked, also when another
    transaction revoked it first (the revocation is a guarded UPDATE, so of two concurrent
    reissues exactly one succeeds and only one new number survives).
    """
    if old.status == CardStatus.REVOKED:
        raise CardAlreadyRevoked(user_number=old.user_number)
    now = now or datetime.now(UTC)
    new = await issue_card(session, old.patron_id, policy, now=now)
    new.expires_on = max(new.expires_on, old.expires_on)
    revoked = await session.scalar(
        update(Card)
        .where(Card.id == old.id, Card.status != CardStatus.REVOKED)
        .values(
            status=CardStatus.REVOKED,
            status_reason=RevocationReason.REISSUED,
            revoked_at=now,
            replaced_by_id=new.id,
            updated_at=now,
        )
        .returning(Card.id)
        .execution_options(synchronize_session=False)
    )
    if revoked is None:
        raise CardAlreadyRevoked(user_number=old.user_number)
    await session.refresh(old)
    await _revoke_token(session, old, RevocationReason.REISSUED, policy, now)
    await record_event(
        session,
        CardEventKind.REISSUED,
        old,
        new_user_number=new.user_number,
        detail={"reason": str(reason)},
        now=now,
    )
    return new


async def suspend_card(
    session: AsyncSession, card: Card, reason: str, *, now: datetime | None = None
) -> None:
    """Suspend a card that is not revoked (``reported_lost``, or a staff reason)."""
    if card.status == CardStatus.REVOKED:
        raise CardAlreadyRevoked(user_number=card.user_number)
    card.status = CardStatus.SUSPENDED
    card.status_reason = reason
    await record_event(session, CardEventKind.SUSPENDED, card, detail={"reason": reason}, now=now)


async def reinstate_card(session: AsyncSession, card: Card, *, now: datetime | None = None) -> None:
    """Make a suspended card active again (a lost card found, a reissue rejected)."""
    if card.status == CardStatus.REVOKED:
        raise CardAlreadyRevoked(user_number=card.user_number)
    if card.status != CardStatus.SUSPENDED:
        raise CardNotSuspended(user_number=card.user_number)
    card.status = CardStatus.ACTIVE
    card.status_reason = None
    await record_event(session, CardEventKind.REINSTATED, card, now=now)


def renewed_expiry(old_expiry: date, section: CardSection, today: date) -> date:
    """The new expiry date of a renewal approved ``today``: ``validity_years`` from the old
    expiry (``renewal_expiry_from = "old_expiry"``, while the card has not expired yet) or
    from the approval date (``"approval"``, and any already-expired card)."""
    base = today
    if section.renewal_expiry_from == "old_expiry" and old_expiry >= today:
        base = old_expiry
    return add_years(base, section.validity_years)


async def renew_card(
    session: AsyncSession,
    card: Card,
    section: CardSection,
    policy: CardPolicy,
    *,
    now: datetime | None = None,
) -> date:
    """Renewal: the same user number, a new expiry date and a new card token (the old token
    is revoked with reason ``renewed``). A plastic card with the same number keeps working.
    Returns the new expiry date."""
    if card.status != CardStatus.ACTIVE:
        raise CardNotRenewable(user_number=card.user_number, status=card.status)
    now = now or datetime.now(UTC)
    old_expiry = card.expires_on
    await _revoke_token(session, card, TOKEN_RENEWED, policy, now)
    card.expires_on = renewed_expiry(old_expiry, section, local_today(policy.timezone, now))
    card.token_jti = new_jti()
    await record_event(
        session,
        CardEventKind.RENEWED,
        card,
        detail={"old_expires_on": str(old_expiry), "expires_on": str(card.expires_on)},
        now=now,
    )
    return card.expires_on


def months_before(day: date, months: int) -> date:
    """The same day ``months`` earlier, clamped to the month's last day (31 March - 1 month
    is 28 or 29 February)."""
    month_index = day.year * 12 + day.month - 1 - months
    year, month = divmod(month_index, 12)
    last = _calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


class RenewalBasis(StrEnum):
    """Why renewal is open (Kashiwa: 更新時期が近い, 期限切れ, 3年以上使っていない)."""

    WINDOW = "window"
    EXPIRED = "expired"
    DORMANT = "dormant"


@dataclass(frozen=True, slots=True)
class RenewalOpening:
    """Whether a card may be renewed on a day, why, and if not, from when."""

    basis: RenewalBasis | None
    opens_on: date

    @property
    def open(self) -> bool:
        return self.basis is not None


def renewal_opens_on(expires_on: date, section: CardSection) -> date:
    """The first day of the renewal window: ``renewal_window_months`` or
    ``renewal_window_days`` before expiry, as the profile says."""
    if section.renewal_window_months:
        return months_before(expires_on, section.renewal_window_months)
    return expires_on - timedelta(days=section.renewal_window_days)


def last_use(card: Card) -> date:
    """The day the card was last verified at a counter, or issued if never."""
    return card.last_used_on or card.issued_at.date()


def renewal_opening(card: Card, section: CardSection, today: date) -> RenewalOpening:
    """Open within the window before expiry, after expiry, or when the card has not been
    used at a counter for ``dormant_years``."""
    opens_on = renewal_opens_on(card.expires_on, section)
    if card.expires_on < today:
        return RenewalOpening(RenewalBasis.EXPIRED, opens_on)
    if today >= opens_on:
        return RenewalOpening(RenewalBasis.WINDOW, opens_on)
    if add_years(last_use(card), section.dormant_years) <= today:
        return RenewalOpening(RenewalBasis.DORMANT, opens_on)
    return RenewalOpening(None, opens_on)
