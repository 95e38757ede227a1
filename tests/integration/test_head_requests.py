"""HEAD wherever GET works (RFC 9110 §9.3.2): the GET's status and headers, no body; for every
GET route of the app, read from its route table, as a visitor and as staff."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from litestar import Litestar
from litestar.routes import HTTPRoute

from cardservice.services import Services
from cardservice.staff.models import Role
from tests.web_support import Client, login, make_staff, web_client, with_free_catcher_port

# Headers that differ between two answers to the same request by design.
VARYING = {"date", "set-cookie", "x-request-id", "content-security-policy", "etag"}


@pytest.fixture
async def client(services: Services) -> AsyncIterator[Client]:
    async with web_client(with_free_catcher_port(services.settings), mail=False) as running:
        yield running


def get_paths(client: Client) -> list[str]:
    app: Litestar = client.app
    paths = []
    for route in app.routes:
        if isinstance(route, HTTPRoute) and "GET" in route.methods:
            path = re.sub(r"\{(\w+):int\}", "1", route.path)
            paths.append(re.sub(r"\{(\w+):(\w+)\}", "x", path))
    return paths


def comparable(headers: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k not in VARYING}


async def test_head_answers_as_get_without_a_body(client: Client, services: Services) -> None:
    await make_staff(services, "kanri", Role.ADMIN)
    await login(client, "kanri")
    paths = get_paths(client)
    assert {"/", "/login", "/health", "/.well-known/jwks.json"} <= set(paths)
    paths.append("/static/site.css")
    checked = 0
    for path in paths:
        got = await client.get(path, follow_redirects=False)
        head = await client.head(path, follow_redirects=False)
        assert head.status_code == got.status_code, path
        assert head.content == b"", path
        assert comparable(dict(head.headers)) == comparable(dict(got.headers)), path
        checked += 1
    assert checked == len(paths) > 40
    health = await client.head("/health")
    assert health.status_code == 200
    assert int(health.headers["content-length"]) > 0


async def test_head_of_an_unknown_path_is_the_services_404(client: Client) -> None:
    head = await client.head("/no-such-page")
    assert head.status_code == 404
    assert head.content == b""
