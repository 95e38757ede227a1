"""The forgotten user number and forgotten password pages.

A request that is well formed always gets the same answer: a redirect to the "sent" page,
after the same database work (``patrons.recovery``) and never sooner than
``ANSWER_SECONDS`` after it arrived, so neither the bytes nor the time tell whether anybody
matched. Nothing in the answer depends on the person: no session is set, and the session
cookie is not touched (a logged-in patron asking for someone else's number learns nothing
either). Only input that is malformed for anybody (an address that is no address, a date
that is no date) gets the form back with the field marked.

The reset link's page shows a form without using the link (mail scanners fetch links);
sending the form uses it.
"""

from __future__ import annotations

import time
from typing import Any, Final

import anyio
import msgspec
from litestar import get, post
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_400_BAD_REQUEST

from cardservice.mail.errors import InvalidRecipient
from cardservice.patrons import recovery
from cardservice.patrons.account import PasswordsDiffer, check_new_password
from cardservice.patrons.paths import (
    FORGOT_NUMBER_PATH,
    FORGOT_PASSWORD_PATH,
    LOGIN_PATH,
    PASSWORD_CHANGED_PATH,
    RESET_PATH,
)
from cardservice.patrons.routes.common import (
    AnyRequest,
    Secret,
    Text,
    see_other,
)
from cardservice.patrons.routes.texts import error_message, link_refused, text_of
from cardservice.security.links import LinkInvalid
from cardservice.security.passwords import PasswordRejected, hash_password
from cardservice.security.secrets import rate_limit_key
from cardservice.web.i18n import language, switching_language
from cardservice.web.pages import render
from cardservice.web.state import client_address, secrets, services

FORGOT_NUMBER: Final = FORGOT_NUMBER_PATH
FORGOT_PASSWORD: Final = FORGOT_PASSWORD_PATH
RESET: Final = RESET_PATH
PASSWORD_CHANGED: Final = PASSWORD_CHANGED_PATH
# The least time a recovery request takes to answer: above what the work takes on a busy
# server (a few queries and rendering one email, some tens of milliseconds), so that every
# answer leaves at this mark whoever was asked about.
ANSWER_SECONDS: Final = 0.5


class NumberForm(msgspec.Struct):
    email: Text = ""
    birth_date: Text = ""


class ForgotPasswordForm(msgspec.Struct):
    login: Text = ""


class ResetForm(msgspec.Struct):
    new_password: Secret = ""
    new_password_again: Secret = ""


async def _answer_at(started: float, answer: Redirect) -> Redirect:
    """``answer``, once ``ANSWER_SECONDS`` have passed since ``started`` (monotonic)."""
    await anyio.sleep(max(0.0, started + ANSWER_SECONDS - time.monotonic()))
    return answer


def _requester(request: AnyRequest) -> recovery.Requester:
    return recovery.Requester(
        client=client_address(request),
        language=language(request),
        rate_secret=rate_limit_key(secrets(request)),
    )


def _elibrary_note(request: AnyRequest) -> str:
    note = services(request).settings.profile.procedures.elibrary_password_note
    return note.get(language(request)) if note else ""


# --- forgotten user number --------------------------------------------------------------


def _number_page(
    request: AnyRequest,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    return render(
        request,
        "pages/recovery/number.html",
        status_code=status_code,
        values=values or {"email": "", "birth_date": ""},
        errors=errors or {},
    )


@get(FORGOT_NUMBER, name="forgot_number_form")
async def number_form(request: AnyRequest) -> Template:
    return _number_page(request)


@post(FORGOT_NUMBER, name="forgot_number")
async def forgot_number(
    request: AnyRequest, data: URLEncodedBody[NumberForm]
) -> Template | Redirect:
    if await switching_language(request):  # the page again in the new language; nothing sent
        return _number_page(request, values={"email": data.email, "birth_date": data.birth_date})
    started = time.monotonic()
    errors: dict[str, str] = {}
    address = born = None
    try:
        address = recovery.recovery_address(data.email)
    except InvalidRecipient as exc:
        errors["email"] = error_message(request, exc)
    try:
        born = recovery.parse_birth_date(data.birth_date)
    except recovery.BirthDateInvalid as exc:
        errors["birth_date"] = error_message(request, exc)
    if address is None or born is None:
        values = {"email": data.email, "birth_date": data.birth_date}
        return _number_page(request, values=values, errors=errors, status_code=HTTP_400_BAD_REQUEST)
    svc = services(request)
    async with svc.db.transaction() as session:
        await recovery.remind_numbers(
            session,
            address,
            born,
            requester=_requester(request),
            profile=svc.settings.profile,
            base_url=svc.settings.base_url,
        )
    return await _answer_at(started, see_other(f"{FORGOT_NUMBER}/sent"))


@get(f"{FORGOT_NUMBER}/sent", name="forgot_number_sent")
async def number_sent(request: AnyRequest) -> Template:
    return render(
        request,
        "pages/recovery/number_sent.html",
        sender_email=services(request).settings.profile.library.sender_email,
    )


# --- forgotten password -----------------------------------------------------------------


def _forgot_page(
    request: AnyRequest, *, login: str = "", error: str = "", status_code: int = 200
) -> Template:
    return render(
        request,
        "pages/recovery/password_forgot.html",
        status_code=status_code,
        login=login,
        error=error,
        elibrary_note=_elibrary_note(request),
        hours=services(request).settings.profile.patrons.reset_link_hours,
    )


@get(FORGOT_PASSWORD, name="forgot_password_form")
async def forgot_password_form(request: AnyRequest) -> Template:
    return _forgot_page(request)


@post(FORGOT_PASSWORD, name="forgot_password")
async def forgot_password(
    request: AnyRequest, data: URLEncodedBody[ForgotPasswordForm]
) -> Template | Redirect:
    if await switching_language(request):  # the page again in the new language; nothing sent
        return _forgot_page(request, login=data.login)
    started = time.monotonic()
    if not data.login.strip():
        message = text_of(request, "required")
        return _forgot_page(request, error=message, status_code=HTTP_400_BAD_REQUEST)
    svc = services(request)
    async with svc.db.transaction() as session:
        await recovery.request_reset(
            session,
            data.login,
            requester=_requester(request),
            profile=svc.settings.profile,
            number_format=svc.policy.number_format,
            base_url=svc.settings.base_url,
        )
    return await _answer_at(started, see_other(f"{FORGOT_PASSWORD}/sent"))


@get(f"{FORGOT_PASSWORD}/sent", name="forgot_password_sent")
async def forgot_password_sent(request: AnyRequest) -> Template:
    profile = services(request).settings.profile
    return render(
        request,
        "pages/recovery/password_sent.html",
        sender_email=profile.library.sender_email,
        hours=profile.patrons.reset_link_hours,
    )


# --- the reset link ---------------------------------------------------------------------


def _reset_page(
    request: AnyRequest,
    token: str,
    *,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    return render(
        request,
        "pages/recovery/reset.html",
        status_code=status_code,
        token=token,
        errors=errors or {},
        policy=services(request).settings.profile.password,
        elibrary_note=_elibrary_note(request),
    )


@get(f"{RESET}/{{token:str}}", name="password_reset_form")
async def reset_form(request: AnyRequest, token: FromPath[str]) -> Template:
    try:
        async with services(request).db.read() as session:
            await recovery.reset_target(session, token)
    except LinkInvalid as exc:
        return link_refused(request, exc, again=FORGOT_PASSWORD, bound_to="password")
    return _reset_page(request, token)


@post(f"{RESET}/{{token:str}}", name="password_reset")
async def reset(
    request: AnyRequest, token: FromPath[str], data: URLEncodedBody[ResetForm]
) -> Template | Redirect:
    svc = services(request)
    profile = svc.settings.profile
    try:
        async with svc.db.transaction() as session:
            patron = await recovery.reset_target(session, token)
            email = patron.email
    except LinkInvalid as exc:
        return link_refused(request, exc, again=FORGOT_PASSWORD, bound_to="password")
    try:
        check_new_password(profile, data.new_password, data.new_password_again, email=email)
    except (PasswordsDiffer, PasswordRejected) as exc:
        field = "new_password_again" if isinstance(exc, PasswordsDiffer) else "new_password"
        errors = {field: error_message(request, exc)}
        return _reset_page(request, token, errors=errors, status_code=HTTP_400_BAD_REQUEST)
    new_hash = await hash_password(data.new_password)  # slow: outside the transaction
    try:
        async with svc.db.transaction() as session:
            await recovery.reset_password(
                session,
                token,
                new_hash,
                profile=profile,
                base_url=svc.settings.base_url,
                language=language(request),
            )
    except LinkInvalid as exc:  # used or superseded while the form was open
        return link_refused(request, exc, again=FORGOT_PASSWORD, bound_to="password")
    return see_other(PASSWORD_CHANGED)


@get(PASSWORD_CHANGED, name="password_changed")
async def password_changed(request: AnyRequest) -> Template:
    return render(
        request,
        "pages/recovery/password_changed.html",
        login_path=LOGIN_PATH,
        elibrary_note=_elibrary_note(request),
    )


ROUTES: list[Any] = [
    number_form,
    forgot_number,
    number_sent,
    forgot_password_form,
    forgot_password,
    forgot_password_sent,
    reset_form,
    reset,
    password_changed,
]
