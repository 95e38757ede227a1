"""The rest of the applicant's side: the form of the draft's procedure, its documents, and
the submission. Every function works in the caller's transaction (one unit of work per
request) and acts only on a draft (``ApplicationNotEditable`` otherwise)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from cardservice.calendar import OpeningCalendar, local_today
from cardservice.db.base import utcnow
from cardservice.mail.letterhead import letterhead
from cardservice.mail.outbox import OutgoingMail, enqueue
from cardservice.mail.render import Language
from cardservice.patrons.models import Patron
from cardservice.profiles.schema import Profile
from cardservice.registration.decisions import TARGET
from cardservice.registration.document_rules import check_upload
from cardservice.registration.documents import CleanImage
from cardservice.registration.drafts import linked_patron, require_draft
from cardservice.registration.eligibility import check_eligibility
from cardservice.registration.errors import ApplicationIncomplete
from cardservice.registration.form import (
    ApplicationForm,
    Collector,
    FieldError,
    FormErrors,
    Procedure,
    parse_application,
)
from cardservice.registration.models import Application, ApplicationDocument, ApplicationStatus
from cardservice.registration.notes import consent_current
from cardservice.registration.procedure_details import (
    NAME_FIELDS,
    DocumentNeeds,
    ReissueDetails,
    changed_details,
    document_needs,
    holds_card,
    names_of,
    parse_reissue,
    record_reissue,
    record_submission,
)
from cardservice.registration.procedures import require_open
from cardservice.registration.storage import (
    check_slot,
    get_document,
    list_documents,
    missing_documents,
    store_document,
)
from cardservice.security import passwords
from cardservice.staff import audit


async def save_form(
    session: AsyncSession,
    app: Application,
    raw_form: Mapping[str, str],
    *,
    profile: Profile,
    prehashed: passwords.Prehashed | None = None,
    now: datetime | None = None,
) -> ApplicationForm:
    """Validate the form of the draft's procedure, eligibility, and the password (new
    registration) or the procedure's own fields (reissue reason, new name, what changes),
    all errors together in one :class:`FormErrors`; then store them.

    ``prehashed`` is the password hashed before the caller's transaction opened
    (:func:`hash_ahead`); without it, or for another password, the hash is made here.

    For a draft linked to a patron the procedure is the one started, and the name and birth
    date are the patron's whatever was posted. A new registration under a profile with
    ``procedures.registered_to_counter`` is refused (``already_registered``) when a patron
    with the same kana name and birth date holds a card that is not revoked; the answer
    names nobody.
    """
    require_draft(app)
    now = now or utcnow()
    today = local_today(ZoneInfo(profile.library.timezone), now)
    patron = await linked_patron(session, app)
    raw = _with_patron(raw_form, app, patron)
    errors: list[FieldError] = []
    form: ApplicationForm | None = None
    try:
        form = parse_application(raw, profile=profile, email=app.email, today=today)
    except FormErrors as exc:
        errors.extend(exc.errors)
    procedure = form.procedure if form else _posted_procedure(raw)
    extra = Collector(raw)
    reissue = await _check_procedure(
        session, procedure, extra, form=form, patron=patron, app=app, profile=profile
    )
    if form is not None:
        eligibility = check_eligibility(form, profile)
        if not eligibility.eligible:
            # A new applicant may fix it by their basis; a moved patron by their address.
            fallback = "basis" if form.procedure is Procedure.NEW else "postal_code"
            field = eligibility.field or fallback
            errors.append(FieldError(field, eligibility.reason, eligibility.ja, eligibility.en))
    errors.extend(extra.errors)
    if errors or form is None:
        raise FormErrors(errors)
    password_hash = None
    if form.procedure is Procedure.NEW:
        password_hash = prehashed.hash_of(form.password) if prehashed else None
        password_hash = password_hash or await passwords.hash_password(form.password)
    _fill(app, form, password_hash, now)
    record_reissue(app, form, reissue, linked=patron is not None, now=now)
    await session.flush()
    return form


async def hash_ahead(
    app: Application, raw_form: Mapping[str, str], profile: Profile
) -> passwords.Prehashed | None:
    """The posted password of a new registration, hashed before the write transaction of
    :func:`save_form` opens (Argon2's CPU time must not hold SQLite's write lock); None when
    there is nothing to hash: another procedure, or a password the form refuses anyway."""
    procedure = Procedure(app.procedure) if app.patron_id is not None else None
    if (procedure or _posted_procedure(raw_form)) is not Procedure.NEW:
        return None
    password = raw_form.get("password", "")
    checked = Collector(raw_form)
    _check_password(password, app, profile, checked)
    return None if checked.errors else await passwords.prehash(password)


async def _check_procedure(
    session: AsyncSession,
    procedure: Procedure | None,
    extra: Collector,
    *,
    form: ApplicationForm | None,
    patron: Patron | None,
    app: Application,
    profile: Profile,
) -> ReissueDetails | None:
    """The checks of ``procedure`` beyond the common form, errors kept in ``extra``: the
    password and whether a card holder registers anew (new), the reason, new name and
    acknowledgement (reissue), that something changes (change, for a known patron)."""
    if procedure is Procedure.NEW:
        _check_password(extra.raw.get("password", ""), app, profile, extra)
        counter = profile.procedures.registered_to_counter
        if form is not None and counter and await holds_card(session, form):
            extra.add("procedure", "already_registered")
    elif procedure is Procedure.REISSUE:
        known = patron or form
        return parse_reissue(extra, names_of(known) if known is not None else None)
    elif procedure is Procedure.CHANGE and _changes_nothing(form, patron):
        extra.add("postal_code", "change_nothing")
    return None


def _changes_nothing(form: ApplicationForm | None, patron: Patron | None) -> bool:
    """A change of details for a known patron whose address, phone and basis stay as they
    are. Without login the patron is not known yet: the reviewer compares."""
    return patron is not None and form is not None and not changed_details(form, patron)


def _with_patron(
    raw: Mapping[str, str], app: Application, patron: Patron | None
) -> Mapping[str, str]:
    """For a linked draft: its own procedure, and the patron's name and birth date."""
    if patron is None:
        return raw
    fixed = {name: getattr(patron, name) for name in NAME_FIELDS}
    fixed["birth_date"] = patron.birth_date.isoformat()
    fixed["procedure"] = app.procedure
    return {**raw, **fixed}


def _posted_procedure(raw: Mapping[str, str]) -> Procedure | None:
    try:
        return Procedure(raw.get("procedure", "").strip())
    except ValueError:
        return None


def _check_password(password: str, app: Application, profile: Profile, form: Collector) -> None:
    try:
        passwords.check_password(profile.password, password, email=app.email)
    except passwords.PasswordRejected as exc:
        texts = {lang: passwords.message(exc.code, lang, profile.password) for lang in ("ja", "en")}
        form.errors.append(FieldError("password", exc.code, texts["ja"], texts["en"]))


def _fill(
    app: Application, form: ApplicationForm, password_hash: str | None, now: datetime
) -> None:
    app.procedure = form.procedure.value
    for name in (
        "family_name", "given_name", "family_kana", "given_kana", "birth_date", "postal_code",
        "prefecture", "city", "street", "building", "phone", "workplace_or_school",
    ):  # fmt: skip
        setattr(app, name, getattr(form, name))
    app.basis = form.basis.value
    app.notifications = dataclasses.asdict(form.notifications) if password_hash else {}
    app.password_hash = password_hash
    app.updated_at = now


async def add_document(
    session: AsyncSession,
    app: Application,
    *,
    doc_type: str,
    side: str,
    image: CleanImage,
    profile: Profile,
    document_key: bytes,
    now: datetime | None = None,
) -> ApplicationDocument:
    """Encrypt one checked image (``images.ImagePool.clean``) into the draft, replacing that
    slot's image; :class:`DocumentRejected` for a slot the profile does not take, or a photo
    that leaves no complete set within the file cap (``document_rules.check_upload``)."""
    require_draft(app)
    check_slot(profile.documents, doc_type, side)
    held = [(row.doc_type, row.side) for row in await list_documents(session, app)]
    needs = await documents_needed(session, app, profile)
    check_upload(held, (doc_type, side), profile.documents, extra=needs.extra)
    return await store_document(
        session,
        app,
        doc_type=doc_type,
        side=side,
        image=image,
        documents=profile.documents,
        document_key=document_key,
        now=now or utcnow(),
    )


async def remove_document(session: AsyncSession, app: Application, document_id: int) -> None:
    require_draft(app)
    await session.delete(await get_document(session, app, document_id))
    await session.flush()


async def documents_needed(
    session: AsyncSession, app: Application, profile: Profile
) -> DocumentNeeds:
    """Which documents the draft needs (``procedure_details.document_needs``)."""
    return document_needs(app, await linked_patron(session, app), profile)


async def missing_parts(session: AsyncSession, app: Application, profile: Profile) -> list[str]:
    """What submission still needs, in order: "consent", "form", "identity_document",
    "extra_document" (the review page lists them; :func:`submit` refuses while any is left)."""
    missing = []
    if not consent_current(app, profile):
        missing.append("consent")
    if not app.has_form:
        missing.append("form")
    rows = await list_documents(session, app)
    needs = await documents_needed(session, app, profile)
    return missing + missing_documents(
        rows, profile.documents, needs_extra=needs.extra, needs_identity=needs.identity
    )


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
    patron = await linked_patron(session, app)
    if patron is not None:  # still open: no other application of it went in meanwhile
        await require_open(session, patron, Procedure(app.procedure), profile, today)
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
    if patron is not None:
        await record_submission(session, app, patron, now=now)
    # The applicant's own step, in the application's history (no staff member: staff_id None).
    detail = {"procedure": app.procedure}
    await audit.record(
        session,
        staff_id=None,
        action="application.submit",
        target_type=TARGET,
        target_id=app.public_id,
        detail=detail,
    )
    language = _language(app)
    context = {
        "name": app.person_name,
        "procedure": app.procedure,
        "ready_on": due_on,
        "library": letterhead(profile, language),
    }
    mail = OutgoingMail(app.email, "application_received", language, context)
    await enqueue(session, mail, now=now)
    return True


def _language(app: Application) -> Language:
    return "en" if app.language == "en" else "ja"
