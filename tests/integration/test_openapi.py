"""The published OpenAPI document says what the service answers: its API key, its error
bodies, its 401, 405 and 422, the content types of the key set and the barcode images, the
barcode route's symbologies and formats, and the verify body's "exactly one of" rule."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import jsonschema_rs
import pytest

from cardservice.cards.barcodes import ImageFormat, Symbology
from cardservice.services import Services
from tests.web_support import Client, web_client, with_free_catcher_port

ERROR_REF = "#/components/schemas/ErrorBody"
ERROR_CONTENT = {"application/json": {"schema": {"$ref": ERROR_REF}}}
VERIFY = "/api/v1/verify"
BARCODES = "/api/v1/barcodes/{symbology}/{fmt}"


@pytest.fixture
async def client(services: Services) -> AsyncIterator[Client]:
    async with web_client(with_free_catcher_port(services.settings), mail=False) as running:
        yield running


@pytest.fixture
async def document(client: Client) -> dict[str, Any]:
    response = await client.get("/api/docs/openapi.json")
    assert response.status_code == 200
    found: dict[str, Any] = response.json()
    return found


def content_of(response_spec: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = response_spec["content"]
    return found


async def test_only_the_api_is_published(document: dict[str, Any]) -> None:
    assert set(document["paths"]) == {
        VERIFY,
        "/.well-known/jwks.json",
        BARCODES,
        "/api/v1/offline/feed",
        "/health",
        "/ready",
    }


async def test_the_api_key_is_a_security_scheme_verify_requires(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    assert schemes["apiKey"] == {
        "type": "apiKey",
        "name": "X-API-Key",
        "in": "header",
        "description": "A counter API key (cardservice apikey create).",
    }
    assert schemes["bearerApiKey"]["type"] == "http"
    assert schemes["bearerApiKey"]["scheme"] == "bearer"
    verify = document["paths"][VERIFY]["post"]
    assert verify["security"] == [{"apiKey": []}, {"bearerApiKey": []}]
    feed = document["paths"]["/api/v1/offline/feed"]["get"]
    assert feed["security"] == [{"apiKey": []}, {"bearerApiKey": []}]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if (path, method) not in {(VERIFY, "post"), ("/api/v1/offline/feed", "get")}:
                assert "security" not in operation, (path, method)


async def test_verify_documents_its_refusals_with_the_error_body(
    document: dict[str, Any],
) -> None:
    responses = document["paths"][VERIFY]["post"]["responses"]
    assert set(responses) == {"200", "400", "401", "405", "413", "422", "500", "503"}
    assert content_of(responses["200"])["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Verdict"
    }
    assert "Cache-Control" in responses["200"]["headers"]
    for status in ("400", "401", "405", "413", "422", "500", "503"):
        assert content_of(responses[status]) == ERROR_CONTENT
    assert "api_key_invalid" in responses["401"]["description"]
    assert "verify_needs_one_of_barcode_or_token" in responses["422"]["description"]


async def test_every_error_answer_of_every_operation_is_the_error_body(
    document: dict[str, Any],
) -> None:
    for path in (VERIFY, "/.well-known/jwks.json", BARCODES, "/api/v1/offline/feed"):
        for operation in document["paths"][path].values():
            errors = {s: r for s, r in operation["responses"].items() if int(s) >= 400}
            assert {"400", "405", "500", "503"} <= set(errors), path
            for spec in errors.values():
                assert content_of(spec) == ERROR_CONTENT
    schemas = document["components"]["schemas"]
    assert schemas["ErrorBody"]["required"] == ["error"]
    detail = schemas["ErrorDetail"]
    assert detail["required"] == ["code", "message"]
    assert set(detail["properties"]) == {"code", "message", "request_id", "fields", "field"}


async def test_the_key_set_and_the_images_have_their_content_types(
    client: Client, document: dict[str, Any]
) -> None:
    jwks = document["paths"]["/.well-known/jwks.json"]["get"]["responses"]["200"]
    assert set(content_of(jwks)) == {"application/jwk-set+json"}
    assert content_of(jwks)["application/jwk-set+json"]["schema"] == {
        "$ref": "#/components/schemas/JwkSet"
    }
    served = await client.get("/.well-known/jwks.json")
    assert served.headers["content-type"] == "application/jwk-set+json"
    assert [key["kty"] for key in served.json()["keys"]] == ["OKP"]

    image = document["paths"][BARCODES]["get"]["responses"]
    assert set(content_of(image["200"])) == {"image/*"}
    assert "content" not in image["304"]
    for fmt, media_type in (("svg", "image/svg+xml"), ("png", "image/png")):
        drawn = await client.get(f"/api/v1/barcodes/codabar/{fmt}", params={"data": "A20A"})
        assert drawn.status_code == 200
        assert drawn.headers["content-type"].split(";")[0] == media_type


async def test_readiness_documents_not_ready(document: dict[str, Any]) -> None:
    assert set(document["paths"]["/ready"]["get"]["responses"]) == {"200", "503"}


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"barcode": "A1A"}, 401, "api_key_invalid"),
        ({"barcode": "A1A", "token": "x"}, 422, "verify_needs_one_of_barcode_or_token"),
        ({"barcode": 1}, 400, "bad_request"),
    ],
)
async def test_the_answers_are_the_documented_error_body(
    client: Client, api_key: str, body: dict[str, Any], status: int, code: str
) -> None:
    headers = {} if status == 401 else {"X-API-Key": api_key}
    response = await client.post(VERIFY, json=body, headers=headers)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str)
    assert set(error) <= {"code", "message", "request_id", "fields", "field"}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", VERIFY),
        ("GET", VERIFY),
        ("DELETE", "/.well-known/jwks.json"),
        ("POST", "/api/v1/barcodes/qr/svg?data=x"),
    ],
)
async def test_another_method_is_the_documented_405(client: Client, method: str, path: str) -> None:
    response = await client.request(method, path)
    assert response.status_code == 405
    assert response.headers["allow"]
    error = response.json()["error"]
    assert error["code"] == "method_not_allowed"
    assert "Allow header" in error["message"]


def parameter(document: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(
        p for p in document["paths"][BARCODES]["get"]["parameters"] if p["name"] == name
    )
    return found


async def test_the_barcode_path_lists_its_symbologies_and_formats(
    client: Client, document: dict[str, Any]
) -> None:
    assert parameter(document, "symbology")["schema"]["enum"] == [s.value for s in Symbology]
    assert parameter(document, "fmt")["schema"]["enum"] == [f.value for f in ImageFormat]
    for symbology in Symbology:
        for fmt in ImageFormat:
            drawn = await client.get(f"/api/v1/barcodes/{symbology}/{fmt}", params={"data": "A12A"})
            assert drawn.status_code == 200, (symbology, fmt)
    # Outside the lists: the renderer's stable codes, as documented.
    image = document["paths"][BARCODES]["get"]["responses"]
    for path, code in (("ean13/png", "barcode_bad_symbology"), ("qr/gif", "barcode_bad_format")):
        refused = await client.get(f"/api/v1/barcodes/{path}", params={"data": "A12A"})
        assert refused.status_code == 422
        assert refused.json()["error"]["code"] == code
        assert code in image["422"]["description"]
    assert "404" not in image  # a listed symbology and format always name an image


VERIFY_BODIES: list[tuple[Any, int]] = [
    ({"barcode": "A2000000014A"}, 200),
    ({"token": "not-a-token"}, 200),
    ({"barcode": "A2000000014A", "token": None}, 200),
    ({"barcode": None, "token": "x"}, 200),
    ({"barcode": "A2000000014A", "token": "x"}, 422),
    ({}, 422),
    ({"barcode": None}, 422),
    ({"barcode": None, "token": None}, 422),
    ({"barcode": ""}, 400),
    ({"barcode": "A" * 65}, 400),
    ({"token": "x" * 4097}, 400),
    ({"barcode": "A1\u007fA"}, 400),
    ({"barcode": "A1\u0085A"}, 400),
    ({"token": "x\u0000"}, 400),
    ({"barcode": "A1A", "extra": 1}, 400),
    ({"barcode": 1}, 400),
    ([], 400),
]


@pytest.mark.parametrize(("body", "status"), VERIFY_BODIES)
async def test_the_verify_body_schema_accepts_what_the_service_accepts(
    client: Client, api_key: str, document: dict[str, Any], body: Any, status: int
) -> None:
    schema = document["components"]["schemas"]["VerifyRequest"]
    assert len(schema["oneOf"]) == 2
    assert schema["additionalProperties"] is False
    valid = jsonschema_rs.Draft202012Validator(schema).is_valid(body)
    response = await client.post(VERIFY, json=body, headers={"X-API-Key": api_key})
    assert response.status_code == status, response.text
    assert valid is (status == 200)
