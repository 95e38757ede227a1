"""The patron's own account, as My Library shows and changes it: the card, the procedures
open now, the applications made, the notification choices and the password.

Every function works in the caller's transaction, except :func:`change_password`, which
takes the database: the current password is checked (and counted against the login
limits) outside any transaction, as at login.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cardservice.cards.models import Card
from cardservice.db.base import utcnow
from cardservice.db.engine import Database
from cardservice.errors import InvalidInput, NotFound
from cardservice.mail.errors import InvalidRecipient
from cardservice.mail.letterhead import letterhead
from cardservice.mail.outbox import OutgoingMail, checked_address, enqueue
from cardservice.mail.render import Language
from cardservice.patrons.card_view import CardState, card_state, current_card
from cardservice.patrons.devices import forget_all
from cardservice.patrons.login import LoginLimits, PatronBadCredentials, verify_current_password
from cardservice.patrons.models import Patron
from cardservice.patrons.paths import FORGOT_PASSWORD_PATH, link
from cardservice.profiles.schema import Profile
from cardservice.registration.form import NOTIFICATION_FIELDS
from cardservice.registration.models import Application
from cardservice.registration.procedures import Availability, availability
from cardservice.security.passwords import check_password, hash_password

# The notification keys, in the order the application form asks them
# (registration.form.Notifications' fields).
NOTIFICATION_KEYS: tuple[str, ...] = tuple(NOTIFICATION_FIELDS.values())


class PatronGone(NotFound):
    """This patron record no longer exists."""

    code = "patron_not_found"


class PasswordsDiffer(InvalidInput):
    """The two new passwords are not the same."""

    code = "password_mismatch"


@dataclass(frozen=True, slots=True)
class Overview:
    """Everything My Library shows for one patron on one library day."""

    patron: Patron
    card: Card | None
    state: CardState | None
    procedures: list[Availability]
    applications: list[Application]
    notifications: dict[str, bool]


async def overview(
    session: AsyncSession, patron: Patron, profile: Profile, today: date
) -> Overview:
    card = await current_card(session, patron.id)
    return Overview(
        patron=patron,
        card=card,
        state=card_state(card, today) if card is not None else None,
        procedures=await availability(session, patron, profile, today),
        applications=await applications_of(session, patron.id),
        notifications=notification_choices(patron),
    )


async def applications_of(session: AsyncSession, patron_id: int) -> list[Application]:
    """The patron's applications, newest first (drafts too: one started and not sent)."""
    found = await session.scalars(
        select(Application)
        .where(Application.patron_id == patron_id)
        .order_by(Application.id.desc())
        .limit(100)
    )
    return list(found)


def notification_choices(patron: Patron) -> dict[str, bool]:
    """Every key, in form order; a key the record lacks (an imported patron) is off."""
    stored = patron.notifications or {}
    return {key: bool(stored.get(key, False)) for key in NOTIFICATION_KEYS}


async def save_notifications(
    session: AsyncSession, patron: Patron, chosen: Mapping[str, bool]
) -> dict[str, bool]:
    """Store the choices (unknown keys are ignored, missing ones are off); returns them."""
    choices = {key: bool(chosen.get(key, False)) for key in NOTIFICATION_KEYS}
    patron.notifications = choices  # a new dict, so the JSON column is seen as changed
    await session.flush()
    return choices


async def set_password(
    session: AsyncSession,
    patron: Patron,
    new_hash: str,
    *,
    profile: Profile,
    base_url: str,
    language: Language,
    now: datetime | None = None,
) -> None:
    """The one way a patron's password changes (My Library or a reset link): the new hash
    (which ends every session made with the old one, through its fingerprint), every
    remembered device ended, and a ``password_changed`` notice to the registered address."""
    patron.password_hash = new_hash
    patron.updated_at = now or utcnow()
    await forget_all(session, patron.id)
    await session.flush()
    try:
        address = checked_address(patron.email)
    except InvalidRecipient:  # an imported record without a usable address
        return
    context = {
        "name": patron.person_name,
        "library": letterhead(profile, language),
        "reset_link": link(base_url, FORGOT_PASSWORD_PATH),
    }
    await enqueue(session, OutgoingMail(address, "password_changed", language, context), now=now)


def check_new_password(profile: Profile, new: str, again: str, *, email: str) -> None:
    """Raise :class:`PasswordsDiffer` (field ``new_password_again``) when the two typings
    differ, else ``PasswordRejected`` when the profile's policy refuses the password."""
    if new != again:
        raise PasswordsDiffer(field="new_password_again")
    check_password(profile.password, new, email=email)


@dataclass(frozen=True, slots=True, kw_only=True)
class PasswordChange:
    current: str
    new: str
    again: str


async def change_password(
    db: Database,
    patron: Patron,
    change: PasswordChange,
    *,
    profile: Profile,
    base_url: str,
    language: Language,
    client: str,
    limits: LoginLimits | None = None,
    rate_secret: bytes = b"",
) -> Patron:
    """Check and set a new password; returns the patron as stored afterwards.

    Raises, in this order: :class:`~cardservice.patrons.login.PatronBadCredentials` (field
    ``current_password``) or ``PatronLoginLimited``; :class:`PasswordsDiffer` (field
    ``new_password_again``); :class:`~cardservice.security.passwords.PasswordRejected`
    (field ``new_password``) under the profile's policy; :class:`PatronGone`.
    """
    await verify_current_password(
        db, patron, change.current, client=client, limits=limits, secret=rate_secret
    )
    check_new_password(profile, change.new, change.again, email=patron.email)
    new_hash = await hash_password(change.new)  # slow: outside the transaction
    async with db.transaction() as session:
        stored = await session.get(Patron, patron.id)
        if stored is None:
            raise PatronGone
        if stored.password_hash != patron.password_hash:  # changed meanwhile (a reset link)
            raise PatronBadCredentials(field="current_password")
        await set_password(
            session, stored, new_hash, profile=profile, base_url=base_url, language=language
        )
    return stored
