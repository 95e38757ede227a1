"""Security headers on every response, CSRF on every form, and the cookies' flags; the API
docs' Swagger UI runs from the package alone, and no verify answer may be cached."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import msgspec
import pytest
from litestar import Litestar
from litestar.routes import HTTPRoute

from cardservice.cards.routes import VERIFY_MAX_BODY
from cardservice.mail.models import CaughtMail
from cardservice.services import Services
from cardservice.settings import Settings
from cardservice.web.security import CONTENT_SECURITY_POLICY
from tests.web_support import (
    STAFF_PASSWORD,
    Client,
    csrf_from,
    form_token,
    make_staff,
    post_login,
    web_client,
    with_free_catcher_port,
)

HTML = {"Accept": "text/html"}


@pytest.fixture
async def client(services: Services) -> AsyncIterator[Client]:
    async with web_client(with_free_catcher_port(services.settings), mail=False) as running:
        yield running


def production(settings: Settings) -> Settings:
    return msgspec.structs.replace(
        settings,
        mode="production",
        smtp_url="smtp://127.0.0.1:1",
        base_url="https://cards.example.org",
    )


@pytest.fixture
async def production_client(services: Services) -> AsyncIterator[Client]:
    async with web_client(production(services.settings), mail=False) as running:
        yield running


def assert_security_headers(headers: httpx.Headers) -> None:
    assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "object-src 'none'" in CONTENT_SECURITY_POLICY
    assert "base-uri 'none'" in CONTENT_SECURITY_POLICY
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-frame-options"] == "DENY"
    assert "camera=()" in headers["permissions-policy"]


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/", 200),
        ("GET", "/staff/login", 200),
        ("GET", "/static/site.css", 200),
        ("GET", "/no/such/page", 404),
        ("GET", "/health", 200),
        ("GET", "/.well-known/jwks.json", 200),
        ("POST", "/api/v1/verify", 401),
        ("GET", "/api/v1/nothing-here", 404),
        ("DELETE", "/", 405),
    ],
)
async def test_every_response_carries_the_security_headers(
    client: Client, method: str, path: str, status: int
) -> None:
    response = await client.request(method, path, json={} if method == "POST" else None)
    assert response.status_code == status
    assert_security_headers(response.headers)
    assert "strict-transport-security" not in response.headers  # dev mode: plain http


async def test_every_page_of_the_route_table_forbids_plugins_and_base(client: Client) -> None:
    app: Litestar = client.app  # type: ignore[assignment]  # the test client's ASGI app
    pages = [
        route.path
        for route in app.routes
        if isinstance(route, HTTPRoute) and "GET" in route.methods and not route.path_parameters
    ]
    assert len(pages) > 20
    for path in pages:
        response = await client.get(path, headers=HTML)
        policy = _directives(response.headers["content-security-policy"])
        assert policy["object-src"] == ["'none'"], path
        assert policy["base-uri"] == ["'none'"], path
        assert policy["script-src"] == ["'self'"], path


async def test_pages_are_not_cached_but_static_files_are(client: Client) -> None:
    assert (await client.get("/")).headers["cache-control"] == "no-store"
    css = await client.get("/static/site.css")
    assert "max-age=3600" in css.headers["cache-control"]


async def test_production_adds_hsts(production_client: Client) -> None:
    response = await production_client.get("/")
    assert response.headers["strict-transport-security"] == "max-age=63072000"
    assert_security_headers(response.headers)


def _directives(policy: str) -> dict[str, list[str]]:
    parts = (directive.split() for directive in policy.split(";") if directive.strip())
    return {name: values for name, *values in parts}


@pytest.mark.parametrize("path", ["/api/docs", "/api/docs/swagger"])
async def test_api_docs_run_swagger_ui_from_the_package_alone(client: Client, path: str) -> None:
    docs = await client.get(path)
    assert docs.status_code == 200
    policy = _directives(docs.headers["content-security-policy"])
    assert policy["script-src"] == ["'self'"]  # no CDN, no inline script
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert not [value for values in policy.values() for value in values if "://" in value]
    assert "://" not in docs.text  # every script, style and the schema from this origin
    scripts = re.findall(r"<script([^>]*)>", docs.text)
    assert scripts == [' src="/static/swagger-ui-bundle.js"', ' src="/static/api-docs.js"']
    assert '<link rel="stylesheet" href="/static/swagger-ui.css">' in docs.text
    assert 'data-openapi-url="/api/docs/openapi.json"' in docs.text
    for asset in ("swagger-ui-bundle.js", "api-docs.js", "swagger-ui.css"):
        served = await client.get(f"/static/{asset}")
        assert served.status_code == 200, asset
        assert len(served.content) > 100
    # Swagger UI's licence (Apache-2.0) and notice ship beside it.
    assert "Apache License" in (await client.get("/static/swagger-ui.LICENSE")).text
    assert "SmartBear" in (await client.get("/static/swagger-ui.NOTICE")).text


@pytest.mark.parametrize(
    ("body", "key", "status"),
    [
        ({"barcode": "A0000000000A"}, True, 200),
        ({"barcode": "A0000000000A"}, False, 401),
        ({"barcode": "1", "token": "x"}, True, 422),
        ([1], True, 400),
        ("{" * 40 + "}" * 40, True, 400),
        ("x" * (VERIFY_MAX_BODY + 1), True, 413),
    ],
)
async def test_no_verify_answer_may_be_stored(
    client: Client, api_key: str, body: object, key: bool, status: int
) -> None:
    headers = {"X-API-Key": api_key} if key else {}
    if isinstance(body, str):
        headers["Content-Type"] = "application/json"
        response = await client.post("/api/v1/verify", content=body, headers=headers)
    else:
        response = await client.post("/api/v1/verify", json=body, headers=headers)
    assert response.status_code == status, response.text
    assert response.headers["cache-control"] == "no-store"


async def test_caught_mail_html_has_no_base_or_plugins(services: Services, client: Client) -> None:
    await make_staff(services)
    async with services.db.transaction() as session:
        mail = CaughtMail(
            mail_from="library@example.org",
            rcpt_tos="hanako@example.org",
            subject="確認",
            body_text="本文",
            body_html='<base href="https://evil.example/"><p>本文</p>',
            raw=b"",
        )
        session.add(mail)
        await session.flush()
        mail_id = mail.id
    await post_login(client, "sato")
    body = await client.get(f"/staff/mail/{mail_id}/html")
    assert body.status_code == 200
    policy = _directives(body.headers["content-security-policy"])
    assert "sandbox" in policy
    assert policy["base-uri"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["default-src"] == ["'none'"]


async def test_form_post_without_a_token_is_refused_with_a_page(client: Client) -> None:
    await client.get("/staff/login")  # the CSRF cookie is set, but the form field is missing
    response = await client.post("/staff/login", data={"username": "sato", "password": "x"})
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/html")
    assert "フォームを再読み込みして" in response.text
    assert "<code>csrf_failed</code>" in response.text
    assert_security_headers(response.headers)


async def test_form_post_with_a_forged_token_is_refused(client: Client) -> None:
    await client.get("/staff/login")
    response = await client.post(
        "/staff/login", data={"username": "sato", "password": "x", "_csrf_token": "0" * 128}
    )
    assert response.status_code == 403


async def test_form_post_with_the_token_from_the_form_goes_through(client: Client) -> None:
    token = await form_token(client, "/staff/login")
    assert client.cookies.get("csrftoken")
    response = await client.post(
        "/staff/login", data={"username": "sato", "password": "x", "_csrf_token": token}
    )
    assert response.status_code == 200  # the form again, with the login error
    assert "ユーザー名またはパスワードが正しくないか" in response.text


async def test_the_token_also_works_as_a_header(client: Client) -> None:
    token = await form_token(client, "/staff/login")
    response = await client.post(
        "/staff/login", data={"username": "sato", "password": "x"}, headers={"X-CSRFToken": token}
    )
    assert response.status_code == 200


async def test_the_api_needs_no_csrf_token(client: Client) -> None:
    response = await client.post("/api/v1/verify", json={"barcode": "1"})
    assert response.status_code == 401  # the API key is missing; CSRF is not asked for
    assert response.json()["error"]["code"] != "forbidden"


def _set_cookie(response: httpx.Response, name: str) -> str:
    headers = response.headers.get_list("set-cookie")
    found = [value for value in headers if value.startswith(f"{name}=")]
    assert found, f"no {name} cookie in {headers}"
    return found[0].lower()


async def test_cookie_flags_in_dev(client: Client, services: Services) -> None:
    await make_staff(services)
    csrf = _set_cookie(await client.get("/staff/login"), "csrftoken")
    assert "httponly" in csrf
    assert "samesite=lax" in csrf
    assert "secure" not in csrf
    session = _set_cookie(await post_login(client, "sato"), "session")
    assert "httponly" in session
    assert "samesite=lax" in session
    assert "secure" not in session
    language = _set_cookie(await client.get("/?lang=en"), "lang")
    assert "httponly" in language
    assert "samesite=lax" in language


async def test_cookie_flags_in_production(production_client: Client, services: Services) -> None:
    await make_staff(services)
    page = await production_client.get("/staff/login")
    csrf = _set_cookie(page, "__Host-csrftoken")
    assert "secure" in csrf
    assert "httponly" in csrf
    token = csrf_from(page.text)
    response = await production_client.post(
        "/staff/login",
        data={"username": "sato", "password": STAFF_PASSWORD, "_csrf_token": token},
    )
    assert response.status_code == 303
    session = _set_cookie(response, "__Host-session")
    for flag in ("secure", "httponly", "samesite=lax", "path=/"):
        assert flag in session
    assert "domain=" not in session
    assert "secure" in _set_cookie(await production_client.get("/?lang=en"), "lang")
