"""JWKS, barcode images with ETags, health, readiness and the OpenAPI document."""

from __future__ import annotations

import io
from typing import Any

import zxingcpp
from litestar.testing import AsyncTestClient
from PIL import Image

from cardservice.cards.tokens import CardTokenVerifier
from cardservice.services import Services
from tests.factories import make_card

Client = AsyncTestClient[Any]


async def test_jwks_publishes_the_signing_key(client: Client, services: Services) -> None:
    response = await client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/jwk-set+json")
    keys = response.json()["keys"]
    assert [key["kid"] for key in keys] == [key.kid for key in services.keyring.keys]
    assert all(key["kty"] == "OKP" and key["crv"] == "Ed25519" for key in keys)
    assert all("d" not in key for key in keys)  # never the private part


async def test_card_token_verifies_with_the_published_jwks_alone(
    client: Client, services: Services
) -> None:
    """An offline verifier holding only the JWKS accepts the card's token."""
    import jwt  # noqa: PLC0415

    from cardservice.cards.service import card_token  # noqa: PLC0415

    card = await make_card(services)
    token = card_token(
        card,
        services.keyring,
        services.policy,
        issuer=services.settings.issuer,
        audience=services.settings.token_audience,
    )
    jwks = jwt.PyJWKSet.from_dict((await client.get("/.well-known/jwks.json")).json())
    kid = jwt.get_unverified_header(token)["kid"]
    claims = jwt.decode(
        token,
        jwks[kid].key,
        algorithms=["EdDSA"],
        audience=services.settings.token_audience,
        issuer=services.settings.issuer,
    )
    assert claims["sub"] == card.user_number
    assert isinstance(services.tokens, CardTokenVerifier)


async def test_barcode_image_decodes_and_honours_etag(client: Client) -> None:
    url = "/api/v1/barcodes/codabar/png?data=A2000000014A&module=3"
    first = await client.get(url)
    assert first.status_code == 200
    assert first.headers["content-type"] == "image/png"
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(first.content)))
    assert [r.text for r in decoded] in (["A2000000014A"], ["2000000014"])
    etag = first.headers["etag"]
    again = await client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    other = await client.get(url, headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200


async def test_barcode_bad_input_has_stable_code(client: Client) -> None:
    response = await client.get("/api/v1/barcodes/codabar/png?data=XYZ")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "barcode_unencodable"
    response = await client.get("/api/v1/barcodes/ean13/png?data=123")
    assert response.json()["error"]["code"] == "barcode_bad_symbology"


async def test_health_ready_and_openapi(client: Client) -> None:
    assert (await client.get("/health")).json() == {"status": "ok"}
    ready = await client.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "signing_key": "ok"}
    schema = (await client.get("/api/docs/openapi.json")).json()
    assert "/api/v1/verify" in schema["paths"]
    assert (await client.get("/api/docs/swagger")).status_code == 200


async def test_unknown_path_is_a_json_error(client: Client) -> None:
    response = await client.get("/no/such/page")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
