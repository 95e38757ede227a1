"""A client that hangs up before its body is complete (an aborted upload, a closed tab) is
not a server failure: one INFO line, no traceback, no ERROR, on a form page and the API."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar import Litestar

from cardservice.services import Services
from tests.web_support import Client, web_client, with_free_catcher_port


@pytest.fixture
async def client(services: Services) -> AsyncIterator[Client]:
    async with web_client(with_free_catcher_port(services.settings), mail=False) as running:
        yield running


async def send_half_a_body(app: Litestar, path: str, content_type: bytes) -> list[dict[str, Any]]:
    """POST ``path`` announcing 100,000 bytes, send a few, then hang up; the ASGI messages
    the app sent back."""
    events: list[dict[str, Any]] = [
        {"type": "http.request", "body": b"login=abc", "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return events.pop(0) if events else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"content-type", content_type), (b"content-length", b"100000")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    await app(scope, receive, send)  # type: ignore[arg-type]  # a hand-made HTTP scope
    return sent


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/login", b"application/x-www-form-urlencoded"),
        ("/apply/documents", b"multipart/form-data; boundary=B"),
        ("/api/v1/verify", b"application/json"),
    ],
)
async def test_a_client_hanging_up_mid_body_is_one_info_line(
    client: Client, caplog: pytest.LogCaptureFixture, path: str, content_type: bytes
) -> None:
    app: Litestar = client.app
    with caplog.at_level(logging.INFO, logger="cardservice.web"):
        await send_half_a_body(app, path, content_type)
    web = [r for r in caplog.records if r.name.startswith("cardservice.web")]
    assert not [r for r in web if r.levelno >= logging.ERROR], [r.getMessage() for r in web]
    assert not [r for r in web if r.exc_info]
    if path.startswith("/api/"):
        return  # the API checks its key before reading any body: nothing to log
    gone = [r.getMessage() for r in web if "went away" in r.getMessage()]
    assert len(gone) == 1
    assert path in gone[0]
