"""Steps 1 and 2: the email link, the notes and consent (the form is ``details.py``)."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import get, post
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Redirect, Template
from litestar.status_codes import (
    HTTP_400_BAD_REQUEST,
)

from cardservice.mail.errors import InvalidRecipient
from cardservice.registration import applicant, steps
from cardservice.registration.errors import (
    ConsentVersionInvalid,
)
from cardservice.registration.models import Application
from cardservice.registration.notes import consent_current, notes_for
from cardservice.registration.routes.common import (
    SESSION_KEY,
    START,
    AnyRequest,
    Flag,
    NoApplication,
    Text,
    current_application,
    draft_application,
    link_refused,
    see_other,
)
from cardservice.security.links import LinkInvalid, LinkPurpose, peek
from cardservice.security.secrets import rate_limit_key
from cardservice.web.i18n import language, switching_language
from cardservice.web.pages import render
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
    if await switching_language(request):  # nothing is sent: the page again, in the new language
        return _start_page(request, email=data.email)
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
async def verify(request: AnyRequest, token: FromPath[str]) -> Template | Redirect:
    """Shows a button only: mail scanners fetch links, and that must not use this one up."""
    try:
        async with services(request).db.read() as session:
            await peek(session, LinkPurpose.VERIFY_EMAIL, token)
    except LinkInvalid as exc:
        return await _used_here(request, exc) or link_refused(request, exc, start_again=True)
    return render(request, "pages/apply/verify.html", step=1, token=token)


@post("/apply/verify/{token:str}", name="apply_open")
async def open_application(request: AnyRequest, token: FromPath[str]) -> Template | Redirect:
    try:
        async with services(request).db.transaction() as session:
            app = await applicant.open_application(session, token, language=language(request))
            public_id = app.public_id
    except LinkInvalid as exc:
        return await _used_here(request, exc) or link_refused(request, exc, start_again=True)
    request.set_session({**request.session, SESSION_KEY: public_id})
    return see_other("/apply/notes")


async def _used_here(request: AnyRequest, exc: LinkInvalid) -> Redirect | None:
    """The email's link tapped again in the browser it was opened in (a used link, and
    this session holds an application): on to the application, whose pages lead to the
    step it is at (or to "received" once sent), rather than "ask for a new link"."""
    if exc.code != "link_used":
        return None
    try:
        async with services(request).db.read() as session:
            await current_application(request, session)
    except NoApplication:
        return None
    return see_other("/apply/notes")


# --- 2. notes and consent ---------------------------------------------------------------


class NotesForm(msgspec.Struct):
    version: Text = ""
    agree: Flag = ""


def _notes_page(
    request: AnyRequest,
    app: Application,
    *,
    error: str = "",
    status_code: int = 200,
    ticked: bool = False,
) -> Template:
    profile = services(request).settings.profile
    lang = language(request)
    shown = notes_for(app, profile)
    return render(
        request,
        "pages/apply/notes.html",
        status_code=status_code,
        step=2,
        procedure=app.procedure if app.patron_id is not None else "",
        notes=shown.text.get(lang),
        also=shown.also.get(lang) if shown.also else "",
        version=shown.version,
        agreed=ticked or consent_current(app, profile),
        error=error,
    )


@get("/apply/notes", name="apply_notes")
async def notes(request: AnyRequest) -> Template:
    async with services(request).db.read() as session:
        app = await draft_application(request, session)
    return _notes_page(request, app)


@post("/apply/notes", name="apply_consent")
async def consent(request: AnyRequest, data: URLEncodedBody[NotesForm]) -> Template | Redirect:
    lang = language(request)
    if await switching_language(request):  # the box as it was, in the new language; not recorded
        async with services(request).db.read() as session:
            app = await draft_application(request, session)
            return _notes_page(request, app, ticked=data.agree == steps.CHECKBOX_ON)
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
