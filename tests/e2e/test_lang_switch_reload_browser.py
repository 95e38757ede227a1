"""A page shown by a language switch is reloaded, or come back to, without sending its form
again: lang.js makes its history entry a plain load of the same address and keeps what was
typed for that reload or return (in this tab only). Before, Chromium answered a reload with
"Confirm Form Resubmission" and the back button with ERR_CACHE_MISS.

The server runs as production starts it (tests/e2e/support.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Request, expect

from tests.e2e.support import E2E_MARKS, Phone, Server, phone, start_server

pytestmark = E2E_MARKS

__all__ = ["phone"]  # the fixture, used by name

TYPED = "hanako@example.org"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    yield from start_server(tmp_path)


def test_a_switched_page_reloads_and_comes_back_as_typed(phone: Phone) -> None:
    page = phone.page
    phone.goto("/apply")
    page.locator("#email").fill(TYPED)
    page.locator("a.lang-switch").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#email")).to_have_value(TYPED)

    posts: list[str] = []

    def record(request: Request) -> None:
        if request.method == "POST":
            posts.append(request.url)

    page.on("request", record)
    page.reload()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#email")).to_have_value(TYPED)
    phone.goto("/login")
    page.go_back()
    expect(page).to_have_url(f"{phone.server.url}/apply?lang=en")
    expect(page.locator("#email")).to_have_value(TYPED)
    assert posts == []  # neither the reload nor the return sent the form again
    phone.shot("lang-switch-back-as-typed")

    phone.goto("/apply?lang=en")  # a new visit starts empty
    expect(page.locator("#email")).to_have_value("")
    assert phone.problems == []
