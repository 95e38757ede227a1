"""HTTP routes of the card domain: counter verification, the public key set, barcode images."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, get, post
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_304_NOT_MODIFIED

from cardservice.cards.barcodes import Rendered
from cardservice.cards.verification import Verdict
from cardservice.errors import InvalidInput
from cardservice.web.state import services


class VerifyRequest(msgspec.Struct, forbid_unknown_fields=True):
    """A scanned barcode or a card token from the QR code: exactly one of the two."""

    barcode: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None
    token: Annotated[str, msgspec.Meta(min_length=1, max_length=4096)] | None = None


class VerifyRequestShape(InvalidInput):
    """Send exactly one of "barcode" and "token"."""

    code = "verify_needs_one_of_barcode_or_token"


def _api_key_of(request: Request[Any, Any, Any]) -> str | None:
    key = request.headers.get("x-api-key")
    if key:
        return key
    authorization = request.headers.get("authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else None


@post(
    "/api/v1/verify",
    status_code=HTTP_200_OK,
    tags=["counter"],
    summary="Verify a scanned card",
    description=(
        "Takes a scanned user-number barcode or a card token. Answers status valid, expired, "
        "revoked, suspended, unknown or invalid, with a stable reason code. Needs an API key "
        "in X-API-Key or Authorization: Bearer."
    ),
)
async def verify(request: Request[Any, Any, Any], data: JSONBody[VerifyRequest]) -> Verdict:
    svc = services(request)
    await svc.api_keys.check(_api_key_of(request))
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
