"""The applicant's side of online registration: email link, draft, consent, form, documents,
submission. Every function works in the caller's transaction (one unit of work per request).

The draft is found again by its public id, which the web layer keeps in the applicant's
session after the email link was followed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cardservice.calendar import OpeningCalendar, local_today
from cardservice.db.base import utcnow
from cardservice.mail.outbox import OutgoingMail, checked_address, enqueue
from cardservice.mail.render import Language
from cardservice.profiles.schema import Profile
from cardservice.registration.eligibility import check_eligibility
from cardservice.registration.errors import (
    ApplicationIncomplete,
    ApplicationNotEditable,
    ApplicationNotFound,
    ConsentVersionInvalid,
)
from cardservice.registration.form import (
    ApplicationForm,
    Basis,
    FieldError,
    FormErrors,
    parse_application,
)
from cardservice.registration.models import Application, ApplicationDocument, ApplicationStatus
from cardservice.registration.storage import (
    get_document,
    list_documents,
    missing_documents,
    store_document,
)
from cardservice.security import passwords
from cardservice.security.links import LinkPurpose, consume, issue
from cardservice.security.ratelimit import allow_link_email

__all__ = [
    "add_document",
    "get_application",
    "missing_parts",
    "open_application",
    "record_consent",
    "remove_document",
    "request_link",
    "save_form",
    "submit",
    "verify_link",
]


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
    address = checked_address(email).lower()
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
        "library_name": profile.library.name.get(language),
        "sender_email": profile.library.sender_email,
    }
    await enqueue(session, OutgoingMail(address, "verify_email", language, context), now=now)


async def open_application(
    session: AsyncSession, token: str, *, language: Language = "ja", now: datetime | None = None
) -> Application:
    """Use the email link: resume this address's draft, or start one. A used, expired or
    unknown link raises :class:`~cardservice.security.links.LinkInvalid`."""
    now = now or utcnow()
    link = await consume(session, LinkPurpose.VERIFY_EMAIL, token, now=now)
    draft = await session.scalar(
        select(Application)
        .where(Application.email == link.subject, Application.status == ApplicationStatus.DRAFT)
        .order_by(Application.id.desc())
        .limit(1)
    )
    if draft is not None:
        return draft
    app = Application(email=link.subject, language=language, created_at=now, updated_at=now)
    session.add(app)
    await session.flush()
    return app


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
    """Record that the applicant agreed to the notes of ``version`` (the current one)."""
    _require_draft(app)
    current = profile.registration.notes_version
    if version != current:
        raise ConsentVersionInvalid(field="consent", current=current)
    app.consent_version = version
    app.consented_at = now or utcnow()
    await session.flush()


async def save_form(
    session: AsyncSession,
    app: Application,
    raw_form: Mapping[str, str],
    *,
    profile: Profile,
    now: datetime | None = None,
) -> ApplicationForm:
    """Validate the form, eligibility and password, all errors together in one
    :class:`FormErrors`; then store the details and the password's Argon2id hash."""
    _require_draft(app)
    now = now or utcnow()
    today = local_today(ZoneInfo(profile.library.timezone), now)
    errors: list[FieldError] = []
    form: ApplicationForm | None = None
    try:
        form = parse_application(raw_form, profile=profile, email=app.email, today=today)
    except FormErrors as exc:
        errors.extend(exc.errors)
    password = raw_form.get("password", "")
    try:
        passwords.check_password(profile.password, password, email=app.email)
    except passwords.PasswordRejected as exc:
        texts = {lang: passwords.message(exc.code, lang, profile.password) for lang in ("ja", "en")}
        errors.append(FieldError("password", exc.code, texts["ja"], texts["en"]))
    if form is not None:
        eligibility = check_eligibility(form, profile)
        if not eligibility.eligible:
            field = eligibility.field or "basis"
            errors.append(FieldError(field, eligibility.reason, eligibility.ja, eligibility.en))
    if errors or form is None:
        raise FormErrors(errors)
    password_hash = await passwords.hash_password(password)  # in a thread
    _fill(app, form, password_hash, now)
    await session.flush()
    return form


def _fill(app: Application, form: ApplicationForm, password_hash: str, now: datetime) -> None:
    app.procedure = form.procedure.value
    for name in (
        "family_name", "given_name", "family_kana", "given_kana", "birth_date", "postal_code",
        "prefecture", "city", "street", "building", "phone", "workplace_or_school",
    ):  # fmt: skip
        setattr(app, name, getattr(form, name))
    app.basis = form.basis.value
    app.notifications = dataclasses.asdict(form.notifications)
    app.password_hash = password_hash
    app.updated_at = now


async def add_document(
    session: AsyncSession,
    app: Application,
    *,
    doc_type: str,
    side: str,
    data: bytes,
    filename: str,
    profile: Profile,
    document_key: bytes,
    now: datetime | None = None,
) -> ApplicationDocument:
    """Check, re-encode and encrypt one image into the draft (replacing that slot's image)."""
    _require_draft(app)
    return await store_document(
        session,
        app,
        doc_type=doc_type,
        side=side,
        data=data,
        filename=filename,
        documents=profile.documents,
        document_key=document_key,
        now=now or utcnow(),
    )


async def remove_document(session: AsyncSession, app: Application, document_id: int) -> None:
    _require_draft(app)
    await session.delete(await get_document(session, app, document_id))
    await session.flush()


def needs_extra_document(app: Application, profile: Profile) -> bool:
    working = app.basis in {Basis.WORKS, Basis.STUDIES}
    return working and profile.documents.extra_for_work_or_study


async def missing_parts(session: AsyncSession, app: Application, profile: Profile) -> list[str]:
    """What submission still needs, in order: "consent", "form", "identity_document",
    "extra_document" (the review page lists them; :func:`submit` refuses while any is left)."""
    missing = []
    if app.consent_version != profile.registration.notes_version:
        missing.append("consent")
    if not app.has_form:
        missing.append("form")
    rows = await list_documents(session, app)
    needs_extra = needs_extra_document(app, profile)
    return missing + missing_documents(rows, profile.documents, needs_extra=needs_extra)


async def submit(
    session: AsyncSession, app: Application, *, profile: Profile, now: datetime | None = None
) -> bool:
    """Submit the draft; True if this call did it. A second submit (double click, reload)
    finds it no longer a draft and does nothing, so there is one submission and one email.

    The status change itself is the guard (UPDATE ... WHERE status = 'draft'): of two
    concurrent submits exactly one changes the row.
    """
    now = now or utcnow()
    if app.status != ApplicationStatus.DRAFT:
        return False
    missing = await missing_parts(session, app, profile)
    if missing:
        raise ApplicationIncomplete(missing=missing)
    calendar = OpeningCalendar.from_profile(profile.calendar)
    today = local_today(ZoneInfo(profile.library.timezone), now)
    due_on = calendar.add_opening_days(today, profile.review.deadline_opening_days)
    changed = await session.scalar(
        update(Application)
        .where(Application.id == app.id, Application.status == ApplicationStatus.DRAFT)
        .values(status=ApplicationStatus.SUBMITTED, submitted_at=now, due_on=due_on, updated_at=now)
        .returning(Application.id)
        .execution_options(synchronize_session=False)
    )
    await session.refresh(app)
    if changed is None:
        return False
    language = _language(app)
    context = {
        "name": app.display_name,
        "ready_on": due_on,
        "library_name": profile.library.name.get(language),
    }
    mail = OutgoingMail(app.email, "application_received", language, context)
    await enqueue(session, mail, now=now)
    return True


def _language(app: Application) -> Language:
    return "en" if app.language == "en" else "ja"


def _require_draft(app: Application) -> None:
    if app.status != ApplicationStatus.DRAFT:
        raise ApplicationNotEditable(status=app.status)
