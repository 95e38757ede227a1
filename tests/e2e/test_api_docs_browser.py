"""The API docs in a real browser: Swagger UI from the package runs under the page's
Content-Security-Policy (scripts from this origin only) and lists every operation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.support import ARTIFACTS, E2E_MARKS, Server, chromium, start_server

pytestmark = E2E_MARKS


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    started = start_server(tmp_path)
    yield next(started)
    started.close()


def test_swagger_ui_runs_from_the_package_under_the_policy(server: Server) -> None:
    with chromium() as browser:
        page = browser.new_page()
        problems: list[str] = []
        # Console errors include every Content-Security-Policy violation.
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(str(error)))
        requested: list[str] = []
        page.on("request", lambda r: requested.append(r.url))
        page.goto(f"{server.url}/api/docs")
        page.wait_for_selector(".opblock-summary-path", timeout=20_000)
        paths = page.locator(".opblock-summary-path").all_inner_texts()
        page.screenshot(path=str(ARTIFACTS / "api-docs.png"), full_page=True)
    assert {"/api/v1/verify", "/.well-known/jwks.json"} <= {p.strip() for p in paths}
    assert problems == []
    assert all(url.startswith(server.url) for url in requested), requested
