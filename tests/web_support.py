"""Helpers for the web tests: an app on its own catcher port, CSRF tokens, staff logins."""

from __future__ import annotations

import re
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import msgspec
import pytest
import time_machine
from litestar.testing import AsyncTestClient

from cardservice.app import create_app
from cardservice.services import Services
from cardservice.settings import Settings
from cardservice.staff.models import Role, StaffUser
from cardservice.staff.service import create_staff

BASE_URL = "https://cards.example.org"
STAFF_PASSWORD = "lantern-harbour-quietly-42"
_CSRF_INPUT = re.compile(r'name="_csrf_token" value="([^"]+)"')

Client = AsyncTestClient[Any]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def with_free_catcher_port(settings: Settings, **changes: Any) -> Settings:
    """``settings`` with a catcher port nobody else uses (tests run side by side)."""
    return msgspec.structs.replace(settings, mail_catcher_port=free_port(), **changes)


@asynccontextmanager
async def web_client(
    settings: Settings, *, mail: bool = True, jobs: bool = False
) -> AsyncIterator[Client]:
    app = create_app(settings, mail=mail, jobs=jobs)
    async with AsyncTestClient(app=app, base_url=BASE_URL) as client:
        client.follow_redirects = False  # tests look at each redirect themselves
        yield client


@pytest.fixture(name="client")
async def client_on_clock(
    services: Services, clock: time_machine.Traveller
) -> AsyncIterator[Client]:
    """The app of ``services`` without sending mail, started after the ``clock`` fixture
    (tests/registration_flow.py) stopped the time; a test module imports both by name."""
    async with web_client(with_free_catcher_port(services.settings), mail=False) as running:
        yield running


def csrf_from(html: str) -> str:
    found = _CSRF_INPUT.search(html)
    assert found, "the page has no CSRF input"
    return found.group(1)


async def form_token(client: Client, path: str) -> str:
    """The CSRF token of the form on ``path``; the client keeps the matching cookie."""
    page = await client.get(path)
    assert page.status_code == 200, page.text
    return csrf_from(page.text)


async def make_staff(
    services: Services,
    username: str = "sato",
    role: Role = Role.REVIEWER,
    *,
    display_name: str = "佐藤 花子",
) -> StaffUser:
    async with services.db.transaction() as session:
        return await create_staff(
            session, username, STAFF_PASSWORD, role, display_name=display_name
        )


async def post_login(
    client: Client, username: str, password: str = STAFF_PASSWORD, *, next_path: str = ""
) -> Any:
    token = await form_token(client, "/staff/login")
    return await client.post(
        "/staff/login",
        data={"username": username, "password": password, "next": next_path, "_csrf_token": token},
    )


async def login(client: Client, username: str = "sato") -> None:
    response = await post_login(client, username)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/staff"
