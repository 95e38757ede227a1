"""HTTP routes of the card domain: counter verification, the public key set, barcode images."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Final

import msgspec
from litestar import Request, Response, get, post
from litestar.connection import ASGIConnection
from litestar.datastructures import ResponseHeader
from litestar.enums import RequestEncodingType
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import OpenAPIType, Schema
from litestar.params import Body, PathParameter, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_304_NOT_MODIFIED

from cardservice.cards.barcodes import ImageFormat, Rendered, Symbology
from cardservice.cards.verification import Verdict
from cardservice.errors import InvalidInput
from cardservice.web.limits import NO_CONTROL_PATTERN
from cardservice.web.openapi import API_KEY_SECURITY, api_responses, error_response
from cardservice.web.security import NO_COOKIES
from cardservice.web.state import services

BARCODE_MAX_LENGTH: Final = 64
TOKEN_MAX_LENGTH: Final = 4096
# The longest body the schema allows: a token and a barcode of astral characters, each sent
# as two \uXXXX escapes (12 bytes a character), and room for the rest. Anything larger is
# not a verify request.
VERIFY_MAX_BODY: Final = 64 * 1024


class VerifyRequest(msgspec.Struct, forbid_unknown_fields=True):
    """A scanned barcode or a card token from the QR code: exactly one of the two."""

    barcode: Annotated[str, msgspec.Meta(min_length=1, max_length=BARCODE_MAX_LENGTH)] | None = None
    token: Annotated[str, msgspec.Meta(min_length=1, max_length=TOKEN_MAX_LENGTH)] | None = None


def _text_or_null(max_length: int) -> Schema:
    text = Schema(
        type=OpenAPIType.STRING, min_length=1, max_length=max_length, pattern=NO_CONTROL_PATTERN
    )
    return Schema(one_of=[text, Schema(type=OpenAPIType.NULL)])


def _given(name: str) -> Schema:
    return Schema(required=[name], properties={name: Schema(type=OpenAPIType.STRING)})


# The published body says all that the service checks: no other member, each string 1 to
# max characters with no control character (``web/limits.py``), and exactly one of the two
# a string (the other absent or null), which the handler enforces (422).
VERIFY_BODY: Final = Body(
    media_type=RequestEncodingType.JSON,
    schema_extra={
        "properties": {
            "barcode": _text_or_null(BARCODE_MAX_LENGTH),
            "token": _text_or_null(TOKEN_MAX_LENGTH),
        },
        "additional_properties": False,
        "one_of": [_given("barcode"), _given("token")],
    },
)


class JwkSet(msgspec.Struct):
    """RFC 7517 section 5: Ed25519 public keys (kty OKP, crv Ed25519, x, kid, alg EdDSA)."""

    keys: list[dict[str, str]]


class VerifyRequestShape(InvalidInput):
    """Send exactly one of "barcode" and "token"."""

    code = "verify_needs_one_of_barcode_or_token"


def _api_key_of(request: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """The key in X-API-Key, else the credentials of ``Authorization: Bearer``; the first of
    each header. Read from the ASGI scope's raw headers (names are lower case there, ASGI
    3.0), which every verify request asks and which costs less than building its Headers."""
    key = authorization = None
    for name, value in request.scope["headers"]:
        if name == b"x-api-key":
            key = key or value
        elif name == b"authorization":
            authorization = authorization or value
    if key:
        return key.decode("latin-1")
    scheme, _, credentials = (authorization or b"").decode("latin-1").partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else None


async def api_key_required(request: Request[Any, Any, Any]) -> None:
    """Before the handler: 401 ``api_key_invalid`` unless the request carries an active API
    key. It runs before the body is read, so a caller without a key learns nothing about the
    body. A ``before_request`` hook, not a guard: Litestar copies the route handler for
    every guard call, which costs the counter's hot path more than checking the key."""
    await services(request).api_keys.check(_api_key_of(request))


@post(
    "/api/v1/verify",
    status_code=HTTP_200_OK,
    tags=["counter"],
    summary="Verify a scanned card",
    description=(
        "Takes a scanned user-number barcode or a card token. Answers status valid, expired, "
        "revoked, suspended, unknown or invalid, with a stable reason code. Needs an API key "
        "in X-API-Key or Authorization: Bearer. No answer may be stored by a cache."
    ),
    before_request=api_key_required,
    security=API_KEY_SECURITY,
    request_max_body_size=VERIFY_MAX_BODY,
    # Documented here, sent by web.security's before_send hook with every answer of this path
    # (errors too): setting it here as well would only add it twice over on the hot path.
    response_headers=[
        ResponseHeader(
            name="Cache-Control",
            value="no-store",
            documentation_only=True,
            description="no-store: no answer may be stored by a cache.",
        )
    ],
    responses=api_responses(
        {
            401: error_response("No API key, or not an active one (api_key_invalid)."),
            413: error_response(f"The body is larger than {VERIFY_MAX_BODY} bytes (too_large)."),
            422: error_response(
                "Not exactly one of barcode and token is a string "
                "(verify_needs_one_of_barcode_or_token)."
            ),
        }
    ),
)
async def verify(
    request: Request[Any, Any, Any], data: Annotated[VerifyRequest, VERIFY_BODY]
) -> Verdict:
    svc = services(request)
    if (data.barcode is None) == (data.token is None):
        raise VerifyRequestShape
    if data.barcode is not None:
        return await svc.verifier.by_barcode(data.barcode)
    return await svc.verifier.by_token(data.token or "")


@get(
    "/.well-known/jwks.json",
    tags=["counter"],
    summary="The public keys that verify card tokens",
    cache=False,
    opt=NO_COOKIES,
    media_type="application/jwk-set+json",
    responses=api_responses(
        {
            200: ResponseSpec(
                data_container=JwkSet,
                description="A JSON Web Key Set (RFC 7517): the keys in use and in overlap.",
                media_type="application/jwk-set+json",
                generate_examples=False,
            )
        }
    ),
)
async def jwks(request: Request[Any, Any, Any]) -> Response[bytes]:
    body = services(request).keyring.jwks_bytes(datetime.now(UTC))
    return Response(
        body,
        media_type="application/jwk-set+json",
        headers={"Cache-Control": "public, max-age=300"},
    )


@get(
    "/api/v1/barcodes/{symbology:str}/{fmt:str}",
    tags=["cards"],
    summary="A barcode image (Codabar, Code 128 or QR) as SVG or PNG",
    responses=api_responses(
        {
            200: ResponseSpec(
                data_container=bytes,
                description="The image: image/svg+xml for svg, image/png for png.",
                media_type="image/*",
                generate_examples=False,
            ),
            304: ResponseSpec(
                data_container=None,
                description="The client's copy is current (If-None-Match: one of its ETags, "
                "compared weakly, or *).",
            ),
            422: error_response(
                "A symbology or format not listed (barcode_bad_symbology, barcode_bad_format), "
                "a module size the symbology does not offer (barcode_bad_size), or data it "
                "cannot draw (barcode_unencodable)."
            ),
        }
    ),
)
async def barcode_image(
    request: Request[Any, Any, Any],
    *,
    # Checked by the renderer, whose refusals (422, barcode_bad_*) are stable codes; the
    # schema lists the values.
    symbology: Annotated[str, PathParameter(schema_extra={"enum": [*Symbology]})],
    fmt: Annotated[str, PathParameter(schema_extra={"enum": [*ImageFormat]})],
    content: Annotated[
        str,
        QueryParameter(name="data", min_length=1, max_length=1024, pattern=NO_CONTROL_PATTERN),
    ],
    module: Annotated[int, QueryParameter(ge=1, le=16)] = 3,
    text: Annotated[bool, QueryParameter()] = True,
) -> Response[bytes]:
    rendered = await services(request).barcodes.render_async(
        symbology, content, fmt, module_px=module, human_readable=text
    )
    return conditional(request, rendered)


def conditional(request: Request[Any, Any, Any], rendered: Rendered) -> Response[bytes]:
    """The image, or 304 when the client already holds it (:func:`none_match_fails`)."""
    headers = {"ETag": rendered.etag, "Cache-Control": "public, max-age=86400"}
    if none_match_fails(request.headers.getall("if-none-match", []), rendered.etag):
        return Response(b"", status_code=HTTP_304_NOT_MODIFIED, headers=headers)
    return Response(rendered.body, media_type=rendered.media_type, headers=headers)


# An entity-tag (RFC 9110 section 8.8.3): an optional W/ and a quoted opaque tag, which may
# hold a comma, so the tags of a list are found by their quotes, not by splitting at commas.
_OPAQUE_TAG = re.compile(r'"[^"]*"')


def none_match_fails(header_values: list[str], etag: str) -> bool:
    """Whether ``If-None-Match`` (the values of every such header line) matches ``etag``, so
    that a GET answers 304 (RFC 9110 section 13.1.2): ``*`` matches any current
    representation, and a list of entity-tags matches when one of them equals ``etag`` by
    weak comparison (section 8.8.3.2: ``W/`` ignored on both sides)."""
    opaque = etag.removeprefix("W/")
    return any(
        value.strip() == "*" or opaque in _OPAQUE_TAG.findall(value) for value in header_values
    )


ROUTES = [verify, jwks, barcode_image]
