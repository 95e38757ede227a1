"""The PassKit web service's work, without HTTP: which pass a card has, who may ask for
it, which devices hold it and which of a device's passes changed.

The rules are Apple's ("Wallet Passes" web service reference): a request about a pass
carries ``Authorization: ApplePass <authenticationToken>``, and every failure to show the
right token (an unknown serial, another pass's token, another pass type) is the same
``401`` (:class:`PassUnauthorized`), so a caller learns nothing about serials it does not
hold. A pass's token is not stored: it is the HMAC-SHA-256 of its serial under a key
derived from the app's secret (``authentication_token``), compared in constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Final

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cardservice.cards.models import Card
from cardservice.errors import DomainError, Kind, Unauthenticated
from cardservice.passkit.models import ApplePass, ApplePassRegistration

SCHEME: Final = "ApplePass"
DEVICE_ID_MAX: Final = 128
# A pass lives on a person's few devices (a phone, a watch, a tablet on the same account);
# more registrations than this are someone registering made-up devices, and every one
# would get each push. A new device past the limit replaces the longest-registered.
DEVICES_PER_PASS_MAX: Final = 10
# APNs device tokens are hex (64 characters today; longer ones are allowed for).
_PUSH_TOKEN: Final = re.compile(r"[0-9A-Fa-f]{16,200}")
_DEVICE_ID: Final = re.compile(r"[A-Za-z0-9._-]{1,128}")
# The last Unix second a datetime can hold (9999-12-31T23:59:59Z).
_LAST_TAG: Final = int(datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp())


class PassUnauthorized(Unauthenticated):
    """This request may not see or change that pass (its authentication token is wrong)."""

    code = "pass_unauthorized"


class PassRequestMalformed(DomainError):
    """The device identifier or the push token is not well formed."""

    code = "pass_request_malformed"
    kind = Kind.MALFORMED


def new_serial() -> str:
    """A random serial: 128 bits, 32 hex characters, nothing about the card."""
    return secrets.token_hex(16)


def authentication_token(key: bytes, serial: str) -> str:
    """The pass's ``authenticationToken``: base64url HMAC-SHA-256 of ``serial`` under
    ``key`` (43 characters; Apple asks for at least 16)."""
    digest = hmac.new(key, serial.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def whole_second(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(microsecond=0)


def next_update(previous: datetime, now: datetime) -> datetime:
    """A pass's new ``updated_at``: now in whole seconds, and always after ``previous``
    (HTTP dates and the tags have one-second resolution)."""
    return max(whole_second(now), whole_second(previous) + timedelta(seconds=1))


def tag_of(moment: datetime) -> str:
    """The ``lastUpdated`` tag: Unix seconds."""
    return str(int(whole_second(moment).timestamp()))


def moment_of_tag(tag: str | None) -> datetime | None:
    """The moment of a tag this service gave out; None for no tag or one it did not give
    (then every registered pass counts as updated, which is always safe)."""
    if not tag or not tag.isascii() or not tag.isdigit() or len(tag) > 12:
        return None
    seconds = int(tag)
    if seconds > _LAST_TAG:  # after 9999-12-31: no datetime holds it, and none was given out
        return None
    return datetime.fromtimestamp(seconds, UTC)


async def pass_of_card(
    session: AsyncSession, card: Card, *, now: datetime | None = None
) -> ApplePass:
    """The card's pass, made on first download. Two first downloads at once make one pass
    (the card's row is unique; the loser reads the winner's)."""
    found = await session.scalar(select(ApplePass).where(ApplePass.card_id == card.id))
    if found is not None:
        return found
    moment = whole_second(now or datetime.now(UTC))
    created = ApplePass(card_id=card.id, serial=new_serial(), updated_at=moment)
    try:
        async with session.begin_nested():
            session.add(created)
    except IntegrityError:
        found = await session.scalar(select(ApplePass).where(ApplePass.card_id == card.id))
        if found is None:
            raise
        return found
    return created


def presented_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: ApplePass <token>`` header, else None."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    return token.strip() or None if scheme == SCHEME else None


async def authorized_pass(
    session: AsyncSession,
    *,
    key: bytes,
    pass_type_id: str,
    wanted_type: str,
    serial: str,
    authorization: str | None,
) -> tuple[ApplePass, Card]:
    """The pass ``serial`` of type ``wanted_type`` and its card, if ``authorization``
    carries its token; else :class:`PassUnauthorized`, the same for every reason."""
    token = presented_token(authorization)
    expected = authentication_token(key, serial)
    right = token is not None and hmac.compare_digest(token.encode(), expected.encode())
    if not right or wanted_type != pass_type_id:
        raise PassUnauthorized
    row = (
        await session.execute(
            select(ApplePass, Card)
            .join(Card, Card.id == ApplePass.card_id)
            .where(ApplePass.serial == serial)
        )
    ).first()
    if row is None:
        raise PassUnauthorized
    return row[0], row[1]


def check_device_id(device_id: str) -> None:
    if not _DEVICE_ID.fullmatch(device_id):
        raise PassRequestMalformed(field="deviceLibraryIdentifier")


async def register_device(
    session: AsyncSession, apple_pass: ApplePass, device_id: str, push_token: str
) -> bool:
    """Register the device for the pass's pushes; True if new, False if it was (its push
    token then replaced, as a device's token may change). A pass keeps at most
    :data:`DEVICES_PER_PASS_MAX` devices: a new one past that replaces the oldest."""
    check_device_id(device_id)
    if not _PUSH_TOKEN.fullmatch(push_token):
        raise PassRequestMalformed(field="pushToken")
    existing = await session.scalar(
        select(ApplePassRegistration).where(
            ApplePassRegistration.pass_id == apple_pass.id,
            ApplePassRegistration.device_id == device_id,
        )
    )
    if existing is not None:
        existing.push_token = push_token
        return False
    await _make_room(session, apple_pass)
    try:
        async with session.begin_nested():
            session.add(
                ApplePassRegistration(
                    pass_id=apple_pass.id, device_id=device_id, push_token=push_token
                )
            )
    except IntegrityError:  # the same device registering twice at once
        return False
    return True


async def _make_room(session: AsyncSession, apple_pass: ApplePass) -> None:
    """Drop the pass's oldest registrations so that one more stays within the limit."""
    kept = (
        select(ApplePassRegistration.id)
        .where(ApplePassRegistration.pass_id == apple_pass.id)
        .order_by(ApplePassRegistration.created_at.desc(), ApplePassRegistration.id.desc())
        .limit(DEVICES_PER_PASS_MAX - 1)
    )
    await session.execute(
        delete(ApplePassRegistration).where(
            ApplePassRegistration.pass_id == apple_pass.id,
            ApplePassRegistration.id.not_in(kept.scalar_subquery()),
        )
    )


async def unregister_device(session: AsyncSession, apple_pass: ApplePass, device_id: str) -> None:
    """Forget the device's registration for the pass (none: nothing to do)."""
    check_device_id(device_id)
    await session.execute(
        delete(ApplePassRegistration).where(
            ApplePassRegistration.pass_id == apple_pass.id,
            ApplePassRegistration.device_id == device_id,
        )
    )


async def updated_serials(
    session: AsyncSession, device_id: str, *, since: str | None
) -> tuple[list[str], str] | None:
    """The serials of the device's passes changed after the tag ``since`` (all of them
    without a tag it gave out), and the tag to ask with next time; None when there are
    none. The pass type is checked by the caller."""
    check_device_id(device_id)
    after = moment_of_tag(since)
    query = (
        select(ApplePass.serial, ApplePass.updated_at)
        .join(ApplePassRegistration, ApplePassRegistration.pass_id == ApplePass.id)
        .where(ApplePassRegistration.device_id == device_id)
        .order_by(ApplePass.serial)
    )
    if after is not None:
        query = query.where(ApplePass.updated_at > after)
    rows = (await session.execute(query)).all()
    if not rows:
        return None
    return [serial for serial, _ in rows], tag_of(max(moment for _, moment in rows))


async def mark_updated(
    session: AsyncSession, user_numbers: Iterable[str], *, now: datetime
) -> list[int]:
    """Bump the passes of the cards with these numbers (:func:`next_update`); their ids."""
    numbers = set(user_numbers)
    if not numbers:
        return []
    passes = (
        await session.scalars(
            select(ApplePass)
            .join(Card, Card.id == ApplePass.card_id)
            .where(Card.user_number.in_(numbers))
        )
    ).all()
    for apple_pass in passes:
        apple_pass.updated_at = next_update(apple_pass.updated_at, now)
    return [apple_pass.id for apple_pass in passes]


async def push_tokens(session: AsyncSession, pass_ids: Iterable[int]) -> list[str]:
    ids = list(pass_ids)
    if not ids:
        return []
    tokens = await session.scalars(
        select(ApplePassRegistration.push_token)
        .where(ApplePassRegistration.pass_id.in_(ids))
        .distinct()
    )
    return sorted(tokens)


async def forget_push_tokens(session: AsyncSession, tokens: Iterable[str]) -> None:
    """Drop registrations whose push token APNs says is gone."""
    gone = list(tokens)
    if gone:
        await session.execute(
            delete(ApplePassRegistration).where(ApplePassRegistration.push_token.in_(gone))
        )
