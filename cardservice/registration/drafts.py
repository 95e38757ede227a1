"""How an application's draft comes to be and is found again: the email link (or a
logged-in patron's start), the draft it opens, and the applicant's consent to the notes.
Every function works in the caller's transaction (one unit of work per request).

The draft is found again by its public id, which the web layer keeps in the applicant's
session after the email link was followed or the logged-in patron started a procedure.
A draft started by a logged-in patron is linked to them (``patron_id``): its procedure is
fixed, and its name and birth date are the patron's. One started from the email link names
no patron; the applicant chooses the procedure, and the reviewer picks the patron.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cardservice.calendar import local_today
from cardservice.db.base import utcnow
from cardservice.mail.addresses import normalise_address
from cardservice.mail.letterhead import letterhead
from cardservice.mail.outbox import OutgoingMail, enqueue
from cardservice.mail.render import Language
from cardservice.patrons.models import Patron
from cardservice.profiles.schema import Profile
from cardservice.registration.errors import (
    ApplicationNotEditable,
    ApplicationNotFound,
    ConsentVersionInvalid,
)
from cardservice.registration.form import Procedure
from cardservice.registration.models import Application, ApplicationStatus
from cardservice.registration.notes import notes_for
from cardservice.registration.procedures import require_open
from cardservice.security.links import LinkPurpose, consume, issue
from cardservice.security.ratelimit import allow_link_email


def verify_link(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/apply/verify/{token}"


async def request_link(
    session: AsyncSession,
    email: str,
    client: str,
    *,
    profile: Profile,
    base_url: str,
    language: Language = "ja",
    rate_secret: bytes = b"",
    now: datetime | None = None,
) -> None:
    """Email a one-time link that opens an application for ``email``.

    Returns nothing, and nothing differs for a known or unknown address; over the rate limit
    it quietly sends nothing (architecture principle 2). Only a malformed address is an
    error (``mail_invalid_recipient``), and that says nothing about anybody.
    """
    now = now or utcnow()
    address = normalise_address(email)
    allowed = await allow_link_email(
        session, profile.links, email=address, client=client, now=now, secret=rate_secret
    )
    if not allowed:
        return
    hours = profile.links.verification_hours
    token = await issue(session, LinkPurpose.VERIFY_EMAIL, address, timedelta(hours=hours), now=now)
    context = {
        "link": verify_link(base_url, token),
        "expires_hours": hours,
        "library": letterhead(profile, language),
    }
    await enqueue(session, OutgoingMail(address, "verify_email", language, context), now=now)


async def open_application(
    session: AsyncSession, token: str, *, language: Language = "ja", now: datetime | None = None
) -> Application:
    """Use the email link: resume this address's draft, or start one. A used, expired or
    unknown link raises :class:`~cardservice.security.links.LinkInvalid`.

    A draft a logged-in patron started is not resumed here: it acts for that patron, and
    the link proves only the address.
    """
    now = now or utcnow()
    link = await consume(session, LinkPurpose.VERIFY_EMAIL, token, now=now)
    draft = await session.scalar(
        select(Application)
        .where(
            Application.email == link.subject,
            Application.status == ApplicationStatus.DRAFT,
            Application.patron_id.is_(None),
        )
        .order_by(Application.id.desc())
        .limit(1)
    )
    if draft is not None:
        return draft
    app = Application(email=link.subject, language=language, created_at=now, updated_at=now)
    session.add(app)
    await session.flush()
    return app


async def start_procedure(
    session: AsyncSession,
    patron: Patron,
    procedure: Procedure,
    *,
    profile: Profile,
    language: Language | None = None,
    now: datetime | None = None,
) -> Application:
    """A logged-in patron starts ``procedure`` (reissue, renewal or change): their draft of
    it, resumed if they have one, else a new one linked to them, with their email and
    ``language``, the language of the page they started it from (as a new registration's
    is), the patron's own when not given. Its emails go in that language, as the password
    and email ones sent from the same pages do. Its form is filled in from the patron's
    details when shown.

    Raises ``procedures.ProcedureClosed`` (``closed``, ``opens_on``) when the procedure is
    not open to the patron today: renewal before its window, a second application of the
    same procedure waiting for review, no usable card, not taken online.
    """
    now = now or utcnow()
    today = local_today(ZoneInfo(profile.library.timezone), now)
    await require_open(session, patron, procedure, profile, today)
    draft = await session.scalar(
        select(Application)
        .where(
            Application.patron_id == patron.id,
            Application.procedure == procedure.value,
            Application.status == ApplicationStatus.DRAFT,
        )
        .order_by(Application.id.desc())
        .limit(1)
    )
    if draft is not None:
        return draft
    app = Application(
        email=patron.email,
        language=language or ("en" if patron.language == "en" else "ja"),
        procedure=procedure.value,
        patron_id=patron.id,
        created_at=now,
        updated_at=now,
    )
    session.add(app)
    await session.flush()
    return app


async def linked_patron(session: AsyncSession, app: Application) -> Patron | None:
    """The patron the application was started by (logged in), or picked for; else None."""
    return await session.get(Patron, app.patron_id) if app.patron_id else None


async def get_application(session: AsyncSession, public_id: str) -> Application:
    app = await session.scalar(select(Application).where(Application.public_id == public_id))
    if app is None:
        raise ApplicationNotFound(public_id=public_id)
    return app


async def record_consent(
    session: AsyncSession,
    app: Application,
    version: str,
    *,
    profile: Profile,
    now: datetime | None = None,
) -> None:
    """Record that the applicant agreed to the notes of ``version`` (the current version of
    the notes they read: ``notes.notes_for``)."""
    require_draft(app)
    current = notes_for(app, profile).version
    if version != current:
        raise ConsentVersionInvalid(field="consent", current=current)
    app.consent_version = version
    app.consented_at = now or utcnow()
    await session.flush()


def require_draft(app: Application) -> None:
    """Raise ``ApplicationNotEditable`` unless the application is still a draft."""
    if app.status != ApplicationStatus.DRAFT:
        raise ApplicationNotEditable(status=app.status)
