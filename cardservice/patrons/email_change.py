"""A patron's new email address (登録内容変更, the email part; issue 7, item 6).

No review and no identity document: a link goes to the NEW address first
(``email_change_verify``), and following it (a page with a button, then the button)
changes the address; a notice goes to the OLD address (``email_changed``), so a change
the patron did not make does not go unnoticed. The link's subject is
``"<patron id>:<new address>"`` and it is bound to the address it replaces, so once the
address has changed (by this link or another one) every other pending link stops working.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from cardservice.cards.lifecycle import record_event
from cardservice.cards.models import CardEventKind, CardStatus
from cardservice.db.base import utcnow
from cardservice.errors import InvalidInput
from cardservice.mail.addresses import normalise_address
from cardservice.mail.errors import InvalidRecipient
from cardservice.mail.letterhead import letterhead
from cardservice.mail.outbox import OutgoingMail, checked_address, enqueue
from cardservice.mail.render import Language
from cardservice.patrons.card_view import current_card
from cardservice.patrons.models import Patron
from cardservice.patrons.paths import EMAIL_VERIFY_PATH, link
from cardservice.profiles.schema import Profile
from cardservice.security.links import LinkInvalid, LinkPurpose, consume, issue, peek, subject_of
from cardservice.security.ratelimit import HOUR, hit

EMAIL_CHANGE_BUCKET = "email_change_patron"
# LinkToken.subject holds at most 254 characters: the patron id, a colon and the address.
_SUBJECT_MAX = 254


class EmailUnchanged(InvalidInput):
    """This is already your email address."""

    code = "email_unchanged"


class EmailTooLong(InvalidInput):
    """This email address is too long."""

    code = "email_too_long"


@dataclass(frozen=True, slots=True)
class PendingChange:
    """What a usable link would change: whose address, from what, to what."""

    patron: Patron
    old: str
    new: str


def verify_link(base_url: str, token: str) -> str:
    return link(base_url, f"{EMAIL_VERIFY_PATH}/{token}")


async def request_change(
    session: AsyncSession,
    patron: Patron,
    new_email: str,
    *,
    profile: Profile,
    base_url: str,
    language: Language,
    rate_secret: bytes = b"",
    now: datetime | None = None,
) -> str | None:
    """Send the confirmation link to the new address; returns that address as stored, or
    None when this patron asked too often within the hour (the count is kept: commit).

    Raises ``InvalidRecipient`` (field ``email``), :class:`EmailUnchanged` or
    :class:`EmailTooLong` before anything is written."""
    now = now or utcnow()
    address = normalise_address(new_email, field="email")
    if address == _stored_form(patron.email):
        raise EmailUnchanged(field="email")
    subject = f"{patron.id}:{address}"
    if len(subject) > _SUBJECT_MAX:
        raise EmailTooLong(field="email")
    allowed = await hit(
        session,
        EMAIL_CHANGE_BUCKET,
        str(patron.id),
        limit=profile.patrons.recovery_per_address_per_hour,
        window=HOUR,
        now=now,
        secret=rate_secret,
    )
    if not allowed:
        return None
    hours = profile.links.verification_hours
    token = await issue(
        session,
        LinkPurpose.EMAIL_CHANGE,
        subject,
        timedelta(hours=hours),
        bound_to=patron.email,
        now=now,
    )
    context = {
        "name": patron.person_name,
        "link": verify_link(base_url, token),
        "expires_hours": hours,
        "library": letterhead(profile, language),
    }
    await enqueue(session, OutgoingMail(address, "email_change_verify", language, context), now=now)
    return address


async def _pending(session: AsyncSession, token: str) -> tuple[Patron | None, str]:
    subject = await subject_of(session, LinkPurpose.EMAIL_CHANGE, token) or ""
    patron_id, _, address = subject.partition(":")
    patron = await session.get(Patron, int(patron_id)) if patron_id.isdigit() else None
    return patron, address


async def pending_change(
    session: AsyncSession, token: str, *, now: datetime | None = None
) -> PendingChange:
    """What the link would change, without using it; :class:`LinkInvalid` says why not."""
    patron, address = await _pending(session, token)
    await peek(
        session, LinkPurpose.EMAIL_CHANGE, token, bound_to=patron.email if patron else "", now=now
    )
    if patron is None:
        raise LinkInvalid("This link is not known.", code="link_unknown")
    return PendingChange(patron, patron.email, address)


async def confirm_change(
    session: AsyncSession,
    token: str,
    *,
    profile: Profile,
    language: Language,
    now: datetime | None = None,
) -> PendingChange:
    """Use the link: the patron's address becomes the new one, the old address is told, and
    the library system learns of the change through a card event."""
    now = now or utcnow()
    patron, address = await _pending(session, token)
    await consume(
        session, LinkPurpose.EMAIL_CHANGE, token, bound_to=patron.email if patron else "", now=now
    )
    if patron is None:
        raise LinkInvalid("This link is not known.", code="link_unknown")
    old = patron.email
    patron.email = address
    patron.updated_at = now
    card = await current_card(session, patron.id)
    if card is not None and card.status != CardStatus.REVOKED:
        await record_event(
            session, CardEventKind.DETAILS_CHANGED, card, detail={"fields": ["email"]}, now=now
        )
    await session.flush()
    try:
        old_address = checked_address(old)
    except InvalidRecipient:  # an imported record whose old address was unusable
        return PendingChange(patron, old, address)
    context = {
        "name": patron.person_name,
        "new_email": address,
        "library": letterhead(profile, language),
    }
    await enqueue(session, OutgoingMail(old_address, "email_changed", language, context), now=now)
    return PendingChange(patron, old, address)


def _stored_form(address: str) -> str:
    """The patron's current address as the service stores addresses today; an imported
    address that is none stays as it is (and equals no new address)."""
    try:
        return normalise_address(address)
    except InvalidRecipient:
        return address
