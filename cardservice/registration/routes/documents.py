"""Steps 4 and 5: identity documents, the review and the submission, the "received" page."""

from __future__ import annotations

from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from litestar import get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_400_BAD_REQUEST, HTTP_409_CONFLICT

from cardservice.calendar import OpeningCalendar, local_today, short_day
from cardservice.errors import InvalidInput
from cardservice.patrons.card_view import current_card
from cardservice.registration import applicant, steps
from cardservice.registration.document_rules import EXTRA_DOCUMENT, checklist
from cardservice.registration.documents import (
    MY_NUMBER_BACK_WARNING,
    SIDE_NAMES,
    STORED_LONG_SIDE,
    upload_guides,
)
from cardservice.registration.errors import (
    ApplicationIncomplete,
)
from cardservice.registration.japan import format_phone, format_postal_code
from cardservice.registration.models import Application, ApplicationStatus
from cardservice.registration.procedure_details import snapshot
from cardservice.registration.procedures import ProcedureClosed
from cardservice.registration.routes import texts
from cardservice.registration.routes.common import (
    UPLOAD_BODY_LIMIT,
    UPLOAD_ERRORS,
    AnyRequest,
    current_application,
    draft_application,
    form_field,
    megabytes,
    see_other,
    upload_field,
)
from cardservice.registration.routes.document_texts import checklist_texts, upload_error_text
from cardservice.registration.routes.uploads import (
    UNNAMED_FLAG,
    checked_image,
    chosen_file,
    sent_without_name,
    unreadable_upload,
)
from cardservice.registration.storage import allow_upload, list_documents
from cardservice.web.i18n import language, switching_language
from cardservice.web.limits import FormUnreadable
from cardservice.web.pages import date_text, render
from cardservice.web.state import secrets, services

# --- 4. documents -----------------------------------------------------------------------


async def _documents_page(
    request: AnyRequest,
    *,
    error: str = "",
    error_field: str = "",
    chosen_type: str = "",
    chosen_side: str = "front",
    status_code: int = 200,
) -> Template:
    profile = services(request).settings.profile
    lang = language(request)
    async with services(request).db.read() as session:
        app = await draft_application(request, session)
        attached = await list_documents(session, app)
        needs = await applicant.documents_needed(session, app, profile)
        procedure = app.procedure
    limits = profile.documents
    held = [(row.doc_type, row.side) for row in attached]
    needed = checklist(held, limits, identity=needs.identity, extra=needs.extra)
    return render(
        request,
        "pages/apply/documents.html",
        status_code=status_code,
        step=4,
        guides=upload_guides(limits),
        type_names={t.id: t.name.get(lang) for t in limits.types},
        side_names={side: names[lang] for side, names in SIDE_NAMES.items()},
        extra_type=EXTRA_DOCUMENT,
        extra_needed=needs.extra,
        identity_needed=needs.identity,
        name_changed=needs.name_changed,
        procedure=procedure,
        checklist=needed,
        **checklist_texts(needed, limits, lang),
        attached=attached,
        limits=limits,
        max_mb=megabytes(limits.max_bytes),
        stored_long_side=STORED_LONG_SIDE,  # the size photo.js shrinks photos to
        max_megapixels=megabytes(limits.max_pixels),
        my_number_warning=MY_NUMBER_BACK_WARNING[lang],
        error=error,
        error_field=error_field,
        chosen_type=chosen_type,
        chosen_side=chosen_side,
    )


@get("/apply/documents", name="apply_documents")
async def documents_page(request: AnyRequest) -> Template:
    if request.query_params.get("upload") == UNNAMED_FLAG:  # see routes.uploads
        error = steps.text("document_unnamed", language(request))
        return await _documents_page(request, error=error, error_field="file")
    return await _documents_page(request)


@post(
    "/apply/documents",
    name="apply_add_document",
    request_max_body_size=UPLOAD_BODY_LIMIT,
    exception_handlers={**UPLOAD_ERRORS, FormUnreadable: unreadable_upload},
)
async def add_document(request: AnyRequest) -> Template | Redirect:
    """Slot and allowance, then the image in the pool, then one short transaction storing
    it: nothing of a refused image is kept, and no write lock waits on the image work."""
    form = await request.form()
    doc_type, side = form_field(form.get("doc_type")), form_field(form.get("side")) or "front"
    chosen = {"chosen_type": doc_type, "chosen_side": side}
    if await switching_language(request):  # the page again, in the new language; no upload
        return await _documents_page(request, chosen_type=doc_type, chosen_side=side)
    lang = language(request)
    upload = chosen_file(request, form.get("file"))
    if upload is None:
        missing = "document_unnamed" if sent_without_name(form.get("file")) else "file_missing"
        error = steps.text(missing, lang)
        return await _documents_page(
            request, error=error, error_field="file", status_code=HTTP_400_BAD_REQUEST, **chosen
        )
    db = services(request).db
    try:
        async with db.transaction() as session:
            app = await draft_application(request, session)
            await allow_upload(session, app.public_id)
            public_id = app.public_id
        image = await checked_image(
            request, public_id=public_id, doc_type=doc_type, side=side, upload=upload
        )
        async with db.transaction() as session:
            app = await draft_application(request, session)
            await applicant.add_document(
                session,
                app,
                doc_type=doc_type,
                side=side,
                image=image,
                profile=services(request).settings.profile,
                document_key=secrets(request).document_key,
            )
    except InvalidInput as exc:  # the transaction rolled back: nothing half-made is kept
        return await _documents_page(
            request,
            error=upload_error_text(exc, lang, services(request).settings.profile.documents),
            error_field=upload_field(exc),
            status_code=HTTP_400_BAD_REQUEST,
            **chosen,
        )
    return see_other("/apply/documents")


@post("/apply/documents/{document_id:int}/delete", name="apply_remove_document")
async def remove_document(request: AnyRequest, document_id: FromPath[int]) -> Redirect:
    async with services(request).db.transaction() as session:
        app = await draft_application(request, session)
        await applicant.remove_document(session, app, document_id)
    return see_other("/apply/documents")


# --- 5. review and submit ---------------------------------------------------------------


async def _review_page(
    request: AnyRequest,
    *,
    missing: list[str] | None = None,
    closed: str = "",
    status_code: int = 200,
) -> Template:
    profile = services(request).settings.profile
    lang = language(request)
    async with services(request).db.read() as session:
        app = await draft_application(request, session)
        attached = await list_documents(session, app)
        if missing is None:
            missing = await applicant.missing_parts(session, app, profile)
        patron = await applicant.linked_patron(session, app)
        # Before and after, for a procedure on a known card: what the review will compare.
        before = snapshot(patron, await current_card(session, patron.id)) if patron else {}
        saved = app.has_form
    values = steps.form_values(app)
    return render(
        request,
        "pages/apply/review.html",
        status_code=status_code,
        step=5,
        app=app,
        saved=saved,
        values=values,
        before=_shown_before(before, app),
        birth_date=date_text(request, app.birth_date) if app.birth_date else "",
        attached=attached,
        type_names={t.id: t.name.get(lang) for t in profile.documents.types},
        side_names={side: names[lang] for side, names in SIDE_NAMES.items()},
        extra_type=EXTRA_DOCUMENT,
        missing=missing,
        closed=closed,
    )


def _shown_before(before: dict[str, Any], app: Application) -> dict[str, Any]:
    """The registered values beside the application's (postal code and phone written as
    the form writes them); without login, the former name the applicant gave."""
    shown = dict(before)
    if shown.get("postal_code"):
        shown["postal_code"] = format_postal_code(shown["postal_code"])
    if shown.get("phone"):
        shown["phone"] = format_phone(shown["phone"])
    former = (app.previous or {}).get("former_name")
    if not before and isinstance(former, dict):
        shown.update(former)
    return shown


@get("/apply/review", name="apply_review")
async def review(request: AnyRequest) -> Template:
    return await _review_page(request)


@post("/apply/submit", name="apply_submit")
async def submit(request: AnyRequest) -> Template | Redirect:
    """Submits once: a second POST (double click, reload, back button) finds the
    application submitted and goes to the same "received" page, sending nothing more."""
    try:
        async with services(request).db.transaction() as session:
            app = await draft_application(request, session)
            await applicant.submit(session, app, profile=services(request).settings.profile)
    except ApplicationIncomplete as exc:
        missing = [str(part) for part in exc.detail.get("missing", [])]
        return await _review_page(request, missing=missing, status_code=HTTP_400_BAD_REQUEST)
    except ProcedureClosed as exc:  # another application of it went in meanwhile
        lang = language(request)
        opens_on = exc.detail.get("opens_on")
        day = date_text(request, date.fromisoformat(opens_on)) if opens_on else ""
        message = texts.closed_text(lang, str(exc.detail.get("closed") or ""), day)
        return await _review_page(request, closed=message, status_code=HTTP_409_CONFLICT)
    return see_other("/apply/done")


@get("/apply/done", name="apply_done")
async def done(request: AnyRequest) -> Template | Redirect:
    async with services(request).db.read() as session:
        app = await current_application(request, session)
    if app.status == ApplicationStatus.DRAFT:
        return see_other("/apply/review")
    lang = language(request)
    return render(
        request,
        "pages/apply/done.html",
        app=app,
        ready_on=date_text(request, app.due_on, weekday=True) if app.due_on else "",
        counted_days=_counted_days(request, app, lang),
        lost_suspended=_suspended_on_submit(app),
    )


def _counted_days(request: AnyRequest, app: Application, lang: str) -> str:
    """The opening days the date on the done page counts, as a list ("12月1日（火）、
    12月2日（水）"), so the applicant sees which closed days were left out; "" when the date
    was not counted by today's calendar (the profile changed since)."""
    if app.due_on is None or app.submitted_at is None:
        return ""
    profile = services(request).settings.profile
    submitted_on = local_today(ZoneInfo(profile.library.timezone), app.submitted_at)
    counted = OpeningCalendar.from_profile(profile.calendar).counted_opening_days(
        submitted_on, profile.review.deadline_opening_days
    )
    if not counted or counted[-1] != app.due_on:
        return ""
    separator = ", " if lang == "en" else "、"
    return separator.join(short_day(day, lang) for day in counted)


def _suspended_on_submit(app: Application) -> str:
    """The number of the card a "lost" reissue suspended when it was submitted (an active
    card in the snapshot of a logged-in patron: ``applicant.submit`` suspends it), or ""."""
    before = app.previous or {}
    lost = app.procedure == "reissue" and app.reissue_reason == "lost"
    linked_at_start = app.patron_id is not None and app.patron_linked_by is None
    if lost and linked_at_start and before.get("card_status") == "active":
        return str(before.get("user_number") or "")
    return ""
