"""Steps 1 to 3: the email link, the notes and consent, the application form."""

from __future__ import annotations

from typing import Annotated, Any

import anyio.to_thread
import msgspec
from litestar import Response, get, post
from litestar.params import FromPath, FromQuery, URLEncodedBody
from litestar.response import Redirect, Template
from litestar.status_codes import (
    HTTP_400_BAD_REQUEST,
    HTTP_404_NOT_FOUND,
)

from cardservice.mail.errors import InvalidRecipient
from cardservice.registration import applicant, steps
from cardservice.registration.errors import (
    ConsentVersionInvalid,
)
from cardservice.registration.form import FormErrors
from cardservice.registration.japan import (
    PREFECTURES,
    PREFECTURES_EN,
    InvalidPostalCode,
    lookup_postal_code,
)
from cardservice.registration.models import Application
from cardservice.registration.routes.common import (
    SESSION_KEY,
    START,
    AnyRequest,
    Flag,
    Text,
    draft_application,
    link_refused,
    see_other,
)
from cardservice.security.links import LinkInvalid, LinkPurpose, peek
from cardservice.web.i18n import language
from cardservice.web.pages import render
from cardservice.web.security import rate_limit_key
from cardservice.web.state import client_address, secrets, services

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
                client_address(request),
                profile=settings.profile,
                base_url=settings.base_url,
                language=language(request),
                rate_secret=rate_limit_key(secrets(request)),
            )
    except InvalidRecipient:
        message = steps.text("email_invalid", language(request))
        return _start_page(
            request, email=data.email, error=message, status_code=HTTP_400_BAD_REQUEST
        )
    # The same answer for every well-formed address: known, new or over the rate limit.
    return see_other("/apply/sent")


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


@get("/apply/verify/{token:str}", name="apply_verify")
async def verify(request: AnyRequest, token: FromPath[str]) -> Template:
    """Shows a button only: mail scanners fetch links, and that must not use this one up."""
    try:
        async with services(request).db.transaction() as session:
            await peek(session, LinkPurpose.VERIFY_EMAIL, token)
    except LinkInvalid as exc:
        return link_refused(request, exc, start_again=True)
    return render(request, "pages/apply/verify.html", step=1, token=token)


@post("/apply/verify/{token:str}", name="apply_open")
async def open_application(request: AnyRequest, token: FromPath[str]) -> Template | Redirect:
    try:
        async with services(request).db.transaction() as session:
            app = await applicant.open_application(session, token, language=language(request))
            public_id = app.public_id
    except LinkInvalid as exc:
        return link_refused(request, exc, start_again=True)
    request.set_session({**request.session, SESSION_KEY: public_id})
    return see_other("/apply/notes")


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
        app = await draft_application(request, session)
    return _notes_page(request, app)


@post("/apply/notes", name="apply_consent")
async def consent(request: AnyRequest, data: URLEncodedBody[NotesForm]) -> Template | Redirect:
    lang = language(request)
    async with services(request).db.transaction() as session:
        app = await draft_application(request, session)
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
    return see_other("/apply/form")


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
        app = await draft_application(request, session)
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
            app = await draft_application(request, session)
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
    return see_other("/apply/documents")


async def _fill_from_postal_code(request: AnyRequest, raw: dict[str, str]) -> Template:
    async with services(request).db.transaction() as session:
        app = await draft_application(request, session)
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
