"""Names as long as the form allows, typed without spaces, fit a phone screen.

A patron whose family and given names are 64 letters each without a space (the form's
limit; full-width letters are stored half-width) and whose reading is 64 katakana each: My
Library greets them by name, and the card desk lists them. Both pages stay 390px wide (My
Library's greeting and the desk's result lines widened the page to over 1,000px).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from cardservice.profiles import load_profile
from tests.card_support import seed_patron
from tests.e2e.support import E2E_MARKS, Phone, Server, chromium, phone_context, start_server
from tests.registration_flow import FORMS
from tests.web_support import STAFF_PASSWORD

pytestmark = E2E_MARKS

PROFILE = load_profile("yokohama")
EMAIL = "hanako@example.org"
PASSWORD = "Shiori-2024!"
LONG = {
    "family_name": "Ｗ" * 64,
    "given_name": "M" * 64,
    "family_kana": "ア" * 64,
    "given_kana": "イ" * 64,
}


@pytest.fixture
def prepared(tmp_path: Path) -> Iterator[tuple[Server, str]]:
    with contextmanager(start_server)(tmp_path, profile="yokohama") as server:
        seeded = seed_patron(
            server.database_url,
            PROFILE,
            {**FORMS["yokohama"], **LONG},
            email=EMAIL,
            password=PASSWORD,
        )
        yield server, asyncio.run(seeded)


@pytest.fixture
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def test_the_longest_names_fit_my_library_and_the_card_desk(
    prepared: tuple[Server, str], browser: Browser
) -> None:
    server, user_number = prepared
    patron = Phone(phone_context(browser).new_page(), server)
    page = patron.page
    for lang in ("ja", "en"):
        patron.goto(f"/login?lang={lang}")
        page.locator("[name=login]").fill(user_number)
        page.locator("[name=password]").fill(PASSWORD)
        page.locator("form[action='/login'] button[type=submit]").click()
        expect(page).to_have_url(f"{server.url}/my")
        expect(page.locator("main .lead")).to_contain_text("W" * 64)
        patron.shot(f"long-names-my-{lang}")  # fails past 390px
        patron.goto("/card")
        patron.shot(f"long-names-card-{lang}")
        page.locator("form[action='/logout'] button[type=submit]").first.click()

    staff = Phone(phone_context(browser).new_page(), server)
    staff.goto("/staff/login")
    staff.page.locator("[name=username]").fill("sato")
    staff.page.locator("[name=password]").fill(STAFF_PASSWORD)
    staff.page.locator("form[action='/staff/login'] button[type=submit]").click()
    expect(staff.page).to_have_url(f"{server.url}/staff")
    for lang in ("ja", "en"):
        staff.goto(f"/staff/patrons?q={user_number}&lang={lang}")
        expect(staff.page.locator("main")).to_contain_text("ア" * 64)
        staff.shot(f"long-names-desk-{lang}")
    assert patron.problems == []
    assert staff.problems == []
