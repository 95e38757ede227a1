"""Who is logged in as a patron, for every patron page (and for other pages that act for a
patron, such as starting a procedure from My Library).

The session holds the patron id, the login time and a fingerprint of the password hash;
every request reloads the patron, so a changed password or a login older than the session
age (12 hours, ``web.security.SESSION_MAX_AGE``) ends it. A patron who ticked "keep me
signed in on this device" also holds a device cookie (``patrons.devices``): when the
session has gone, that cookie starts a new one and its expiry rolls forward. Handlers that
want the rolled cookie sent back call :func:`with_device_cookie` on their response; one
that does not still has the session, and the cookie keeps its previous expiry.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from typing import Annotated, Any, Final, TypeVar
from urllib.parse import urlencode

import msgspec
from litestar import Request, Response
from litestar.response import Redirect
from litestar.status_codes import HTTP_303_SEE_OTHER
from sqlalchemy.ext.asyncio import AsyncSession

from cardservice.patrons import devices
from cardservice.patrons.login import session_patron
from cardservice.patrons.models import Patron
from cardservice.patrons.paths import LOGIN_PATH
from cardservice.security.passwords import password_fingerprint
from cardservice.settings import Settings
from cardservice.web.pages import date_text, this_page
from cardservice.web.security import login_fresh
from cardservice.web.state import services

_SESSION_ID: Final = "patron_id"
_SESSION_AT: Final = "patron_at"
_SESSION_PW: Final = "patron_pw"
# request.state keys: what to do with the device cookie on the way out.
_DEVICE_SET: Final = "patron_device_set"
_DEVICE_DROP: Final = "patron_device_drop"
# Babel's long date, as the emails write it: 2027年3月1日, 1 March 2027.

AnyRequest = Request[Any, Any, Any]
R = TypeVar("R", bound=Response[Any])
Text = Annotated[str, msgspec.Meta(max_length=1024)]
Secret = Annotated[str, msgspec.Meta(max_length=1024)]
Flag = Annotated[str, msgspec.Meta(max_length=8)]
CHECKBOX_ON: Final = "on"


def see_other(path: str) -> Redirect:
    return Redirect(path, status_code=HTTP_303_SEE_OTHER)


def page_date(request: AnyRequest, day: date) -> str:
    """``day`` written for the page's language (``web.pages.date_text``)."""
    return date_text(request, day)


def device_cookie_name(settings: Settings) -> str:
    """``__Host-`` in production, as the session cookie (``web.security``): Secure, Path=/,
    no Domain, so a sibling subdomain cannot plant one."""
    return "__Host-patron_device" if settings.production else "patron_device"


def start_session(request: AnyRequest, patron: Patron) -> None:
    """A fresh session for ``patron``: nothing from before carries over."""
    request.set_session(
        {
            _SESSION_ID: patron.id,
            _SESSION_AT: int(time.time()),
            _SESSION_PW: password_fingerprint(patron.password_hash),
        }
    )


def keep_session(request: AnyRequest, patron: Patron) -> None:
    """After the patron changed their own password: this session goes on with the new
    fingerprint (every other session ends with the old one)."""
    request.set_session(
        {**request.session, _SESSION_PW: password_fingerprint(patron.password_hash)}
    )


async def current_patron(request: AnyRequest, session: AsyncSession) -> Patron | None:
    """The patron logged in on this request, from the session or else from a remembered
    device (which then starts a new session); None when nobody is."""
    stored = request.session
    if login_fresh(stored.get(_SESSION_AT)):
        patron = await session_patron(session, stored.get(_SESSION_ID), stored.get(_SESSION_PW))
        if patron is not None:
            return patron
    resumed = await _resume_device(request, session)
    if resumed is not None:
        start_session(request, resumed)
        return resumed
    if stored.get(_SESSION_ID) is not None:  # a patron session that no longer holds
        request.clear_session()
    return None


async def _resume_device(request: AnyRequest, session: AsyncSession) -> Patron | None:
    settings = services(request).settings
    token = request.cookies.get(device_cookie_name(settings))
    if not token:
        return None
    found = await devices.resume(session, token, days=settings.profile.patrons.keep_signed_in_days)
    if found is None:
        request.state[_DEVICE_DROP] = True
        return None
    patron, remembered = found
    request.state[_DEVICE_SET] = remembered
    return patron


def remember_device(request: AnyRequest, remembered: devices.Remembered) -> None:
    """Send this device's cookie with the response (see :func:`with_device_cookie`)."""
    request.state[_DEVICE_SET] = remembered


def forget_device(request: AnyRequest) -> None:
    """Delete this device's cookie with the response (see :func:`with_device_cookie`)."""
    request.state[_DEVICE_DROP] = True


def device_token(request: AnyRequest) -> str:
    return request.cookies.get(device_cookie_name(services(request).settings)) or ""


def with_device_cookie(request: AnyRequest, response: R) -> R:
    """``response`` with the device cookie set (remembered or rolled) or deleted (ended)."""
    settings = services(request).settings
    name = device_cookie_name(settings)
    remembered = request.state.get(_DEVICE_SET)
    if isinstance(remembered, devices.Remembered):
        seconds = int((remembered.expires_at - datetime.now(UTC)).total_seconds())
        value, max_age = remembered.token, max(seconds, 0)
    elif request.state.get(_DEVICE_DROP):
        value, max_age = "", 0
    else:
        return response
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        secure=settings.production,
        httponly=True,
        samesite="lax",
    )
    return response


def to_login(request: AnyRequest) -> Redirect:
    """To the login page, coming back here afterwards."""
    query = urlencode({"next": this_page(request)}, safe="/")
    return with_device_cookie(request, see_other(f"{LOGIN_PATH}?{query}"))


def full_name(patron: Patron) -> str:
    return f"{patron.family_name} {patron.given_name}"
