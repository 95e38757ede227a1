"""Every refusal of the API is the service's own JSON error, in words for programs: a control
character in a JSON string however it is written (escaped, or a raw DEL or C1 control), a
validation error naming the field as the caller sent it with a readable message, a body that
is not JSON, and Litestar's own 404s (static files, unknown docs pages) with no echo of the
request."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import pytest

from cardservice.services import Services
from cardservice.web.errors import BODY_REQUIRED_MESSAGE, NOT_JSON_MESSAGE
from cardservice.web.limits import CONTROL_CHARACTER_API_MESSAGE, body_may_hold_control
from tests.web_support import Client, form_token, web_client, with_free_catcher_port

VERIFY = "/api/v1/verify"
JSON = {"Content-Type": "application/json"}
HTML = {"Accept": "text/html"}
# A message that is Litestar's or Python's, not the service's: a bare repr such as "'data'",
# msgspec's decoder wording, or a repeated path.
_NOT_OURS = re.compile(r"^'[^']*'$|truncated|for path|was found|Not Found$")


@pytest.fixture
async def client(services: Services) -> AsyncIterator[Client]:
    async with web_client(with_free_catcher_port(services.settings), mail=False) as running:
        yield running


def keyed(api_key: str) -> dict[str, str]:
    return {**JSON, "X-API-Key": api_key}


def assert_readable(problem: dict[str, Any]) -> None:
    assert isinstance(problem["message"], str)
    assert problem["message"]
    assert not _NOT_OURS.search(problem["message"]), problem


# --- control characters in JSON, raw or escaped ------------------------------------------------

RAW_CONTROLS = [
    b'{"barcode":"A2000000014A\x7f"}',  # DEL, raw: allowed by JSON
    b'{"barcode":"A2000000014A\xc2\x85"}',  # NEL (U+0085), raw
    b'{"barcode":"\xc2\x80A2000000014A"}',  # U+0080, the first C1 control
    b'{"token":"x\xc2\x9f"}',  # U+009F, the last
    b'{"barcode":"A2000000014A\\u0085"}',  # escaped
    b'{"barcode":"A2000000014A\\u007f"}',
    b'{"barcode":"A2000000014A\\u0000"}',
    b'{"bar\xc2\x85code":"A1A"}',  # in a member name
]


@pytest.mark.parametrize("body", RAW_CONTROLS)
async def test_a_control_character_in_json_is_refused_raw_or_escaped(
    client: Client, api_key: str, body: bytes
) -> None:
    response = await client.post(VERIFY, content=body, headers=keyed(api_key))
    assert response.status_code == 400, response.text
    assert response.json() == {
        "error": {
            "code": "control_character",
            "message": CONTROL_CHARACTER_API_MESSAGE,
            "field": "body",
        }
    }


@pytest.mark.parametrize(
    "text", ["A2000000014A", "Ａ２０００００００１４Ａ", "あ2000000014あ", "A\u00a0A"]
)
async def test_text_beyond_ascii_with_no_control_is_read(
    client: Client, api_key: str, text: str
) -> None:
    body = ('{"barcode":"' + text + '"}').encode()
    response = await client.post(VERIFY, content=body, headers=keyed(api_key))
    assert response.status_code == 200, response.text


def test_the_body_is_looked_at_only_when_its_bytes_may_hold_a_control() -> None:
    for may in (b"\\", b"\x7f", b"\xc2\x80", b"\xc2\x85", b"\xc2\x9f", b'{"a":"x\\n"}'):
        assert body_may_hold_control(may), may
    for cannot in (b'{"barcode":"A2000000014A"}', "é日本\u00a0".encode(), b"\xc2\xa0", b"\xc3\x85"):
        assert not body_may_hold_control(cannot), cannot


@pytest.mark.parametrize("char", ["\x7f", "\x85", "\x00"])
async def test_forms_and_json_refuse_the_same_characters_each_in_its_words(
    client: Client, api_key: str, char: str
) -> None:
    as_json = await client.post(VERIFY, json={"barcode": f"A1{char}A"}, headers=keyed(api_key))
    assert as_json.status_code == 400
    assert as_json.json()["error"]["message"] == CONTROL_CHARACTER_API_MESSAGE

    token = await form_token(client, "/login?lang=en")
    body = f"login={quote('a' + char)}@example.org&password=x&_csrf_token={quote(token)}"
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    page = await client.post("/login?lang=en", content=body, headers=form)
    assert page.status_code == 400
    assert "<code>control_character</code>" in page.text
    assert "type the text again" in page.text  # the page's wording, for a person


async def test_a_control_character_in_an_api_query_names_the_parameter(client: Client) -> None:
    response = await client.get("/api/v1/barcodes/qr/svg", params={"data": "a\x7fb"})
    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "code": "control_character",
            "message": "The parameter data holds a control character.",
            "field": "data",
        }
    }


# --- validation errors: readable, with the field as sent ---------------------------------------


async def test_an_empty_verify_body_says_a_body_is_required(client: Client, api_key: str) -> None:
    response = await client.post(VERIFY, content=b"", headers=keyed(api_key))
    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "code": "bad_request",
            "message": "The request is not valid.",
            "fields": [{"field": "body", "message": BODY_REQUIRED_MESSAGE}],
        }
    }


@pytest.mark.parametrize(
    "body", [b'{"barcode":"\\ud800"}', b"not json", b'{"barcode":"A1A"', b'{"barcode":"\xff"}']
)
async def test_a_body_that_is_not_json_says_so(client: Client, api_key: str, body: bytes) -> None:
    response = await client.post(VERIFY, content=body, headers=keyed(api_key))
    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "code": "bad_request",
            "message": NOT_JSON_MESSAGE,
            "fields": [{"field": "body", "message": NOT_JSON_MESSAGE}],
        }
    }


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"data": "A" * 1025}, "data"),
        ({}, "data"),
        ({"data": ""}, "data"),
        ({"data": "A12A", "module": "99"}, "module"),
        ({"data": "A12A", "module": "three"}, "module"),
        ({"data": "A12A", "text": "maybe"}, "text"),
    ],
)
async def test_a_barcode_parameter_error_names_the_parameter_as_sent(
    client: Client, query: dict[str, str], field: str
) -> None:
    response = await client.get("/api/v1/barcodes/codabar/png", params=query)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "bad_request"
    assert [problem["field"] for problem in error["fields"]] == [field]
    for problem in error["fields"]:
        assert_readable(problem)


def bad_values(schema: dict[str, Any]) -> list[str]:
    """Query values that break a parameter's schema."""
    if schema.get("type") == "integer":
        return ["not-a-number", str(int(schema.get("maximum", 2**40)) + 1)]
    if schema.get("type") == "boolean":
        return ["maybe"]
    if "maxLength" in schema:
        return ["x" * (schema["maxLength"] + 1)]
    return []


async def test_every_api_validation_error_names_its_field_readably(
    client: Client, api_key: str
) -> None:
    document = (await client.get("/api/docs/openapi.json")).json()
    checked = 0
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            parameters = [p for p in operation.get("parameters", []) if p["in"] == "query"]
            url = path
            for p in operation.get("parameters", []):
                if p["in"] == "path":
                    url = url.replace("{" + p["name"] + "}", p["schema"].get("enum", ["x"])[0])
            valid = {p["name"]: "A12A" for p in parameters if p.get("required")}
            for p in parameters:
                for value in bad_values(p["schema"]):
                    response = await client.request(
                        method.upper(),
                        url,
                        params={**valid, p["name"]: value},
                        headers=keyed(api_key),
                    )
                    assert response.status_code == 400, (path, p["name"], value)
                    fields = response.json()["error"]["fields"]
                    assert [f["field"] for f in fields] == [p["name"]], (path, fields)
                    for problem in fields:
                        assert_readable(problem)
                    checked += 1
                if p.get("required"):
                    missing = {k: v for k, v in valid.items() if k != p["name"]}
                    response = await client.request(method.upper(), url, params=missing)
                    assert response.status_code == 400
                    (problem,) = response.json()["error"]["fields"]
                    assert problem["field"] == p["name"]
                    assert_readable(problem)
                    checked += 1
            if "requestBody" in operation:
                for body in (b"", b"[]", b"null", b'{"unknown": 1}', b'"text"'):
                    response = await client.request(
                        method.upper(), url, content=body, headers=keyed(api_key)
                    )
                    assert response.status_code == 400, (path, body)
                    fields = response.json()["error"]["fields"]
                    assert [f["field"] for f in fields] == ["body"], (path, body, fields)
                    for problem in fields:
                        assert_readable(problem)
                    checked += 1
    assert checked >= 10


# --- Litestar's 404s are the service's ---------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/docs/elements",
        "/api/docs/redoc",
        "/api/docs/rapidoc",
        "/api/docs/x/y",
        "/api/docs/a.yaml",
    ],
)
async def test_an_unknown_docs_page_is_the_apis_404(client: Client, path: str) -> None:
    for headers in ({}, HTML):
        response = await client.get(path, headers=headers)
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("application/json")
        error = response.json()["error"]
        assert error["code"] == "not_found"
        assert_readable(error)
    assert (await client.get("/api/docs")).status_code == 200  # the docs page itself
    assert (await client.get("/api/docs/openapi.json")).status_code == 200


@pytest.mark.parametrize(
    "path", ["/static/no-such-file-xq.css", "/static/../app.py", "/static/%2e%2e/app.py"]
)
async def test_a_missing_static_file_is_a_404_that_does_not_repeat_the_path(
    client: Client, path: str
) -> None:
    as_json = await client.get(path)
    assert as_json.status_code == 404
    assert as_json.json()["error"]["code"] == "not_found"
    assert_readable(as_json.json()["error"])
    page = await client.get(path, headers=HTML)
    assert page.status_code == 404
    assert "<code>not_found</code>" in page.text
    (message,) = re.findall(r"<h1>(.*?)</h1>", page.text)  # the message is the heading
    assert message == "このページは見つかりません。"
    for text in (as_json.text, message):
        assert "no-such-file-xq" not in text
        assert "app.py" not in text


async def test_litestars_details_never_reach_the_answer(client: Client, api_key: str) -> None:
    too_large = await client.post(
        VERIFY, content=b'{"token":"' + b"x" * 70_000 + b'"}', headers=keyed(api_key)
    )
    assert too_large.status_code == 413
    assert too_large.json()["error"] == {
        "code": "too_large",
        "message": "The body is larger than this address accepts.",
    }
    unknown = await client.get("/api/v1/no-such-thing-xq")
    assert unknown.json()["error"] == {
        "code": "not_found",
        "message": "There is nothing at this address.",
    }
