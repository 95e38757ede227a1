"""The patron's pages: login and the card page, with its offline service worker.

The session holds the patron id, the login time and a fingerprint of the password hash;
every request reloads the patron, so a changed password or an old login ends the session.
The texts of these pages live in their templates (the page catalogs are extracted from
``cardservice/web`` and the templates); errors reach the templates as their stable codes.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Final
from urllib.parse import urlencode

import msgspec
from litestar import Request, Response, get, post
from litestar.params import URLEncodedBody
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER

from cardservice.errors import DomainError
from cardservice.patrons.card_view import CardIssuer, card_face, current_card
from cardservice.patrons.login import (
    PatronBadCredentials,
    PatronLoginLimited,
    authenticate_patron,
    session_patron,
)
from cardservice.patrons.models import Patron
from cardservice.security.passwords import password_fingerprint
from cardservice.web.errors import STATUS_OF_KIND
from cardservice.web.pages import render, this_page
from cardservice.web.security import login_fresh, rate_limit_key
from cardservice.web.state import client_address, secrets, services

LOGIN_PATH: Final = "/login"
LOGOUT_PATH: Final = "/logout"
CARD_PATH: Final = "/card"
SERVICE_WORKER_PATH: Final = "/sw.js"
SERVICE_WORKER_FILE: Final = Path(__file__).resolve().parents[1] / "web" / "static" / "sw.js"
# Logging out removes the offline copy of the card from the phone as well.
CLEAR_SITE_DATA: Final = '"cache", "storage"'
_SESSION_ID: Final = "patron_id"
_SESSION_AT: Final = "patron_at"
_SESSION_PW: Final = "patron_pw"

AnyRequest = Request[Any, Any, Any]


class LoginForm(msgspec.Struct):
    login: Annotated[str, msgspec.Meta(max_length=256)] = ""
    password: Annotated[str, msgspec.Meta(max_length=1024)] = ""
    next: Annotated[str, msgspec.Meta(max_length=2048)] = ""


def safe_next(target: str) -> str:
    """Where to go after login: the card page (in any language), never elsewhere."""
    if target == CARD_PATH or target.startswith(CARD_PATH + "?"):
        return target
    return CARD_PATH


def _login_page(
    request: AnyRequest,
    *,
    login: str = "",
    error: DomainError | None = None,
    next_path: str = "",
) -> Template:
    return render(
        request,
        "pages/card/login.html",
        status_code=STATUS_OF_KIND[error.kind] if error else 200,
        login=login,
        error=error.code if error else "",
        next_path=safe_next(next_path),
    )


@get(LOGIN_PATH, name="patron_login_form")
async def login_form(request: AnyRequest) -> Template:
    return _login_page(request, next_path=request.query_params.get("next", ""))


@post(LOGIN_PATH, name="patron_login")
async def login(request: AnyRequest, data: URLEncodedBody[LoginForm]) -> Template | Redirect:
    svc = services(request)
    try:
        patron = await authenticate_patron(
            svc.db,
            data.login,
            data.password,
            number_format=svc.policy.number_format,
            client=client_address(request),
            secret=rate_limit_key(secrets(request)),
        )
    except (PatronBadCredentials, PatronLoginLimited) as exc:
        return _login_page(request, login=data.login, error=exc, next_path=data.next)
    # A fresh session on login: nothing from before carries over.
    request.set_session(
        {
            _SESSION_ID: patron.id,
            _SESSION_AT: int(time.time()),
            _SESSION_PW: password_fingerprint(patron.password_hash),
        }
    )
    return Redirect(safe_next(data.next), status_code=HTTP_303_SEE_OTHER)


@post(LOGOUT_PATH, name="patron_logout")
async def logout(request: AnyRequest) -> Redirect:
    request.clear_session()
    return Redirect(
        LOGIN_PATH,
        status_code=HTTP_303_SEE_OTHER,
        headers={"Clear-Site-Data": CLEAR_SITE_DATA},
    )


def _to_login(request: AnyRequest) -> Redirect:
    next_path = urlencode({"next": this_page(request)}, safe="/")
    return Redirect(f"{LOGIN_PATH}?{next_path}", status_code=HTTP_303_SEE_OTHER)


def _full_name(patron: Patron) -> str:
    return f"{patron.family_name} {patron.given_name}"


@get(CARD_PATH, name="patron_card")
async def card_page(request: AnyRequest) -> Template | Redirect:
    svc = services(request)
    session = request.session
    patron, card = None, None
    if login_fresh(session.get(_SESSION_AT)):
        async with svc.db.transaction() as db_session:
            patron = await session_patron(
                db_session, session.get(_SESSION_ID), session.get(_SESSION_PW)
            )
            card = await current_card(db_session, patron.id) if patron else None
    if patron is None:
        if session.get(_SESSION_ID) is not None:  # a patron session that no longer holds
            request.clear_session()
        return _to_login(request)
    now = datetime.now(UTC)
    face = None
    if card is not None:
        face = await card_face(
            card,
            symbology=svc.settings.profile.barcode.symbology,
            policy=svc.policy,
            renderer=svc.barcodes,
            issuer=CardIssuer(
                keyring=svc.keyring,
                issuer=svc.settings.issuer,
                audience=svc.settings.token_audience,
            ),
            now=now,
        )
    return render(
        request,
        "pages/card/card.html",
        patron_name=_full_name(patron),
        face=face,
        shown_at=now,
    )


@cache
def _service_worker_source() -> bytes:
    return SERVICE_WORKER_FILE.read_bytes()


@get(SERVICE_WORKER_PATH, name="card_service_worker")
async def service_worker() -> Response[bytes]:
    """From the site root, so that the worker may control ``/card``; always revalidated."""
    return Response(
        _service_worker_source(),
        media_type="text/javascript",
        headers={"Cache-Control": "no-cache"},
    )


ROUTES: list[Any] = [login_form, login, logout, card_page, service_worker]
