"""Switching language keeps what was typed with JavaScript off as well as on.

On a page with a form, the header's switch is a button of that form (templates/pages/base.html):
without JavaScript it posts the form to its own address with ?lang= and _lang_switch=1, and
the server shows the same form again in the other language, filled in as sent, without acting
on it (web/i18n.py switching_language); a search (GET) form is loaded again with lang= among
its fields. Enter in a field still sends the form itself, not the switch, though the switch
comes first in the page. With JavaScript, static/lang.js sends the form in the same way.

The server runs as production starts it, with the Yokohama profile (tests/e2e/support.py).
Screenshots go to ``test-artifacts/lang-switch-nojs-*.png``.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.support import ARTIFACTS, E2E_MARKS, Server, chromium, start_server
from tests.registration_flow import FORMS
from tests.web_support import STAFF_PASSWORD

pytestmark = E2E_MARKS

FORM = FORMS["yokohama"]
TYPED = {
    "family_name": FORM["family_name"],
    "given_name": "太郎",
    "family_kana": "ヤマダ",
    "given_kana": "タロウ",
    "street": FORM["street"],
    "phone": FORM["phone"],
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from start_server(tmp_path_factory.mktemp("nojs"), profile="yokohama")


@pytest.fixture(scope="module")
def browser(server: Server) -> Iterator[Browser]:
    """After the server: starting it runs an event loop, which Playwright's would block."""
    del server
    with chromium() as launched:
        yield launched


def phone(browser: Browser, *, javascript: bool) -> Page:
    context = browser.new_context(
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
        java_script_enabled=javascript,
    )
    return context.new_page()


def verification_link(server: Server, address: str) -> str:
    database = server.database_url.split("///", 1)[1]
    with sqlite3.connect(database) as db:
        (body,) = db.execute(
            "SELECT body_text FROM outbox WHERE template = 'verify_email' AND to_address = ?"
            " ORDER BY id DESC",
            (address,),
        ).fetchone()
    found = re.search(r"https?://\S+/apply/verify/\S+", body)
    assert found is not None, body
    return found.group(0)


def to_the_form(page: Page, server: Server, address: str) -> None:
    page.goto(f"{server.url}/apply")
    page.locator("#email").fill(address)
    page.locator("#email").press("Enter")  # Enter sends the form, not the switch before it
    expect(page).to_have_url(f"{server.url}/apply/sent")
    page.goto(verification_link(server, address))
    page.locator("main form button[type=submit]").first.click()
    expect(page).to_have_url(f"{server.url}/apply/notes")
    page.locator("[name=agree]").check()
    page.locator("form[action='/apply/notes'] button[type=submit]").click()
    expect(page).to_have_url(f"{server.url}/apply/form")


def fill_the_form(page: Page) -> None:
    for name, value in TYPED.items():
        page.locator(f"#{name}").fill(value)
    page.locator("#birth_date").fill(FORM["birth_date"])
    page.locator("#prefecture").select_option(FORM["prefecture"])
    page.locator(f"[name=basis][value={FORM['basis']}]").check()


def assert_kept(page: Page, lang: str) -> None:
    expect(page.locator("html")).to_have_attribute("lang", lang)
    expect(page.locator("h1")).to_have_text("Your details" if lang == "en" else "申請内容")
    for name, value in TYPED.items():
        expect(page.locator(f"#{name}")).to_have_value(value)
    expect(page.locator("#birth_date")).to_have_value(FORM["birth_date"])
    expect(page.locator("#prefecture")).to_have_value(FORM["prefecture"])
    expect(page.locator(f"[name=basis][value={FORM['basis']}]")).to_be_checked()


@pytest.mark.parametrize("javascript", [False, True], ids=["without-js", "with-js"])
def test_the_application_form_keeps_what_was_typed(
    browser: Browser, server: Server, javascript: bool
) -> None:
    page = phone(browser, javascript=javascript)
    to_the_form(page, server, f"switch-{'js' if javascript else 'nojs'}@example.org")
    switch = page.locator("header .lang-switch")
    # On a page with a form, the switch is that form's button, which looks like the link.
    expect(switch).to_have_attribute("form", "apply-form")
    expect(switch).to_have_css("background-color", "rgba(0, 0, 0, 0)")
    fill_the_form(page)
    switch.click()
    expect(page).to_have_url(f"{server.url}/apply/form?lang=en")
    assert_kept(page, "en")
    suffix = "with-js" if javascript else "without-js"
    page.screenshot(path=str(ARTIFACTS / f"lang-switch-nojs-form-english-{suffix}.png"))
    page.locator("header .lang-switch").click()
    assert_kept(page, "ja")
    # Nothing was saved by the switches: the form is still to be sent, and Enter sends it.
    page.locator("#postal_code").fill("231-0005")
    page.locator("#city").fill(FORM["city"])
    page.locator("#password").fill(FORM["password"])
    page.locator("#password").press("Enter")
    expect(page).to_have_url(f"{server.url}/apply/documents")
    page.context.close()


def test_a_search_form_keeps_its_fields_without_javascript(
    browser: Browser, server: Server
) -> None:
    page = phone(browser, javascript=False)
    page.goto(f"{server.url}/staff/login")
    page.locator("#username").fill("sato")
    page.locator("header .lang-switch").click()  # a POST form: the name typed stays
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#username")).to_have_value("sato")
    page.locator("#password").fill(STAFF_PASSWORD)
    page.locator("#password").press("Enter")
    expect(page).to_have_url(re.compile(r"/staff(\?.*)?$"))
    page.goto(f"{server.url}/staff/applications/search")
    page.locator("#q").fill("山田")
    page.locator("header .lang-switch").click()
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    expect(page.locator("#q")).to_have_value("山田")
    assert "lang=ja" in page.url
    assert "q=" in page.url
    page.screenshot(path=str(ARTIFACTS / "lang-switch-nojs-search.png"))
    page.context.close()
