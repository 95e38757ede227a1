"""The applicant's pages: email link, notes and consent, form, documents, submission.

    GET  /apply                          email form                 POST /apply (email)
    GET  /apply/sent                     "check your email" (the same for anyone)
    GET  /apply/verify/{token}           "Continue" (peeks only)    POST: opens the draft
    GET  /apply/notes                    notes and consent          POST (version, agree)
    GET  /apply/form                     the application form       POST (fields, or lookup)
    GET  /apply/postal?code=             {prefecture, city} as JSON, for apply.js
    GET  /apply/documents                rules, attached files      POST multipart
    POST /apply/documents/{id}/delete
    GET  /apply/review                   everything, what is missing
    POST /apply/submit                   once, however often sent
    GET  /apply/done                     received, ready date
    GET  /apply/answer/{token}           a staff question           POST multipart answer
    GET  /apply/answered                 thanks

The email link puts the draft's public id in the session (``session["apply"]``); the step
pages find the draft through it. Without it they send the applicant back to the start, and
once the application is submitted its editing pages show the "received" page instead.
Each POST redirects (303) after it succeeds; a refused input shows the page again with the
reason next to its field (400), and nothing of the application changes.
"""

from __future__ import annotations

from typing import Annotated, Any, Final

import anyio.to_thread
import msgspec
from litestar import Request, Response, Router, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromPath, FromQuery, URLEncodedBody
from litestar.response import Redirect, Template
from litestar.status_codes import (
    HTTP_303_SEE_OTHER,
    HTTP_400_BAD_REQUEST,
    HTTP_404_NOT_FOUND,
    HTTP_409_CONFLICT,
    HTTP_413_REQUEST_ENTITY_TOO_LARGE,
)
from litestar.types import ExceptionHandlersMap
from sqlalchemy.ext.asyncio import AsyncSession

from cardservice.errors import InvalidInput
from cardservice.mail.errors import InvalidRecipient
from cardservice.registration import applicant, inquiries, steps
from cardservice.registration.documents import MY_NUMBER_BACK_WARNING, SIDE_NAMES, upload_guides
from cardservice.registration.errors import (
    ApplicationIncomplete,
    ApplicationNotFound,
    ConsentVersionInvalid,
    InquiryNotOpen,
)
from cardservice.registration.form import FormErrors
from cardservice.registration.japan import (
    PREFECTURES,
    PREFECTURES_EN,
    InvalidPostalCode,
    lookup_postal_code,
)
from cardservice.registration.models import Application, ApplicationStatus
from cardservice.registration.storage import EXTRA_DOCUMENT, list_documents
from cardservice.security.links import LinkInvalid, LinkPurpose, peek
from cardservice.web.i18n import language
from cardservice.web.pages import error_page, render
from cardservice.web.state import secrets, services

SESSION_KEY: Final = "apply"
START: Final = "/apply"
SESSION_ENDED: Final = "/apply?session=ended"
# The multipart body limit of the upload routes. It is fixed when the routes are made, so
# it covers the largest ``documents.max_bytes`` a profile may set (50 MB) plus the form
# around the file; the profile's own limit is checked on the file itself, with a clear
# "too large" message, and anything past this one gets the same message as a 413 page.
UPLOAD_BODY_LIMIT: Final = 50_000_000 + 1_000_000
TEXT_MAX: Final = 256

AnyRequest = Request[Any, Any, Any]
Text = Annotated[str, msgspec.Meta(max_length=TEXT_MAX)]
Flag = Annotated[str, msgspec.Meta(max_length=8)]


class NoApplication(Exception):  # a signal to redirect, not a failure
    """This session has no application (no link followed yet, or the session ended)."""


class NotDraft(Exception):
    """The application was submitted: its editing pages give way to the "received" page."""


def _see_other(path: str) -> Redirect:
    return Redirect(path, status_code=HTTP_303_SEE_OTHER)


def _to_start(_: AnyRequest, __: Exception) -> Response[Any]:
    return _see_other(SESSION_ENDED)


def _to_done(_: AnyRequest, __: Exception) -> Response[Any]:
    return _see_other("/apply/done")


def _upload_too_large(request: AnyRequest, _: Exception) -> Response[Any]:
    """A body past ``UPLOAD_BODY_LIMIT``: the "too large" message, not a bare 413."""
    lang = language(request)
    max_bytes = services(request).settings.profile.documents.max_bytes
    return render(
        request,
        "pages/apply/upload_refused.html",
        status_code=HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        message=steps.text("request_too_large", lang, max_mb=_megabytes(max_bytes)),
        code="document_too_large",
        back=request.url.path,
    )


UPLOAD_ERRORS: Final[ExceptionHandlersMap] = {HTTP_413_REQUEST_ENTITY_TOO_LARGE: _upload_too_large}


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:g}"


def _client(request: AnyRequest) -> str:
    return request.client.host if request.client else "unknown"


def _field(value: object) -> str:
    """A text field of a multipart form ("" when absent or a file)."""
    return value if isinstance(value, str) else ""


async def _current(request: AnyRequest, session: AsyncSession) -> Application:
    public_id = request.session.get(SESSION_KEY)
    if not isinstance(public_id, str) or not public_id:
        raise NoApplication
    try:
        return await applicant.get_application(session, public_id)
    except ApplicationNotFound:
        raise NoApplication from None


async def _draft(request: AnyRequest, session: AsyncSession) -> Application:
    app = await _current(request, session)
    if app.status != ApplicationStatus.DRAFT:
        raise NotDraft
    return app


# --- 1. email -------------------------------------------------------------------------


class EmailForm(msgspec.Struct):
    email: Annotated[str, msgspec.Meta(max_length=1024)] = ""


def _start_page(
    request: AnyRequest, *, email: str = "", error: str = "", status_code: int = 200
) -> Template:
    return render(
        request,
        "pages/apply/start.html",
        status_code=status_code,
        step=1,
        email=email,
        error=error,
        session_ended=request.query_params.get("session") == "ended",
        sender_email=services(request).settings.profile.library.sender_email,
    )


@get(START, name="apply_start")
async def start(request: AnyRequest) -> Template:
    return _start_page(request)


@post(START, name="apply_send_link")
async def send_link(request: AnyRequest, data: URLEncodedBody[EmailForm]) -> Template | Redirect:
    settings = services(request).settings
    try:
        async with services(request).db.transaction() as session:
            await applicant.request_link(
                session,
                data.email,
                _client(request),
                profile=settings.profile,
                base_url=settings.base_url,
                language=language(request),
                rate_secret=secrets(request).session_key,
            )
    except InvalidRecipient:
        message = steps.text("email_invalid", language(request))
        return _start_page(
            request, email=data.email, error=message, status_code=HTTP_400_BAD_REQUEST
        )
    # The same answer for every well-formed address: known, new or over the rate limit.
    return _see_other("/apply/sent")


@get("/apply/sent", name="apply_sent")
async def sent(request: AnyRequest) -> Template:
    profile = services(request).settings.profile
    return render(
        request,
        "pages/apply/sent.html",
        step=1,
        sender_email=profile.library.sender_email,
        hours=profile.links.verification_hours,
    )


def _link_refused(request: AnyRequest, exc: LinkInvalid, *, start_again: bool) -> Template:
    return render(
        request,
        "pages/apply/link_invalid.html",
        status_code=HTTP_400_BAD_REQUEST,
        message=steps.error_text(exc, language(request)),
        code=exc.code,
        start_again=start_again,
    )


@get("/apply/verify/{token:str}", name="apply_verify")
async def verify(request: AnyRequest, token: FromPath[str]) -> Template:
    """Shows a button only: mail scanners fetch links, and that must not use this one up."""
    try:
        async with services(request).db.transaction() as session:
            await peek(session, LinkPurpose.VERIFY_EMAIL, token)
    except LinkInvalid as exc:
        return _link_refused(request, exc, start_again=True)
    return render(request, "pages/apply/verify.html", step=1, token=token)


@post("/apply/verify/{token:str}", name="apply_open")
async def open_application(request: AnyRequest, token: FromPath[str]) -> Template | Redirect:
    try:
        async with services(request).db.transaction() as session:
            app = await applicant.open_application(session, token, language=language(request))
            public_id = app.public_id
    except LinkInvalid as exc:
        return _link_refused(request, exc, start_again=True)
    request.set_session({**request.session, SESSION_KEY: public_id})
    return _see_other("/apply/notes")


# --- 2. notes and consent ---------------------------------------------------------------


class NotesForm(msgspec.Struct):
    version: Text = ""
    agree: Flag = ""


def _notes_page(
    request: AnyRequest, app: Application, *, error: str = "", status_code: int = 200
) -> Template:
    registration = services(request).settings.profile.registration
    return render(
        request,
        "pages/apply/notes.html",
        status_code=status_code,
        step=2,
        notes=registration.notes.get(language(request)),
        version=registration.notes_version,
        agreed=app.consent_version == registration.notes_version,
        error=error,
    )


@get("/apply/notes", name="apply_notes")
async def notes(request: AnyRequest) -> Template:
    async with services(request).db.transaction() as session:
        app = await _draft(request, session)
    return _notes_page(request, app)


@post("/apply/notes", name="apply_consent")
async def consent(request: AnyRequest, data: URLEncodedBody[NotesForm]) -> Template | Redirect:
    lang = language(request)
    async with services(request).db.transaction() as session:
        app = await _draft(request, session)
        if data.agree != steps.CHECKBOX_ON:
            error = steps.text("consent_required", lang)
            return _notes_page(request, app, error=error, status_code=HTTP_400_BAD_REQUEST)
        try:
            await applicant.record_consent(
                session, app, data.version, profile=services(request).settings.profile
            )
        except ConsentVersionInvalid as exc:
            error = steps.error_text(exc, lang)
            return _notes_page(request, app, error=error, status_code=HTTP_400_BAD_REQUEST)
    return _see_other("/apply/form")


# --- 3. the form ------------------------------------------------------------------------


class ApplicationFormBody(msgspec.Struct):
    procedure: Text = ""
    family_name: Text = ""
    given_name: Text = ""
    family_kana: Text = ""
    given_kana: Text = ""
    birth_date: Text = ""
    postal_code: Text = ""
    prefecture: Text = ""
    city: Text = ""
    street: Text = ""
    building: Text = ""
    phone: Text = ""
    basis: Text = ""
    workplace_or_school: Text = ""
    notify_reservation_ready: Flag = ""
    notify_expiry_near: Flag = ""
    notify_overdue: Flag = ""
    notify_new_arrivals: Flag = ""
    notify_emergency_closure: Flag = ""
    password: Annotated[str, msgspec.Meta(max_length=1024)] = ""
    # The no-script postal code button: fill in the address, save nothing.
    lookup: Flag = ""

    def raw(self) -> dict[str, str]:
        fields = msgspec.structs.asdict(self)
        fields.pop("lookup")
        return fields


def _form_page(
    request: AnyRequest,
    values: dict[str, str],
    *,
    saved: bool,
    errors: dict[str, str] | None = None,
    counter: list[str] | None = None,
    looked_up: bool = False,
    status_code: int = 200,
) -> Template:
    profile = services(request).settings.profile
    lang = language(request)
    names = PREFECTURES_EN if lang == "en" else PREFECTURES
    return render(
        request,
        "pages/apply/form.html",
        status_code=status_code,
        step=3,
        values=values,
        errors=errors or {},
        counter=counter or [],
        looked_up=looked_up,
        saved=saved,
        policy=profile.password,
        bases=profile.registration.bases,
        library_city=profile.library.city.get(lang),
        extra_document=profile.documents.extra_for_work_or_study,
        prefectures=list(zip(PREFECTURES, names, strict=True)),
    )


@get("/apply/form", name="apply_form")
async def application_form(request: AnyRequest) -> Template:
    async with services(request).db.transaction() as session:
        app = await _draft(request, session)
    return _form_page(request, steps.form_values(app), saved=app.has_form)


@post("/apply/form", name="apply_save_form")
async def save_form(
    request: AnyRequest, data: URLEncodedBody[ApplicationFormBody]
) -> Template | Redirect:
    lang = language(request)
    raw = data.raw()
    if data.lookup:
        return await _fill_from_postal_code(request, raw)
    try:
        async with services(request).db.transaction() as session:
            app = await _draft(request, session)
            # Read now: a rollback expires the loaded application.
            email, saved = app.email, app.has_form
            await applicant.save_form(session, app, raw, profile=services(request).settings.profile)
    except FormErrors as exc:  # raised before anything changed; rolled back all the same
        return _form_page(
            request,
            steps.typed_values(raw, email),
            saved=saved,
            errors=steps.field_errors(exc, lang),
            counter=steps.counter_messages(exc, lang),
            status_code=HTTP_400_BAD_REQUEST,
        )
    return _see_other("/apply/documents")


async def _fill_from_postal_code(request: AnyRequest, raw: dict[str, str]) -> Template:
    async with services(request).db.transaction() as session:
        app = await _draft(request, session)
    values = steps.typed_values(raw, app.email)
    lang = language(request)
    try:
        address = await anyio.to_thread.run_sync(lookup_postal_code, raw["postal_code"])
    except InvalidPostalCode as exc:
        error = steps.error_text(exc, lang)
    else:
        if address is not None:
            values["prefecture"], values["city"] = address.prefecture, address.city
            return _form_page(request, values, saved=app.has_form, looked_up=True)
        error = _unknown_postal_code(request, raw["postal_code"])
    return _form_page(
        request,
        values,
        saved=app.has_form,
        errors={"postal_code": error},
        status_code=HTTP_400_BAD_REQUEST,
    )


def _unknown_postal_code(request: AnyRequest, code: str) -> str:
    lang = language(request)
    library = services(request).settings.profile.library.name.get(lang)
    return steps.text("postal_code_unknown", lang, postal_code=code, library=library)


@get("/apply/postal", name="apply_postal")
async def postal(request: AnyRequest, code: FromQuery[str] = "") -> Response[dict[str, Any]]:
    """The address for a postal code, for the form's script to fill in."""
    try:
        address = await anyio.to_thread.run_sync(lookup_postal_code, code[:32])
    except InvalidPostalCode as exc:
        error = {"code": exc.code, "message": steps.error_text(exc, language(request))}
        return Response({"error": error}, status_code=HTTP_400_BAD_REQUEST)
    if address is None:
        message = _unknown_postal_code(request, code[:32])
        error = {"code": "postal_code_unknown", "message": message}
        return Response({"error": error}, status_code=HTTP_404_NOT_FOUND)
    return Response({"prefecture": address.prefecture, "city": address.city})


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
    async with services(request).db.transaction() as session:
        app = await _draft(request, session)
        attached = await list_documents(session, app)
        extra = applicant.needs_extra_document(app, profile)
    limits = profile.documents
    return render(
        request,
        "pages/apply/documents.html",
        status_code=status_code,
        step=4,
        guides=upload_guides(limits),
        type_names={t.id: t.name.get(lang) for t in limits.types},
        side_names={side: names[lang] for side, names in SIDE_NAMES.items()},
        extra_type=EXTRA_DOCUMENT,
        extra_needed=extra,
        attached=attached,
        limits=limits,
        max_mb=_megabytes(limits.max_bytes),
        max_megapixels=_megabytes(limits.max_pixels),
        my_number_warning=MY_NUMBER_BACK_WARNING[lang],
        error=error,
        error_field=error_field,
        chosen_type=chosen_type,
        chosen_side=chosen_side,
    )


@get("/apply/documents", name="apply_documents")
async def documents_page(request: AnyRequest) -> Template:
    return await _documents_page(request)


async def _upload(request: AnyRequest, upload: object) -> tuple[bytes, str] | None:
    """The file's bytes (at most one past the profile's limit, enough to refuse it) and
    name; None when no file was chosen."""
    if not isinstance(upload, UploadFile) or not upload.filename:
        return None
    limit = services(request).settings.profile.documents.max_bytes
    try:
        return await upload.read(limit + 1), upload.filename
    finally:
        await upload.close()


@post(
    "/apply/documents",
    name="apply_add_document",
    request_max_body_size=UPLOAD_BODY_LIMIT,
    exception_handlers=UPLOAD_ERRORS,
)
async def add_document(request: AnyRequest) -> Template | Redirect:
    form = await request.form()
    doc_type, side = _field(form.get("doc_type")), _field(form.get("side")) or "front"
    chosen = {"chosen_type": doc_type, "chosen_side": side}
    lang = language(request)
    upload = await _upload(request, form.get("file"))
    if upload is None:
        error = steps.text("file_missing", lang)
        return await _documents_page(
            request, error=error, error_field="file", status_code=HTTP_400_BAD_REQUEST, **chosen
        )
    data, filename = upload
    try:
        async with services(request).db.transaction() as session:
            app = await _draft(request, session)
            await applicant.add_document(
                session,
                app,
                doc_type=doc_type,
                side=side,
                data=data,
                filename=filename,
                profile=services(request).settings.profile,
                document_key=secrets(request).document_key,
            )
    except InvalidInput as exc:  # the transaction rolled back: nothing half-made is kept
        return await _documents_page(
            request,
            error=steps.error_text(exc, lang),
            error_field=_upload_field(exc),
            status_code=HTTP_400_BAD_REQUEST,
            **chosen,
        )
    return _see_other("/apply/documents")


def _upload_field(exc: InvalidInput) -> str:
    field = steps.error_field(exc, "file")
    return "file" if field == "document" else field


@post("/apply/documents/{document_id:int}/delete", name="apply_remove_document")
async def remove_document(request: AnyRequest, document_id: FromPath[int]) -> Redirect:
    async with services(request).db.transaction() as session:
        app = await _draft(request, session)
        await applicant.remove_document(session, app, document_id)
    return _see_other("/apply/documents")


# --- 5. review and submit ---------------------------------------------------------------


async def _review_page(
    request: AnyRequest, *, missing: list[str] | None = None, status_code: int = 200
) -> Template:
    profile = services(request).settings.profile
    lang = language(request)
    async with services(request).db.transaction() as session:
        app = await _draft(request, session)
        attached = await list_documents(session, app)
        if missing is None:
            missing = await steps.missing_parts(session, app, profile)
    return render(
        request,
        "pages/apply/review.html",
        status_code=status_code,
        step=5,
        app=app,
        values=steps.form_values(app),
        birth_date=steps.long_date(app.birth_date, lang) if app.birth_date else "",
        attached=attached,
        type_names={t.id: t.name.get(lang) for t in profile.documents.types},
        side_names={side: names[lang] for side, names in SIDE_NAMES.items()},
        extra_type=EXTRA_DOCUMENT,
        missing=missing,
    )


@get("/apply/review", name="apply_review")
async def review(request: AnyRequest) -> Template:
    return await _review_page(request)


@post("/apply/submit", name="apply_submit")
async def submit(request: AnyRequest) -> Template | Redirect:
    """Submits once: a second POST (double click, reload, back button) finds the
    application submitted and goes to the same "received" page, sending nothing more."""
    try:
        async with services(request).db.transaction() as session:
            app = await _draft(request, session)
            await applicant.submit(session, app, profile=services(request).settings.profile)
    except ApplicationIncomplete as exc:
        missing = [str(part) for part in exc.detail.get("missing", [])]
        return await _review_page(request, missing=missing, status_code=HTTP_400_BAD_REQUEST)
    return _see_other("/apply/done")


@get("/apply/done", name="apply_done")
async def done(request: AnyRequest) -> Template | Redirect:
    async with services(request).db.transaction() as session:
        app = await _current(request, session)
    if app.status == ApplicationStatus.DRAFT:
        return _see_other("/apply/review")
    lang = language(request)
    return render(
        request,
        "pages/apply/done.html",
        app=app,
        ready_on=steps.long_date(app.due_on, lang) if app.due_on else "",
    )


# --- inquiries: the applicant's answer --------------------------------------------------


async def _answer_page(
    request: AnyRequest,
    token: str,
    *,
    answer: str = "",
    error: str = "",
    error_field: str = "",
    status_code: int = 200,
) -> Template:
    profile = services(request).settings.profile
    lang = language(request)
    try:
        async with services(request).db.transaction() as session:
            inquiry = await inquiries.open_inquiry(session, token)
    except LinkInvalid as exc:
        return _link_refused(request, exc, start_again=False)
    return render(
        request,
        "pages/apply/answer.html",
        status_code=status_code,
        token=token,
        inquiry=inquiry,
        answer_by=steps.long_date(inquiry.answer_by, lang),
        answer=answer,
        max_answer=inquiries.ANSWER_MAX,
        guides=upload_guides(profile.documents),
        extra_type=EXTRA_DOCUMENT,
        side_names={side: names[lang] for side, names in SIDE_NAMES.items()},
        limits=profile.documents,
        max_mb=_megabytes(profile.documents.max_bytes),
        my_number_warning=MY_NUMBER_BACK_WARNING[lang],
        error=error,
        error_field=error_field,
    )


@get("/apply/answer/{token:str}", name="apply_answer")
async def answer_page(request: AnyRequest, token: FromPath[str]) -> Template:
    return await _answer_page(request, token)


@post(
    "/apply/answer/{token:str}",
    name="apply_send_answer",
    request_max_body_size=UPLOAD_BODY_LIMIT,
    exception_handlers=UPLOAD_ERRORS,
)
async def send_answer(request: AnyRequest, token: FromPath[str]) -> Template | Redirect:
    form = await request.form()
    written = _field(form.get("answer"))
    upload = await _upload(request, form.get("file"))
    document = None
    if upload is not None:
        side = _field(form.get("side")) or "front"
        document = inquiries.AnswerDocument(_field(form.get("doc_type")), side, *upload)
    lang = language(request)
    try:
        async with services(request).db.transaction() as session:
            await inquiries.answer(
                session,
                token,
                written,
                profile=services(request).settings.profile,
                document_key=secrets(request).document_key,
                document=document,
            )
    except LinkInvalid as exc:
        return _link_refused(request, exc, start_again=False)
    except InquiryNotOpen as exc:
        message = steps.error_text(exc, lang)
        return error_page(request, status_code=HTTP_409_CONFLICT, message=message, code=exc.code)
    except InvalidInput as exc:  # rolled back: the link still works for a corrected answer
        return await _answer_page(
            request,
            token,
            answer=written,
            error=steps.error_text(exc, lang),
            error_field=_upload_field(exc),
            status_code=HTTP_400_BAD_REQUEST,
        )
    return _see_other("/apply/answered")


@get("/apply/answered", name="apply_answered")
async def answered(request: AnyRequest) -> Template:
    return render(request, "pages/apply/answered.html")


ROUTES: list[Any] = [
    Router(
        path="/",
        route_handlers=[
            start,
            send_link,
            sent,
            verify,
            open_application,
            notes,
            consent,
            application_form,
            save_form,
            postal,
            documents_page,
            add_document,
            remove_document,
            review,
            submit,
            done,
            answer_page,
            send_answer,
            answered,
        ],
        exception_handlers={NoApplication: _to_start, NotDraft: _to_done},
    )
]
