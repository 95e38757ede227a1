"""A page shown by a language switch is reloaded, or come back to, without sending its form
again: lang.js makes its history entry a plain load of the same address and keeps what was
typed for that reload or return (in this tab only). Before, Chromium answered a reload with
"Confirm Form Resubmission" and the back button with ERR_CACHE_MISS. A photo chosen before
the switch cannot be carried over: the page in the other language asks for it again.

The server runs as production starts it (tests/e2e/support.py).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from playwright.sync_api import Request, expect

from tests.e2e.support import E2E_MARKS, Phone, Server, phone, start_server
from tests.registration_flow import FORMS, photo

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
    page.locator(".lang-switch").click()
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


def _link(server: Server, email: str) -> str:
    path = server.database_url.removeprefix("sqlite+aiosqlite:///")
    with closing(sqlite3.connect(path)) as connection:
        (body,) = connection.execute(
            "SELECT body_text FROM outbox WHERE to_address = ? ORDER BY id DESC LIMIT 1", (email,)
        ).fetchone()
    found = re.search(r"/apply/verify/[A-Za-z0-9_-]+", body)
    assert found is not None, body
    return found.group(0)


def _post(phone: Phone, action: str) -> None:
    phone.page.locator(f"form[method=post][action='{action}'] button[type=submit]").first.click()


def test_a_photo_chosen_before_the_switch_is_asked_for_again(phone: Phone) -> None:
    page, form = phone.page, FORMS["yokohama"]  # the example profile takes Yokohama
    phone.goto("/apply")
    page.locator("#email").fill(TYPED)
    _post(phone, "/apply")
    phone.goto(_link(phone.server, TYPED))
    page.locator("main form button[type=submit]").first.click()
    page.locator("[name=agree]").check()
    _post(phone, "/apply/notes")
    for name in ("family_name", "given_name", "family_kana", "given_kana", "postal_code"):
        page.locator(f"#{name}").fill(form[name])
    for name in ("city", "street", "phone", "password", "birth_date"):
        page.locator(f"#{name}").fill(form[name])
    page.locator("#prefecture").select_option(form["prefecture"])
    page.locator("#basis-lives").check()
    _post(phone, "/apply/form")
    expect(page).to_have_url(f"{phone.server.url}/apply/documents")

    page.locator("#doc_type").select_option("my_number")
    page.locator("#file").set_input_files(
        files=[{"name": "card.jpg", "mimeType": "image/jpeg", "buffer": photo()}]
    )
    page.locator(".lang-switch").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#doc_type")).to_have_value("my_number")
    expect(page.locator("#file-choose-again")).to_contain_text("choose the photo again")
    phone.shot("lang-switch-documents-choose-again")
    page.locator(".lang-switch").click()  # nothing chosen this time: no note
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    expect(page.locator("#file-choose-again")).to_have_count(0)
    phone.shot("lang-switch-documents")
