"""Login and logout, the card page with its offline service worker.

Login goes to My Library (``/my``) unless it was asked for from the card page or another
patron page. The texts of these pages live in their templates; errors reach the templates
as their stable codes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Final

import msgspec
from litestar import Response, get, post
from litestar.params import URLEncodedBody
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER

from cardservice.errors import DomainError
from cardservice.patrons import devices
from cardservice.patrons.card_view import CardIssuer, card_face, current_card
from cardservice.patrons.login import (
    PatronBadCredentials,
    PatronLoginLimited,
    authenticate_patron,
)
from cardservice.patrons.paths import CARD_PATH, LOGIN_PATH, LOGOUT_PATH, MY_PATH
from cardservice.patrons.routes.common import (
    CHECKBOX_ON,
    AnyRequest,
    Flag,
    current_patron,
    device_token,
    forget_device,
    full_name,
    remember_device,
    see_other,
    start_session,
    to_login,
    with_device_cookie,
)
from cardservice.patrons.wallet_links import offered_wallets
from cardservice.security.secrets import rate_limit_key
from cardservice.web.errors import STATUS_OF_KIND
from cardservice.web.i18n import switching_language
from cardservice.web.pages import render, this_page
from cardservice.web.resume import KEPT_MAX_LENGTH, kept_form, login_context, resume_page
from cardservice.web.state import client_address, secrets, services

SERVICE_WORKER_PATH: Final = "/sw.js"
SERVICE_WORKER_FILE: Final = Path(__file__).resolve().parents[2] / "web" / "static" / "sw.js"
# Logging out removes the offline copy of the card from the phone as well.
CLEAR_SITE_DATA: Final = '"cache", "storage"'
# Where a login may return to: the patron's own pages, with their query (the language).
_RETURN_PATHS: Final = (CARD_PATH, MY_PATH)


class LoginForm(msgspec.Struct):
    login: Annotated[str, msgspec.Meta(max_length=256)] = ""
    password: Annotated[str, msgspec.Meta(max_length=1024)] = ""
    next: Annotated[str, msgspec.Meta(max_length=2048)] = ""
    keep: Flag = ""
    kept: Annotated[str, msgspec.Meta(max_length=KEPT_MAX_LENGTH)] = ""


def safe_next(target: str) -> str:
    """Where to go after login: My Library, or the card page or a My Library page when the
    login was asked for from there; never anywhere else."""
    if "\\" in target or "//" in target or ".." in target:
        return MY_PATH
    for path in _RETURN_PATHS:
        if target == path or target.startswith((path + "?", path + "/")):
            return target
    return MY_PATH


def _login_page(
    request: AnyRequest,
    *,
    login: str = "",
    keep: bool = False,
    error: DomainError | None = None,
    next_path: str = "",
    kept: str = "",
) -> Template:
    profile = services(request).settings.profile
    return render(
        request,
        "pages/card/login.html",
        status_code=STATUS_OF_KIND[error.kind] if error else 200,
        login=login,
        keep=keep,
        keep_days=profile.patrons.keep_signed_in_days,
        error=error.code if error else "",
        next_path=safe_next(next_path),
        **login_context(kept),
    )


async def login_needed(request: AnyRequest) -> Template | Redirect:
    """Nobody logged in on a page of the patron's own: to the login page, coming back here
    afterwards; a form sent to a route that keeps what was typed is answered with the login
    page carrying it, and comes back filled in once logged in (``web/resume.py``)."""
    kept = await kept_form(request, this_page(request))
    if kept is None:
        return to_login(request)
    return with_device_cookie(request, _login_page(request, next_path=kept.path, kept=kept.text))


@get(LOGIN_PATH, name="patron_login_form")
async def login_form(request: AnyRequest) -> Template:
    return _login_page(request, next_path=request.query_params.get("next", ""))


@post(LOGIN_PATH, name="patron_login")
async def login(request: AnyRequest, data: URLEncodedBody[LoginForm]) -> Template | Redirect:
    svc = services(request)
    keep = data.keep == CHECKBOX_ON
    if await switching_language(request):  # the page again in the new language; no login tried
        return _login_page(
            request, login=data.login, keep=keep, next_path=data.next, kept=data.kept
        )
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
        return _login_page(
            request, login=data.login, keep=keep, error=exc, next_path=data.next, kept=data.kept
        )
    start_session(request, patron)
    if keep:
        async with svc.db.transaction() as session:
            remembered = await devices.remember(
                session, patron, days=svc.settings.profile.patrons.keep_signed_in_days
            )
        remember_device(request, remembered)
    target = safe_next(data.next)
    if target == data.next and (resumed := resume_page(request, target, data.kept)):
        return with_device_cookie(request, resumed)
    return with_device_cookie(request, see_other(target))


@post(LOGOUT_PATH, name="patron_logout")
async def logout(request: AnyRequest) -> Redirect:
    """Ends the session and, on a remembered device, that device (other devices stay)."""
    token = device_token(request)
    if token:
        async with services(request).db.transaction() as session:
            await devices.forget(session, token)
        forget_device(request)
    request.clear_session()
    response = Redirect(
        LOGIN_PATH,
        status_code=HTTP_303_SEE_OTHER,
        headers={"Clear-Site-Data": CLEAR_SITE_DATA},
    )
    return with_device_cookie(request, response)


@get(CARD_PATH, name="patron_card")
async def card_page(request: AnyRequest) -> Template | Redirect:
    svc = services(request)
    async with svc.db.transaction() as db_session:
        patron = await current_patron(request, db_session)
        card = await current_card(db_session, patron.id) if patron else None
    if patron is None:
        return to_login(request)
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
    page = render(
        request,
        "pages/card/card.html",
        patron_name=full_name(patron),
        face=face,
        wallets=offered_wallets(
            svc, card, face.state if face else None, holder_name=full_name(patron), now=now
        ),
        shown_at=now,
    )
    return with_device_cookie(request, page)


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
