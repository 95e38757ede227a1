"""HTTP routes of the card domain: counter verification, the public key set, barcode images."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Final

import msgspec
from litestar import Request, Response, get, post
from litestar.connection import ASGIConnection
from litestar.datastructures import ResponseHeader
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_304_NOT_MODIFIED

from cardservice.cards.barcodes import Rendered
from cardservice.cards.verification import Verdict
from cardservice.errors import InvalidInput
from cardservice.web.openapi import API_KEY_SECURITY, api_responses, error_response
from cardservice.web.state import services

# A token is at most 4 KiB; anything much larger is not a verify request.
VERIFY_MAX_BODY: Final = 16 * 1024


class VerifyRequest(msgspec.Struct, forbid_unknown_fields=True):
    """A scanned barcode or a card token from the QR code: exactly one of the two."""

    barcode: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None
    token: Annotated[str, msgspec.Meta(min_length=1, max_length=4096)] | None = None


class JwkSet(msgspec.Struct):
    """RFC 7517 section 5: Ed25519 public keys (kty OKP, crv Ed25519, x, kid, alg EdDSA)."""

    keys: list[dict[str, str]]


class VerifyRequestShape(InvalidInput):
    """Send exactly one of "barcode" and "token"."""

    code = "verify_needs_one_of_barcode_or_token"


def _api_key_of(request: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    key = request.headers.get("x-api-key")
    if key:
        return key
    authorization = request.headers.get("authorization", "")
    scheme, _, credentials = authorization.partition(" ")
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
    response_headers=[ResponseHeader(name="Cache-Control", value="no-store")],
    responses=api_responses(
        {
            401: error_response("No API key, or not an active one (api_key_invalid)."),
            413: error_response(f"The body is larger than {VERIFY_MAX_BODY} bytes (too_large)."),
            422: error_response(
                "The body is JSON of the right shape but not exactly one of barcode and token "
                "(verify_needs_one_of_barcode_or_token)."
            ),
        }
    ),
)
async def verify(request: Request[Any, Any, Any], data: JSONBody[VerifyRequest]) -> Verdict:
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
            304: ResponseSpec(data_container=None, description="The client's copy is current."),
            404: error_response("No such symbology or format (not_found)."),
            422: error_response("The data cannot be drawn in that symbology (invalid_input)."),
        }
    ),
)
async def barcode_image(
    request: Request[Any, Any, Any],
    *,
    symbology: FromPath[str],
    fmt: FromPath[str],
    content: Annotated[str, QueryParameter(name="data", min_length=1, max_length=1024)],
    module: Annotated[int, QueryParameter(ge=1, le=16)] = 3,
    text: Annotated[bool, QueryParameter()] = True,
) -> Response[bytes]:
    rendered = await services(request).barcodes.render_async(
        symbology, content, fmt, module_px=module, human_readable=text
    )
    return conditional(request, rendered)


def conditional(request: Request[Any, Any, Any], rendered: Rendered) -> Response[bytes]:
    """The image, or 304 when the client already holds this exact one."""
    headers = {"ETag": rendered.etag, "Cache-Control": "public, max-age=86400"}
    if rendered.etag in _etags(request.headers.get("if-none-match", "")):
        return Response(b"", status_code=HTTP_304_NOT_MODIFIED, headers=headers)
    return Response(rendered.body, media_type=rendered.media_type, headers=headers)


def _etags(header: str) -> set[str]:
    return {part.strip().removeprefix("W/") for part in header.split(",") if part.strip()}


ROUTES = [verify, jwks, barcode_image]
