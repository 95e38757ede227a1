"""Issuing and revoking cards, and the card token that goes with a card."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cardservice.calendar import add_years, end_of_day, local_today
from cardservice.cards.allocation import allocate_number
from cardservice.cards.checkdigits import CheckScheme
from cardservice.cards.keys import Keyring
from cardservice.cards.models import Card, CardStatus, RevocationReason, TokenRevocation
from cardservice.cards.numbers import NumberFormat
from cardservice.cards.tokens import sign_card_token
from cardservice.errors import Conflict, NotFound
from cardservice.profiles import Profile


@dataclass(frozen=True, slots=True)
class CardPolicy:
    """What a profile says about cards, in the shape the card code needs."""

    number_format: NumberFormat
    validity_years: int
    timezone: ZoneInfo
    # The profile's card.counter_requires_rotating_code (cards.device_proof).
    require_device_proof: bool = False

    @classmethod
    def of(cls, profile: Profile) -> CardPolicy:
        return cls(
            number_format=NumberFormat(
                prefix=profile.number.prefix,
                length=profile.number.length,
                scheme=CheckScheme(profile.number.check_digit),
                start=profile.barcode.start,
                stop=profile.barcode.stop,
            ),
            validity_years=profile.card.validity_years,
            timezone=ZoneInfo(profile.library.timezone),
            require_device_proof=profile.card.counter_requires_rotating_code,
        )


class CardNotFound(NotFound):
    """No card has this user number."""

    code = "card_not_found"


class CardAlreadyRevoked(Conflict):
    """The card is already revoked."""

    code = "card_already_revoked"


def new_jti() -> str:
    return secrets.token_urlsafe(16)


async def issue_card(
    session: AsyncSession, patron_id: int, policy: CardPolicy, *, now: datetime | None = None
) -> Card:
    """A new card with a newly allocated number, in the caller's transaction."""
    now = now or datetime.now(UTC)
    card = Card(
        patron_id=patron_id,
        user_number=await allocate_number(session, policy.number_format),
        status=CardStatus.ACTIVE,
        issued_at=now,
        expires_on=add_years(local_today(policy.timezone, now), policy.validity_years),
        token_jti=new_jti(),
    )
    session.add(card)
    await session.flush()
    return card


async def get_card(session: AsyncSession, user_number: str) -> Card:
    card = await session.scalar(select(Card).where(Card.user_number == user_number))
    if card is None:
        raise CardNotFound(user_number=user_number)
    return card


async def revoke_card(
    session: AsyncSession,
    card: Card,
    reason: RevocationReason,
    policy: CardPolicy,
    *,
    now: datetime | None = None,
) -> None:
    """Revoke the number and its current token; both go on the revocation list."""
    if card.status == CardStatus.REVOKED:
        raise CardAlreadyRevoked(user_number=card.user_number)
    now = now or datetime.now(UTC)
    card.status = CardStatus.REVOKED
    card.status_reason = reason
    card.revoked_at = now
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


def card_token(
    card: Card,
    keyring: Keyring,
    policy: CardPolicy,
    *,
    issuer: str,
    audience: str,
    now: datetime | None = None,
) -> str:
    """The signed token for the card's QR code, signed with the key in use at ``now``."""
    return sign_card_token(
        keyring,
        user_number=card.user_number,
        expires_at=end_of_day(card.expires_on, policy.timezone),
        jti=card.token_jti,
        issuer=issuer,
        audience=audience,
        now=now or datetime.now(UTC),
    )


def set_suspended(card: Card, reason: str | None) -> None:
    """Suspend (with a reason) or reinstate (reason None) a card that is not revoked."""
    if card.status == CardStatus.REVOKED:
        raise CardAlreadyRevoked(user_number=card.user_number)
    card.status = CardStatus.SUSPENDED if reason else CardStatus.ACTIVE
    card.status_reason = reason
