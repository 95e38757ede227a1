"""HTTP routes for offline scanners and the rotating card code: the signed revocation feed,
and the phone's device-key registration (``cards.feed``, ``cards.device_proof``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Final

import msgspec
from litestar import Request, Response, get, post
from litestar.datastructures import ResponseHeader
from litestar.openapi import ResponseSpec
from litestar.params import JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK

from cardservice.calendar import end_of_day
from cardservice.cards.device_proof import STEP_SECONDS, device_public_jwk
from cardservice.cards.feed import (
    CURSOR_PATTERN,
    FeedContext,
    feed_payload,
    parse_cursor,
    sign_bundle,
)
from cardservice.cards.models import CardStatus
from cardservice.cards.routes import api_key_required
from cardservice.cards.tokens import sign_card_token
from cardservice.errors import Conflict, DomainError, Kind, RateLimited
from cardservice.patrons.card_view import current_card
from cardservice.patrons.routes.common import current_patron
from cardservice.security.ratelimit import hit
from cardservice.web.openapi import API_KEY_SECURITY, api_responses, error_response
from cardservice.web.state import services

BUNDLE_MEDIA_TYPE: Final = "application/jose"
# A phone registers its key once; a few more allow for a new phone or cleared storage.
DEVICE_KEY_LIMIT: Final = 10
DEVICE_KEY_WINDOW: Final = timedelta(hours=1)


class PatronLoginRequired(DomainError):
    """Log in as a patron first."""

    code = "patron_login_required"
    kind = Kind.UNAUTHENTICATED


class NoActiveCard(Conflict):
    """Only an active card can be bound to a device key."""

    code = "card_not_active"


@get(
    "/api/v1/offline/feed",
    tags=["counter"],
    summary="The signed offline bundle: key set and revocation feed, full or by delta",
    description=(
        "A compact JWS (EdDSA, typ revocation-feed+jws) signed with the card-signing key: "
        "the JWKS, the number format, and the revoked or suspended numbers and revoked "
        "token ids. Without since: the current state. With since=<cursor of the last "
        "bundle>: only what changed after it, including lifted suspensions (state active). "
        "See the README, Offline verification."
    ),
    before_request=api_key_required,
    security=API_KEY_SECURITY,
    response_headers=[ResponseHeader(name="Cache-Control", value="no-store")],
    responses=api_responses(
        {
            200: ResponseSpec(
                data_container=str,
                description="The bundle, a compact JWS.",
                media_type=BUNDLE_MEDIA_TYPE,
                generate_examples=False,
            ),
            401: error_response("No API key, or not an active one (api_key_invalid)."),
            409: error_response("since is ahead of this feed (feed_cursor_ahead): sync in full."),
            422: error_response("since is not a cursor (feed_cursor_invalid)."),
        }
    ),
)
async def offline_feed(
    request: Request[Any, Any, Any],
    # Published with its pattern but not checked here: a value that is not a cursor is
    # parse_cursor's 422 feed_cursor_invalid, not a 400; the server's line length bounds it.
    since: Annotated[
        str | None, QueryParameter(schema_extra={"pattern": f"^({CURSOR_PATTERN})$"})
    ] = None,
) -> Response[bytes]:
    svc = services(request)
    cursor = parse_cursor(since)
    now = datetime.now(UTC)
    context = FeedContext(
        issuer=svc.settings.issuer,
        audience=svc.settings.token_audience,
        policy=svc.policy,
        device_proof_required=svc.policy.require_device_proof,
    )
    # A read: no write lock on SQLite, so scanners syncing never hold up the counter.
    async with svc.db.read() as session:
        payload = await feed_payload(session, context, svc.keyring, since=cursor, now=now)
    body = sign_bundle(payload, svc.keyring, now)
    return Response(body, media_type=BUNDLE_MEDIA_TYPE)


class DeviceKeyRequest(msgspec.Struct, forbid_unknown_fields=True):
    """The phone's public key as WebCrypto exports it (JWK, EC P-256)."""

    jwk: dict[str, Annotated[str, msgspec.Meta(max_length=128)] | bool | list[str]]


class DeviceKeyAnswer(msgspec.Struct):
    token: str
    step_seconds: int
    jti: str


@post(
    "/card/device-key",
    status_code=HTTP_200_OK,
    # A page's helper (session and CSRF token), not part of the published API.
    include_in_schema=False,
    tags=["cards"],
    summary="Bind the patron's card token to this phone's key (the rotating code)",
    description=(
        "Logged-in patrons only (the card page's session and CSRF token). Takes the public "
        "JWK (EC P-256) of a key made on the phone with WebCrypto and answers a card token "
        "whose cnf "
        "claim (RFC 7800) holds it. Limited to 10 a patron an hour."
    ),
    request_max_body_size=4096,
    response_headers=[ResponseHeader(name="Cache-Control", value="no-store")],
    responses=api_responses(
        {
            401: error_response("Not logged in as a patron (patron_login_required)."),
            403: error_response("No CSRF token from the card page (forbidden)."),
            409: error_response("The card is not active (card_not_active)."),
            422: error_response("Not an EC P-256 public key (device_key_invalid)."),
            429: error_response("Too many keys registered lately (rate_limited)."),
        }
    ),
)
async def register_device_key(
    request: Request[Any, Any, Any], data: JSONBody[DeviceKeyRequest]
) -> DeviceKeyAnswer:
    svc = services(request)
    now = datetime.now(UTC)
    async with svc.db.transaction() as session:
        patron = await current_patron(request, session)
        if patron is None:  # before the key is looked at: 401 whatever was sent
            raise PatronLoginRequired
        public_jwk = device_public_jwk(data.jwk)
        card = await current_card(session, patron.id)
        if card is None or card.status != CardStatus.ACTIVE:
            raise NoActiveCard
        allowed = await hit(
            session,
            "device-key",
            str(patron.id),
            limit=DEVICE_KEY_LIMIT,
            window=DEVICE_KEY_WINDOW,
            now=now,
        )
    if not allowed:
        raise RateLimited
    token = sign_card_token(
        svc.keyring,
        user_number=card.user_number,
        expires_at=end_of_day(card.expires_on, svc.policy.timezone),
        jti=card.token_jti,
        issuer=svc.settings.issuer,
        audience=svc.settings.token_audience,
        now=now,
        device_jwk=public_jwk,
    )
    return DeviceKeyAnswer(token=token, step_seconds=STEP_SECONDS, jti=card.token_jti)


ROUTES = [offline_feed, register_device_key]
