"""HTTP routes of Apple Wallet passes: the patron's download, and the PassKit web service.

``GET /card/wallet/apple.pkpass`` (a page route: log in first) sends the logged-in patron's
current card as a pass when the card is active; for an expired, suspended or revoked card it
answers with a page saying why and where to go instead (:func:`patron_pass`). The web
service is under ``/api/passkit`` (the pass's ``webServiceURL``) with Apple's paths and
answers (Apple, "Wallet Passes" web service reference):

- ``POST /v1/devices/{device}/registrations/{passType}/{serial}``, body ``{"pushToken"}``:
  201 registered, 200 already registered;
- ``DELETE`` the same path: 200 unregistered;
- ``GET /v1/devices/{device}/registrations/{passType}?passesUpdatedSince=tag``: 200
  ``{"serialNumbers": [...], "lastUpdated": tag}``, 204 when none changed;
- ``GET /v1/passes/{passType}/{serial}``: 200 the pass (``Last-Modified``), 304 when
  ``If-Modified-Since`` is not older;
- ``POST /v1/log``, body ``{"logs": [...]}``: 200, each message logged (truncated); it
  needs no token (Apple's), so each client address may send :data:`LOG_REQUESTS_PER_HOUR`
  an hour, then 429 ``rate_limited``.

The pass routes need ``Authorization: ApplePass <token>``; without the right one they answer
401 with the stable JSON error ``pass_unauthorized``, the same whatever was wrong.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Annotated, Any, Final

import msgspec
from litestar import Request, Response, delete, get, post
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.response import Redirect, Template
from litestar.status_codes import (
    HTTP_200_OK,
    HTTP_201_CREATED,
    HTTP_204_NO_CONTENT,
    HTTP_304_NOT_MODIFIED,
)
from sqlalchemy import select

from cardservice.calendar import local_today
from cardservice.cards.models import Card
from cardservice.errors import Conflict, NotFound, RateLimited
from cardservice.passkit.content import apple_card
from cardservice.passkit.models import ApplePass
from cardservice.passkit.paths import APPLE_PASS_PATH, WEB_SERVICE_PATH
from cardservice.passkit.service import (
    authorized_pass,
    pass_of_card,
    register_device,
    unregister_device,
    updated_serials,
    whole_second,
)
from cardservice.passkit.texts import pass_strings
from cardservice.passkit.wallet import AppleWallet
from cardservice.patrons.card_view import CardIssuer, CardState, card_state, current_card
from cardservice.patrons.models import Patron
from cardservice.patrons.routes.common import current_patron, to_login, with_device_cookie
from cardservice.security.ratelimit import HOUR, hit
from cardservice.security.secrets import derive_key, rate_limit_key
from cardservice.services import Services
from cardservice.web.errors import STATUS_OF_KIND
from cardservice.web.pages import render, translate
from cardservice.web.state import client_address, secrets, services
from passes.apple import build_pkpass
from passes.base import BuiltPass

log = logging.getLogger(__name__)

AnyRequest = Request[Any, Any, Any]
# The label of the key that makes the passes' authentication tokens (web.security.derive_key).
AUTH_KEY_LABEL: Final = "apple-pass-authentication"
LOG_MESSAGES_MAX: Final = 20
LOG_MESSAGE_CHARS: Final = 500
LOG_REQUESTS_PER_HOUR: Final = 30
DEVICE: Final = WEB_SERVICE_PATH + "/v1/devices/{device_id:str}/registrations/{pass_type:str}"


class AppleWalletOff(NotFound):
    """Apple Wallet passes are not offered by this library."""

    code = "apple_wallet_not_configured"


class NoCardForPass(NotFound):
    """You have no card to add to Wallet yet."""

    code = "no_card"


class CardRevokedForPass(Conflict):
    """This card is no longer valid, so it cannot be added to Wallet."""

    code = "card_revoked"


class CardExpiredForPass(Conflict):
    """This card has expired, so it cannot be added to Wallet."""

    code = "card_expired"


class CardSuspendedForPass(Conflict):
    """This card is suspended, so it cannot be added to Wallet."""

    code = "card_suspended"


# Why the download refuses a card in each state but active (see :func:`patron_pass`).
REFUSALS: Final[dict[CardState, type[Conflict]]] = {
    CardState.REVOKED: CardRevokedForPass,
    CardState.EXPIRED: CardExpiredForPass,
    CardState.SUSPENDED: CardSuspendedForPass,
}


class Registration(msgspec.Struct):
    push_token: Annotated[str, msgspec.Meta(min_length=1, max_length=256)] = msgspec.field(
        name="pushToken"
    )


class DeviceLogs(msgspec.Struct):
    logs: Annotated[
        list[Annotated[str, msgspec.Meta(max_length=4096)]], msgspec.Meta(max_length=100)
    ]


def wallet_of(svc: Services) -> AppleWallet:
    wallet = svc.apple_wallet
    if wallet is None:
        raise AppleWalletOff
    return wallet


def _auth_key(request: AnyRequest) -> bytes:
    return derive_key(secrets(request), AUTH_KEY_LABEL)


async def _pkpass(
    request: AnyRequest, svc: Services, card: Card, apple_pass: ApplePass, lang: str
) -> BuiltPass:
    """The signed pass of ``card`` as it stands now; ``lang`` names the library. Signed and
    zipped in a thread (architecture principle 8), off the event loop."""
    settings = svc.settings
    wallet = wallet_of(svc)
    content = apple_card(
        card,
        apple_pass,
        wallet=wallet,
        auth_key=_auth_key(request),
        organization=settings.profile.library.name.get(lang),
        strings=pass_strings(settings.profile),
        symbology=settings.profile.barcode.symbology,
        policy=svc.policy,
        issuer=CardIssuer(
            keyring=svc.keyring, issuer=settings.issuer, audience=settings.token_audience
        ),
    )
    return await asyncio.to_thread(
        build_pkpass, content, signer=wallet.signer, images=wallet.images
    )


@get(APPLE_PASS_PATH, name="apple_wallet_pass")
async def patron_pass(request: AnyRequest) -> Response[bytes] | Redirect | Template:
    """The logged-in patron's current card as a new Apple Wallet pass: for an active card
    only, the card the card page and My Library offer the button for
    (``patrons.wallet_links``).

    Any other card gets a page (409, in the page's language) that says why and where to go,
    and no pass: an expired card is renewed first (My Library, or the counter), then added;
    a revoked card has nothing to add (My Library shows the account's cards; else the
    library). A suspended card is refused as well, rather than given a pass that shows the
    suspension: a new pass would put in the wallet a card that the counter and the
    self-check machines refuse, with no word of why (the pass shows the status, not the
    reason), while the page says what to do. Passes already in a wallet are another matter:
    the web service (:func:`latest_pass`) keeps updating them to show the suspension, the
    expiry or the void, which is what updates are for, so that a patron who added a valid
    card sees its state change on the phone."""
    svc = services(request)
    wallet_of(svc)  # not offered: 404 before anything else
    async with svc.db.transaction() as session:
        patron = await current_patron(request, session)
        if patron is None:
            return to_login(request)
        card = await current_card(session, patron.id)
        if card is None:
            raise NoCardForPass
        state = card_state(card, local_today(svc.policy.timezone))
        if state is not CardState.ACTIVE:
            return with_device_cookie(request, _refusal_page(request, card, state))
        apple_pass = await pass_of_card(session, card)
    built = await _pkpass(request, svc, card, apple_pass, patron.language)
    response = Response(
        built.body,
        media_type=built.content_type,
        headers={
            "Content-Disposition": 'attachment; filename="library-card.pkpass"',
            "Cache-Control": "no-store",
        },
    )
    return with_device_cookie(request, response)


def _refusal_page(request: AnyRequest, card: Card, state: CardState) -> Template:
    """Why ``card`` (not active) gets no pass, and what to do: ``pages/card/wallet_refused.html``
    with the refusal's status and stable code."""
    refusal = REFUSALS[state]()
    page = render(
        request,
        "pages/card/wallet_refused.html",
        status_code=STATUS_OF_KIND[refusal.kind],
        message=translate(request, refusal.message),
        code=refusal.code,
        state=state.value,
        reason=card.status_reason or "",
        expires_on=card.expires_on,
    )
    page.headers["Cache-Control"] = "no-store"
    return page


async def _authorized(request: AnyRequest, pass_type: str, serial: str) -> tuple[ApplePass, Card]:
    svc = services(request)
    wallet = wallet_of(svc)
    async with svc.db.transaction() as session:
        return await authorized_pass(
            session,
            key=_auth_key(request),
            pass_type_id=wallet.pass_type_id,
            wanted_type=pass_type,
            serial=serial,
            authorization=request.headers.get("authorization"),
        )


@post(DEVICE + "/{serial:str}", status_code=HTTP_201_CREATED, include_in_schema=False)
async def register(
    request: AnyRequest,
    device_id: FromPath[str],
    pass_type: FromPath[str],
    serial: FromPath[str],
    data: JSONBody[Registration],
) -> Response[None]:
    apple_pass, _ = await _authorized(request, pass_type, serial)
    async with services(request).db.transaction() as session:
        created = await register_device(session, apple_pass, device_id, data.push_token)
    return Response(None, status_code=HTTP_201_CREATED if created else HTTP_200_OK)


@delete(DEVICE + "/{serial:str}", status_code=HTTP_200_OK, include_in_schema=False)
async def unregister(
    request: AnyRequest, device_id: FromPath[str], pass_type: FromPath[str], serial: FromPath[str]
) -> None:
    apple_pass, _ = await _authorized(request, pass_type, serial)
    async with services(request).db.transaction() as session:
        await unregister_device(session, apple_pass, device_id)


@get(DEVICE, include_in_schema=False, cache=False)
async def serials(
    request: AnyRequest,
    device_id: FromPath[str],
    pass_type: FromPath[str],
    since: Annotated[str | None, QueryParameter(name="passesUpdatedSince", max_length=64)] = None,
) -> Response[Any]:
    svc = services(request)
    wallet = wallet_of(svc)
    found = None
    if pass_type == wallet.pass_type_id:
        async with svc.db.transaction() as session:
            found = await updated_serials(session, device_id, since=since)
    if found is None:
        return Response(None, status_code=HTTP_204_NO_CONTENT)
    return Response({"serialNumbers": found[0], "lastUpdated": found[1]})


@get(WEB_SERVICE_PATH + "/v1/passes/{pass_type:str}/{serial:str}", include_in_schema=False)
async def latest_pass(
    request: AnyRequest, pass_type: FromPath[str], serial: FromPath[str]
) -> Response[bytes]:
    apple_pass, card = await _authorized(request, pass_type, serial)
    modified = whole_second(apple_pass.updated_at)
    headers = {"Last-Modified": format_datetime(modified, usegmt=True), "Cache-Control": "no-cache"}
    since = _http_date(request.headers.get("if-modified-since"))
    if since is not None and modified <= since:
        return Response(b"", status_code=HTTP_304_NOT_MODIFIED, headers=headers)
    svc = services(request)
    async with svc.db.transaction() as session:
        language = await session.scalar(select(Patron.language).where(Patron.id == card.patron_id))
    built = await _pkpass(request, svc, card, apple_pass, language or "ja")
    return Response(built.body, media_type=built.content_type, headers=headers)


def _http_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@post(WEB_SERVICE_PATH + "/v1/log", status_code=HTTP_200_OK, include_in_schema=False)
async def device_log(request: AnyRequest, data: JSONBody[DeviceLogs]) -> None:
    """Wallet reports problems with the web service here; they go to the service's log,
    shortened, without control characters. Anyone may post, so each client address is
    limited (:class:`RateLimited` past :data:`LOG_REQUESTS_PER_HOUR`): the log cannot be
    flooded."""
    async with services(request).db.transaction() as session:
        allowed = await hit(
            session,
            "passkit-log",
            client_address(request),
            limit=LOG_REQUESTS_PER_HOUR,
            window=HOUR,
            secret=rate_limit_key(secrets(request)),
        )
    if not allowed:
        raise RateLimited
    for message in data.logs[:LOG_MESSAGES_MAX]:
        text = "".join(ch if ch.isprintable() else " " for ch in message[:LOG_MESSAGE_CHARS])
        log.warning("Apple Wallet device log: %s", text)


PAGE_ROUTES: list[Any] = [patron_pass]
ROUTES: list[Any] = [register, unregister, serials, latest_pass, device_log]
