"""One-time links sent by email: verify an address, answer an inquiry, reset a password,
confirm a patron's new email address.

A link token is 256 random bits, stored only as its SHA-256, bound to one purpose and one
subject, expiring and single-use. Using one is a single conditional UPDATE, so of two
concurrent uses exactly one succeeds. A token of one purpose never validates as another
(as in warehouse's token services, where the ``action`` must match).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import ColumnElement, and_, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cardservice.db.base import utcnow
from cardservice.errors import InvalidInput
from cardservice.security.models import LinkToken


class LinkPurpose(StrEnum):
    VERIFY_EMAIL = "verify_email"
    INQUIRY_ANSWER = "inquiry_answer"
    PASSWORD_RESET = "password_reset"  # noqa: S105  # a purpose name, not a password
    STAFF_INVITE = "staff_invite"
    # Sent to a patron's new address; the subject is "<patron id>:<new address>".
    EMAIL_CHANGE = "email_change"


# Purposes whose links must be bound to a secret of the subject's current state: a reset
# to the password hash, an email change to the address it replaces.
BOUND_PURPOSES = frozenset({LinkPurpose.PASSWORD_RESET, LinkPurpose.EMAIL_CHANGE})


class LinkInvalid(InvalidInput):
    """This link is not valid."""

    code = "link_invalid"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _binding(secret: str | None) -> str | None:
    # Domain-separated, so the stored value is never equal to a hash stored elsewhere.
    if secret is None:
        return None
    return hashlib.sha256(b"cardservice link binding\0" + secret.encode()).hexdigest()


async def issue(
    session: AsyncSession,
    purpose: LinkPurpose,
    subject: str,
    ttl: timedelta,
    *,
    bound_to: str | None = None,
    now: datetime | None = None,
) -> str:
    """A new token for ``subject``; the plain token goes in the email and nowhere else.

    ``bound_to`` is the secret the link depends on (the current password hash, "" when
    there is none yet); using the link later needs the same value.
    """
    if (purpose in BOUND_PURPOSES) != (bound_to is not None):
        raise ValueError(f"{purpose} links must be bound exactly when they reset a secret")
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    session.add(
        LinkToken(
            token_hash=hash_token(token),
            purpose=purpose,
            subject=subject,
            binding=_binding(bound_to),
            created_at=now,
            expires_at=now + ttl,
        )
    )
    await session.flush()
    return token


async def subject_of(session: AsyncSession, purpose: LinkPurpose, token: str) -> str | None:
    """The subject of a link of ``purpose``, used or not, expired or not; None if there is
    no such link. For bound links, whose binding depends on the subject: find the subject,
    then :func:`peek` or :func:`consume` with its current secret, which say what is wrong."""
    found: str | None = await session.scalar(
        select(LinkToken.subject).where(
            LinkToken.token_hash == hash_token(token), LinkToken.purpose == purpose
        )
    )
    return found


async def peek(
    session: AsyncSession,
    purpose: LinkPurpose,
    token: str,
    *,
    bound_to: str | None = None,
    now: datetime | None = None,
) -> LinkToken:
    """The link's row if it could be used now, without using it (for a GET showing a form)."""
    now = now or utcnow()
    row = await session.scalar(
        select(LinkToken).where(_usable(purpose, token, bound_to=bound_to, now=now))
    )
    if row is None:
        raise await _why_unusable(session, purpose, token, bound_to=bound_to, now=now)
    return row


async def consume(
    session: AsyncSession,
    purpose: LinkPurpose,
    token: str,
    *,
    bound_to: str | None = None,
    now: datetime | None = None,
) -> LinkToken:
    """Use the link once: marks it used in the caller's transaction and returns its row."""
    now = now or utcnow()
    statement = (
        update(LinkToken)
        .where(_usable(purpose, token, bound_to=bound_to, now=now))
        .values(used_at=now)
        .returning(LinkToken)
    )
    row = await session.scalar(statement)
    if row is None:
        raise await _why_unusable(session, purpose, token, bound_to=bound_to, now=now)
    return row


def _usable(
    purpose: LinkPurpose, token: str, *, bound_to: str | None, now: datetime
) -> ColumnElement[bool]:
    binding = _binding(bound_to)
    return and_(
        LinkToken.token_hash == hash_token(token),
        LinkToken.purpose == purpose,
        LinkToken.used_at.is_(None),
        LinkToken.expires_at > now,
        LinkToken.binding.is_(None) if binding is None else LinkToken.binding == binding,
    )


async def _why_unusable(
    session: AsyncSession,
    purpose: LinkPurpose,
    token: str,
    *,
    bound_to: str | None,
    now: datetime,
) -> LinkInvalid:
    """The reason, read after the conditional statement found nothing to use."""
    row = await session.scalar(select(LinkToken).where(LinkToken.token_hash == hash_token(token)))
    if row is None:
        return LinkInvalid("This link is not known.", code="link_unknown")
    # Say nothing more about a token of another purpose than that it is not this one.
    if row.purpose != purpose:
        return LinkInvalid("This link is for something else.", code="link_wrong_purpose")
    if row.used_at is not None:
        return LinkInvalid("This link has already been used.", code="link_used")
    if row.expires_at <= now:
        return LinkInvalid("This link has expired.", code="link_expired")
    return LinkInvalid(
        "This link no longer works because the password has changed.", code="link_superseded"
    )


async def purge_links(session: AsyncSession, *, older_than: timedelta, now: datetime) -> int:
    """Delete links that expired more than ``older_than`` ago; returns how many."""
    result = await session.execute(delete(LinkToken).where(LinkToken.expires_at < now - older_than))
    return int(result.rowcount)  # type: ignore[attr-defined]  # a DML result has rowcount
