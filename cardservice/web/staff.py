"""The staff console's door: login, logout, the home page, and the ``current_staff`` guard.

The session holds only the staff id, the login time and a fingerprint of the password hash.
Every request reloads the account, so disabling it, changing its password or letting the
login grow older than a working day ends the session at once, cookie or no cookie.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Final

import msgspec
from litestar import Request, get, post
from litestar.params import URLEncodedBody
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER, HTTP_429_TOO_MANY_REQUESTS

from cardservice.mail.catcher import uses_catcher
from cardservice.security.passwords import password_fingerprint
from cardservice.security.secrets import rate_limit_key
from cardservice.staff.models import Role, StaffUser
from cardservice.staff.service import (
    StaffBadCredentials,
    StaffLoginLimited,
    authenticate,
    require_role,
)
from cardservice.web.i18n import N_, switching_language
from cardservice.web.pages import LoginRequired, render, this_page, translate
from cardservice.web.resume import KEPT_MAX_LENGTH, kept_form, login_context, resume_page
from cardservice.web.security import login_fresh
from cardservice.web.state import client_address, secrets, services

STAFF_HOME: Final = "/staff"
STAFF_LOGIN: Final = "/staff/login"
_SESSION_ID: Final = "staff_id"
_SESSION_AT: Final = "staff_at"
_SESSION_PW: Final = "staff_pw"

# The staff errors these pages show, for the catalogs; a test checks they are the errors' own.
ERROR_MESSAGES: Final = (
    N_("The username or password is wrong, or the account is locked after failed logins."),
    N_("Too many login attempts from here. Please wait a while and try again."),
    N_("This staff role may not do that."),
)

ROLE_LABELS: Final = {
    Role.REVIEWER: N_("Reviewer"),
    Role.COUNTER: N_("Counter staff"),
    Role.ADMIN: N_("Administrator"),
}

AnyRequest = Request[Any, Any, Any]


async def current_staff(request: AnyRequest, *roles: Role | str) -> StaffUser:
    """The logged-in staff member, reloaded; raises unless they have one of ``roles``.

    Nobody logged in (or a session that no longer holds): pages redirect to the login page
    and come back afterwards; a form sent to a route that keeps what was typed is answered
    with the login page carrying it, and comes back filled in once logged in
    (``web/resume.py``). Logged in without the role: ``StaffForbidden`` (403).
    """
    session = request.session
    staff_id, logged_in_at = session.get(_SESSION_ID), session.get(_SESSION_AT)
    user = None
    if isinstance(staff_id, int) and login_fresh(logged_in_at):
        # A read: on SQLite a transaction would take the write lock for every staff page.
        async with services(request).db.read() as db_session:
            user = await db_session.get(StaffUser, staff_id)
    if (
        user is None
        or user.disabled_at is not None
        or session.get(_SESSION_PW) != password_fingerprint(user.password_hash)
    ):
        request.clear_session()
        kept = await kept_form(request, this_page(request))
        page = None
        if kept is not None:
            page = _login_page(request, next_path=kept.path, kept=kept.text)
        raise LoginRequired(STAFF_LOGIN, this_page(request), login_page=page)
    if roles:
        require_role(user, *roles)
    return user


def safe_next(target: str) -> str:
    """Where to go after login: a staff page on this site, never elsewhere."""
    if (
        target.startswith(STAFF_HOME)
        and not target.startswith("//")
        and "\\" not in target
        and not target.startswith(STAFF_LOGIN)
    ):
        return target
    return STAFF_HOME


class LoginForm(msgspec.Struct):
    username: Annotated[str, msgspec.Meta(max_length=128)] = ""
    password: Annotated[str, msgspec.Meta(max_length=1024)] = ""
    next: Annotated[str, msgspec.Meta(max_length=2048)] = ""
    kept: Annotated[str, msgspec.Meta(max_length=KEPT_MAX_LENGTH)] = ""


def _login_page(
    request: AnyRequest,
    *,
    username: str = "",
    error: str = "",
    next_path: str = "",
    kept: str = "",
) -> Template:
    return render(
        request,
        "pages/staff/login.html",
        username=username,
        error=error,
        next_path=safe_next(next_path),
        **login_context(kept),
    )


@get(STAFF_LOGIN, name="staff_login_form")
async def login_form(request: AnyRequest) -> Template:
    return _login_page(request, next_path=request.query_params.get("next", ""))


@post(STAFF_LOGIN, name="staff_login")
async def login(request: AnyRequest, data: URLEncodedBody[LoginForm]) -> Template | Redirect:
    """Log in. Every failure is the same page whoever the username names (a locked account
    included); over the per-client limit the page says so, with 429. A language switch
    shows the page again, the username kept."""
    if await switching_language(request):
        return _login_page(request, username=data.username, next_path=data.next, kept=data.kept)
    try:
        user = await authenticate(
            services(request).db,
            data.username,
            data.password,
            client=client_address(request),
            secret=rate_limit_key(secrets(request)),
        )
    except (StaffBadCredentials, StaffLoginLimited) as exc:
        page = _login_page(
            request,
            username=data.username,
            error=translate(request, exc.message),
            next_path=data.next,
            kept=data.kept,
        )
        if isinstance(exc, StaffLoginLimited):
            page.status_code = HTTP_429_TOO_MANY_REQUESTS
        return page
    # A fresh session on login: nothing from before carries over.
    request.set_session(
        {
            _SESSION_ID: user.id,
            _SESSION_AT: int(time.time()),
            _SESSION_PW: password_fingerprint(user.password_hash),
        }
    )
    target = safe_next(data.next)
    if target == data.next and (resumed := resume_page(request, target, data.kept)):
        return resumed
    return Redirect(target, status_code=HTTP_303_SEE_OTHER)


@post("/staff/logout", name="staff_logout")
async def logout(request: AnyRequest) -> Redirect:
    request.clear_session()
    return Redirect(STAFF_LOGIN, status_code=HTTP_303_SEE_OTHER)


@get(STAFF_HOME, name="staff_home")
async def staff_home(request: AnyRequest) -> Template:
    staff = await current_staff(request)
    return render(
        request,
        "pages/staff/home.html",
        staff=staff,
        role=translate(request, ROLE_LABELS.get(Role(staff.role), staff.role)),
        catcher=uses_catcher(services(request).settings),
    )


ROUTES = [login_form, login, logout, staff_home]
