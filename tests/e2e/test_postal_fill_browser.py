"""The postal code fills in the address on a form that came filled in, in a real browser.

A registered patron (Yokohama's profile) applies for a change of details from My Library:
the form shows the registered address. Typing a new postal code and leaving the field fills
in the new prefecture *and* city (the city stayed the registered one, and the form was then
refused: the city did not match the postal code). A city the patron types on the page stays
when the postal code changes after it.
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

pytestmark = E2E_MARKS

PROFILE = load_profile("yokohama")
EMAIL = "hanako@example.org"
PASSWORD = "Shiori-2024!"


@pytest.fixture
def prepared(tmp_path: Path) -> Iterator[tuple[Server, str]]:
    with contextmanager(start_server)(tmp_path, profile="yokohama") as server:
        seeded = seed_patron(
            server.database_url, PROFILE, FORMS["yokohama"], email=EMAIL, password=PASSWORD
        )
        yield server, asyncio.run(seeded)


@pytest.fixture
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def test_a_new_postal_code_replaces_the_registered_city(
    prepared: tuple[Server, str], browser: Browser
) -> None:
    server, user_number = prepared
    phone = Phone(phone_context(browser).new_page(), server)
    page = phone.page
    phone.goto("/login")
    page.locator("[name=login]").fill(user_number)
    page.locator("[name=password]").fill(PASSWORD)
    page.locator("form[action='/login'] button[type=submit]").click()
    expect(page).to_have_url(f"{server.url}/my")
    page.locator("form[action='/apply/procedure/change'] button[type=submit]").click()
    expect(page).to_have_url(f"{server.url}/apply/notes")
    page.locator("[name=agree]").check()
    page.locator("form[action='/apply/notes'] button[type=submit]").click()
    expect(page).to_have_url(f"{server.url}/apply/form")
    city, prefecture = page.locator("#city"), page.locator("#prefecture")
    expect(city).to_have_value("横浜市中区")  # the registered address

    page.locator("#postal_code").fill("100-0001")
    page.locator("#street").focus()  # leaving the field looks the code up
    expect(prefecture).to_have_value("東京都")
    expect(city).to_have_value("千代田区")
    phone.shot("postal-fill-change-of-address")

    # A city typed on the page is the patron's own: a later postal code leaves it.
    city.fill("千代田区千代田")
    page.locator("#postal_code").fill("231-0005")
    page.locator("#street").focus()
    expect(prefecture).to_have_value("神奈川県")
    expect(city).to_have_value("千代田区千代田")
    assert phone.problems == []
