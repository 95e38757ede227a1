"""My Library (``/my``): the patron's card, details, procedures, applications, notification
choices, password and email address.

Every page needs a logged-in patron (else the login page, coming back here). The email
confirmation link (``/my/email/verify/{token}``) does not: it is opened from the new
mailbox, maybe on another device, and the link itself is the proof.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

import msgspec
from litestar import get, post
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Redirect, Template
from litestar.status_codes import (
    HTTP_400_BAD_REQUEST,
    HTTP_429_TOO_MANY_REQUESTS,
)
from phonenumbers import NumberParseException

from cardservice.calendar import local_today
from cardservice.errors import DomainError
from cardservice.mail.errors import InvalidRecipient
from cardservice.patrons import email_change
from cardservice.patrons.account import (
    NOTIFICATION_KEYS,
    PasswordChange,
    PasswordsDiffer,
    change_password,
    overview,
    save_notifications,
)
from cardservice.patrons.login import PatronBadCredentials, PatronLoginLimited
from cardservice.patrons.models import Patron
from cardservice.patrons.paths import EMAIL_VERIFY_PATH, MY_PATH
from cardservice.patrons.routes.common import (
    CHECKBOX_ON,
    AnyRequest,
    Flag,
    Secret,
    Text,
    current_patron,
    forget_device,
    full_name,
    keep_session,
    page_date,
    see_other,
    to_login,
    with_device_cookie,
)
from cardservice.patrons.routes.login import login_needed
from cardservice.patrons.routes.texts import LIMITED, error_message, link_refused, text_of
from cardservice.patrons.wallet_links import offered_wallets
from cardservice.registration.japan import format_phone, format_postal_code
from cardservice.registration.procedures import Closed
from cardservice.security.links import LinkInvalid
from cardservice.security.passwords import PasswordRejected
from cardservice.security.secrets import rate_limit_key
from cardservice.web.i18n import language, switching_language
from cardservice.web.pages import render
from cardservice.web.resume import KEEPS_TYPED
from cardservice.web.state import client_address, secrets, services

PASSWORD_PATH: Final = f"{MY_PATH}/password"
EMAIL_PATH: Final = f"{MY_PATH}/email"
NOTIFICATIONS_PATH: Final = f"{MY_PATH}/notifications"
# What ``/my?saved=...`` confirms at the top of the page.
_SAVED: Final = frozenset({"notifications", "password", "email_sent"})


class NotificationsForm(msgspec.Struct):
    notify_reservation_ready: Flag = ""
    notify_expiry_near: Flag = ""
    notify_overdue: Flag = ""
    notify_new_arrivals: Flag = ""
    notify_emergency_closure: Flag = ""

    def chosen(self) -> dict[str, bool]:
        fields = msgspec.structs.asdict(self)
        return {key: fields[f"notify_{key}"] == CHECKBOX_ON for key in NOTIFICATION_KEYS}


class PasswordForm(msgspec.Struct):
    current_password: Secret = ""
    new_password: Secret = ""
    new_password_again: Secret = ""


class EmailForm(msgspec.Struct):
    email: Text = ""


def _address(patron: Patron) -> dict[str, str]:
    return {
        "postal_code": format_postal_code(patron.postal_code) if patron.postal_code else "",
        # As Japanese addresses are written: no spaces, but one before the building.
        "lines": " ".join(
            part
            for part in (patron.prefecture + patron.city + patron.street, patron.building)
            if part
        ),
    }


def _phone(stored: str) -> str:
    """As people write it; a number imported in another form is shown as it came."""
    if not stored.startswith("+"):
        return stored
    try:
        return format_phone(stored)
    except NumberParseException:
        return stored


@get(MY_PATH, name="my_library")
async def my_library(request: AnyRequest) -> Template | Redirect:
    return await _my_page(request)


async def _my_page(
    request: AnyRequest, *, chosen: dict[str, bool] | None = None
) -> Template | Redirect:
    """My Library; ``chosen``: the email choices as ticked in a form sent back (a language
    switch), in place of the saved ones."""
    svc = services(request)
    profile = svc.settings.profile
    now = datetime.now(UTC)
    async with svc.db.transaction() as session:
        patron = await current_patron(request, session)
        if patron is None:
            return to_login(request)
        summary = await overview(session, patron, profile, local_today(svc.policy.timezone, now))
    references = {app.public_id: app.reference for app in summary.applications}
    opens = {
        item.procedure.value: page_date(request, item.opens_on)
        for item in summary.procedures
        if item.opens_on is not None
    }
    saved = request.query_params.get("saved", "")
    page = render(
        request,
        "pages/my/index.html",
        patron=patron,
        name=full_name(patron),
        birth_date=page_date(request, patron.birth_date),
        address=_address(patron),
        phone=_phone(patron.phone),
        card=summary.card,
        state=summary.state,
        expires_on=page_date(request, summary.card.expires_on) if summary.card else "",
        procedures=summary.procedures,
        opens=opens,
        references=references,
        closed=Closed,
        applications=summary.applications,
        dates={
            app.id: page_date(request, (app.submitted_at or app.created_at).date())
            for app in summary.applications
        },
        decided={
            app.id: page_date(request, app.decided_at.date())
            for app in summary.applications
            if app.decided_at is not None
        },
        notifications=summary.notifications if chosen is None else chosen,
        wallets=offered_wallets(
            svc, summary.card, summary.state, holder_name=full_name(patron), now=now
        ),
        saved=saved if saved in _SAVED else "",
    )
    return with_device_cookie(request, page)


@post(NOTIFICATIONS_PATH, name="my_notifications", opt=KEEPS_TYPED)
async def notifications(
    request: AnyRequest, data: URLEncodedBody[NotificationsForm]
) -> Template | Redirect:
    if await switching_language(request):  # the boxes as ticked, in the new language; not saved
        return await _my_page(request, chosen=data.chosen())
    async with services(request).db.transaction() as session:
        patron = await current_patron(request, session)
        if patron is None:
            return await login_needed(request)
        await save_notifications(session, patron, data.chosen())
    return with_device_cookie(request, see_other(f"{MY_PATH}?saved=notifications#notifications"))


# --- password ---------------------------------------------------------------------------


def _password_page(
    request: AnyRequest, *, errors: dict[str, str] | None = None, status_code: int = 200
) -> Template:
    profile = services(request).settings.profile
    note = profile.procedures.elibrary_password_note
    return render(
        request,
        "pages/my/password.html",
        status_code=status_code,
        errors=errors or {},
        policy=profile.password,
        elibrary_note=note.get(language(request)) if note else "",
    )


@get(PASSWORD_PATH, name="my_password_form")
async def password_form(request: AnyRequest) -> Template | Redirect:
    async with services(request).db.transaction() as session:
        if await current_patron(request, session) is None:
            return to_login(request)
    return with_device_cookie(request, _password_page(request))


@post(PASSWORD_PATH, name="my_password")
async def password(request: AnyRequest, data: URLEncodedBody[PasswordForm]) -> Template | Redirect:
    svc = services(request)
    async with svc.db.transaction() as session:
        patron = await current_patron(request, session)
    if patron is None:
        return to_login(request)
    change = PasswordChange(
        current=data.current_password, new=data.new_password, again=data.new_password_again
    )
    try:
        changed = await change_password(
            svc.db,
            patron,
            change,
            profile=svc.settings.profile,
            base_url=svc.settings.base_url,
            language=language(request),
            client=client_address(request),
            rate_secret=rate_limit_key(secrets(request)),
        )
    except (PatronBadCredentials, PatronLoginLimited, PasswordsDiffer, PasswordRejected) as exc:
        status = HTTP_429_TOO_MANY_REQUESTS if isinstance(exc, PatronLoginLimited) else 400
        field = _PASSWORD_FIELDS.get(type(exc), "new_password")
        errors = {field: error_message(request, exc)}
        return with_device_cookie(
            request, _password_page(request, errors=errors, status_code=status)
        )
    keep_session(request, changed)
    forget_device(request)  # every remembered device ended, this one too
    return with_device_cookie(request, see_other(f"{MY_PATH}?saved=password"))


_PASSWORD_FIELDS: Final[dict[type[DomainError], str]] = {
    PatronBadCredentials: "current_password",
    PatronLoginLimited: "current_password",
    PasswordsDiffer: "new_password_again",
    PasswordRejected: "new_password",
}


# --- email ------------------------------------------------------------------------------


def _email_page(
    request: AnyRequest,
    patron: Patron,
    *,
    typed: str = "",
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    return render(
        request,
        "pages/my/email.html",
        status_code=status_code,
        current=patron.email,
        typed=typed,
        errors=errors or {},
        hours=services(request).settings.profile.links.verification_hours,
    )


@get(EMAIL_PATH, name="my_email_form")
async def email_form(request: AnyRequest) -> Template | Redirect:
    async with services(request).db.transaction() as session:
        patron = await current_patron(request, session)
    if patron is None:
        return to_login(request)
    return with_device_cookie(request, _email_page(request, patron))


@post(EMAIL_PATH, name="my_email", opt=KEEPS_TYPED)
async def email(request: AnyRequest, data: URLEncodedBody[EmailForm]) -> Template | Redirect:
    svc = services(request)
    error: DomainError | None = None
    async with svc.db.transaction() as session:
        patron = await current_patron(request, session)
        if patron is None:
            return await login_needed(request)
        if await switching_language(request):  # the page again in the new language; nothing sent
            return with_device_cookie(request, _email_page(request, patron, typed=data.email))
        try:
            sent = await email_change.request_change(
                session,
                patron,
                data.email,
                profile=svc.settings.profile,
                base_url=svc.settings.base_url,
                language=language(request),
                rate_secret=rate_limit_key(secrets(request)),
            )
        except (InvalidRecipient, email_change.EmailUnchanged, email_change.EmailTooLong) as exc:
            error = exc
            sent = None
    if error is not None or sent is None:
        status = HTTP_400_BAD_REQUEST if error else HTTP_429_TOO_MANY_REQUESTS
        message = error_message(request, error) if error else text_of(request, LIMITED)
        page = _email_page(
            request, patron, typed=data.email, errors={"email": message}, status_code=status
        )
        return with_device_cookie(request, page)
    return with_device_cookie(request, see_other(f"{MY_PATH}?saved=email_sent"))


@get(f"{EMAIL_VERIFY_PATH}/{{token:str}}", name="my_email_verify")
async def email_verify(request: AnyRequest, token: FromPath[str]) -> Template:
    """A button only: mail scanners fetch links, and that must not use this one up."""
    try:
        async with services(request).db.read() as session:
            pending = await email_change.pending_change(session, token)
    except LinkInvalid as exc:
        return link_refused(request, exc, again=EMAIL_PATH, bound_to="email")
    return render(request, "pages/my/email_verify.html", token=token, new_email=pending.new)


@post(f"{EMAIL_VERIFY_PATH}/{{token:str}}", name="my_email_confirm")
async def email_confirm(request: AnyRequest, token: FromPath[str]) -> Template:
    svc = services(request)
    try:
        async with svc.db.transaction() as session:
            done = await email_change.confirm_change(
                session, token, profile=svc.settings.profile, language=language(request)
            )
    except LinkInvalid as exc:
        return link_refused(request, exc, again=EMAIL_PATH, bound_to="email")
    return render(request, "pages/my/email_changed.html", new_email=done.new)


ROUTES: list[Any] = [
    my_library,
    notifications,
    password_form,
    password,
    email_form,
    email,
    email_verify,
    email_confirm,
]
