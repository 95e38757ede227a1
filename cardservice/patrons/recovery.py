"""A forgotten user number (利用券番号が分からない) and a forgotten password, by email.

Both answer a stranger the same whatever they typed (PRODUCT.md, "Procedures"; architecture
principle 2): these functions return nothing, raise only for input that is malformed
whoever asks (an address that is no address, a date that is no date), and do the same
database work for a known and an unknown person. The pages add the rest (one redirect,
the same time).

- **Forgotten number:** an email address and a birth date. Every patron registered with
  both (a family shares one address; twins share a birth date too) is listed, with their
  current user number, in ONE email to that address. When nobody matches, the email says
  so, so the work is the same and the person who typed their own address learns that the
  birth date or address did not match.
- **Forgotten password:** a user number or an email address, as the login field takes
  them. Each patron found gets a link to their own registered address, valid
  ``patrons.reset_link_hours``, single-use, bound to the current password hash ("" for an
  imported patron who has none yet), so it dies when the password changes. A family
  sharing an address gets one email per person, each naming whom it is for.

Requests are limited per address (or number, as typed) and per client through
``security.ratelimit.allow_recovery_email``; over the limit nothing is sent, silently.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cardservice.calendar import english_date
from cardservice.cards.models import CardStatus
from cardservice.cards.numbers import NumberFormat
from cardservice.db.base import utcnow
from cardservice.errors import InvalidInput
from cardservice.mail.addresses import normalise_address
from cardservice.mail.errors import InvalidRecipient
from cardservice.mail.letterhead import letterhead
from cardservice.mail.outbox import OutgoingMail, checked_address, enqueue
from cardservice.mail.render import Language
from cardservice.patrons.account import set_password
from cardservice.patrons.card_view import current_card
from cardservice.patrons.login import MAX_PATRONS_PER_EMAIL, parse_login, patrons_named
from cardservice.patrons.models import Patron
from cardservice.patrons.paths import LOGIN_PATH, RESET_PATH, link
from cardservice.profiles.schema import Profile
from cardservice.security.links import LinkInvalid, LinkPurpose, consume, issue, peek, subject_of
from cardservice.security.ratelimit import allow_recovery_email

_DATE = re.compile(r"([0-9]{4})[-/.年]([0-9]{1,2})[-/.月]([0-9]{1,2})日?")
_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fc\uff0d"


class BirthDateInvalid(InvalidInput):
    """Enter the date of birth as a real date."""

    code = "birth_date_invalid"


@dataclass(frozen=True, slots=True, kw_only=True)
class Requester:
    """Who asks: the client address the limits count, the page's language for the email,
    and the key that hashes what the limits store."""

    client: str
    language: Language = "ja"
    rate_secret: bytes = b""


def parse_birth_date(raw: str, *, field: str = "birth_date") -> date:
    """A date as a date field sends it (2026-04-01) or as people type it (2026/4/1,
    2026年4月1日, full-width digits, 1 April 2026); :class:`BirthDateInvalid` otherwise."""
    typed = unicodedata.normalize("NFKC", raw[:32]).strip()
    text = re.sub(f"[{_DASHES}]", "-", typed.replace(" ", ""))
    found = _DATE.fullmatch(text)
    if found is None:
        written = english_date(typed)  # as the English page writes dates: 1 April 1990
        if written is None:
            raise BirthDateInvalid(field=field)
        return written
    try:
        return date(*(int(part) for part in found.groups()))
    except ValueError:  # 2001-02-29, month 13 and the like
        raise BirthDateInvalid(field=field) from None


def recovery_address(raw: str) -> str:
    """The address as typed, in the form the service stores (``mail.addresses``); raises
    :class:`~cardservice.mail.errors.InvalidRecipient` (field ``email``) when it is none."""
    return normalise_address(raw, field="email")


async def remind_numbers(
    session: AsyncSession,
    address: str,
    birth_date: date,
    *,
    requester: Requester,
    profile: Profile,
    base_url: str,
    now: datetime | None = None,
) -> None:
    """Queue the one email that lists the user numbers registered with ``address`` (from
    :func:`recovery_address`) and ``birth_date``; or nothing, over the limits."""
    now = now or utcnow()
    allowed = await allow_recovery_email(
        session,
        profile.patrons,
        key=address,
        client=requester.client,
        now=now,
        secret=requester.rate_secret,
    )
    listed = await _numbers_of(session, address, birth_date)  # looked up either way
    if not allowed:
        return
    context = {
        "patrons": listed,
        "login_link": link(base_url, LOGIN_PATH),
        "library": letterhead(profile, requester.language),
    }
    await enqueue(
        session, OutgoingMail(address, "number_reminder", requester.language, context), now=now
    )


async def _numbers_of(session: AsyncSession, address: str, born: date) -> list[dict[str, Any]]:
    """``[{"name": ..., "user_number": ... or None}]``: a revoked number is no longer one."""
    patrons = await session.scalars(
        select(Patron)
        .where(Patron.email == address, Patron.birth_date == born)
        .order_by(Patron.id)
        .limit(MAX_PATRONS_PER_EMAIL)
    )
    listed = []
    for patron in patrons:
        card = await current_card(session, patron.id)
        usable = card is not None and card.status != CardStatus.REVOKED
        listed.append(
            {
                "name": patron.person_name,
                "user_number": card.user_number if card is not None and usable else None,
            }
        )
    return listed


def reset_link(base_url: str, token: str) -> str:
    return link(base_url, f"{RESET_PATH}/{token}")


async def request_reset(
    session: AsyncSession,
    login: str,
    *,
    requester: Requester,
    profile: Profile,
    number_format: NumberFormat,
    base_url: str,
    now: datetime | None = None,
) -> None:
    """Queue a reset link for each patron ``login`` names (a user number or an email
    address), to that patron's registered address; nothing for nobody or over the limits."""
    now = now or utcnow()
    name = parse_login(number_format, login)
    allowed = await allow_recovery_email(
        session,
        profile.patrons,
        key=f"{name.kind}:{name.value}",
        client=requester.client,
        now=now,
        secret=requester.rate_secret,
    )
    patrons = await patrons_named(session, name)  # looked up either way
    if not allowed:
        return
    hours = profile.patrons.reset_link_hours
    for patron in patrons:
        try:
            address = checked_address(patron.email)
        except InvalidRecipient:  # an imported record without a usable address
            continue
        token = await issue(
            session,
            LinkPurpose.PASSWORD_RESET,
            str(patron.id),
            timedelta(hours=hours),
            bound_to=patron.password_hash or "",
            now=now,
        )
        context = {
            "name": patron.person_name,
            "link": reset_link(base_url, token),
            "expires_hours": hours,
            "library": letterhead(profile, requester.language),
        }
        await enqueue(
            session, OutgoingMail(address, "password_reset", requester.language, context), now=now
        )


async def _reset_patron(session: AsyncSession, token: str) -> Patron | None:
    subject = await subject_of(session, LinkPurpose.PASSWORD_RESET, token)
    if subject is None or not subject.isdigit():
        return None
    return await session.get(Patron, int(subject))


async def reset_target(session: AsyncSession, token: str, *, now: datetime | None = None) -> Patron:
    """The patron a reset link is for, while it can still be used; it stays unused (a mail
    scanner that fetches the link uses nothing). :class:`LinkInvalid` says why not."""
    patron = await _reset_patron(session, token)
    await peek(
        session,
        LinkPurpose.PASSWORD_RESET,
        token,
        bound_to=(patron.password_hash or "") if patron else "",
        now=now,
    )
    if patron is None:  # a link whose patron is gone
        raise LinkInvalid("This link is not known.", code="link_unknown")
    return patron


async def reset_password(
    session: AsyncSession,
    token: str,
    new_hash: str,
    *,
    profile: Profile,
    base_url: str,
    language: Language,
    now: datetime | None = None,
) -> Patron:
    """Use the link once and set the new password (already checked against the policy and
    hashed): every device ends, and a ``password_changed`` notice goes to the patron. A link
    used meanwhile, or a password changed meanwhile, raises :class:`LinkInvalid`."""
    now = now or utcnow()
    patron = await _reset_patron(session, token)
    await consume(
        session,
        LinkPurpose.PASSWORD_RESET,
        token,
        bound_to=(patron.password_hash or "") if patron else "",
        now=now,
    )
    if patron is None:
        raise LinkInvalid("This link is not known.", code="link_unknown")
    await set_password(
        session, patron, new_hash, profile=profile, base_url=base_url, language=language, now=now
    )
    return patron
