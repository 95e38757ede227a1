"""The registration pipeline in a real browser, as people use it.

An applicant on a 390x844 phone asks for a link, follows it from the email, fills in the
form (first with a mistake), uploads both sides of a health insurance card and submits. A
reviewer on a desktop reads the emails in the built-in mail catcher and approves. The
applicant logs in with the user number from the completion email; the card page shows the
barcode, and still shows it with the phone offline (the service worker's copy). The server
runs as production starts it (uvicorn, its own process, SQLite in a fresh data directory,
the Yokohama profile). Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.e2e.support import (
    ARTIFACTS,
    E2E_MARKS,
    Phone,
    Server,
    chromium,
    phone_context,
    start_server,
)
from tests.registration_flow import FORMS, photo
from tests.web_support import STAFF_PASSWORD

APPLICANT = "hanako.yamada@example.org"
FORM = FORMS["yokohama"]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    yield from start_server(tmp_path, profile="yokohama")


pytestmark = E2E_MARKS


@pytest.fixture
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


class Reviewer:
    """Library staff at a desktop: the mail catcher and the review queue."""

    def __init__(self, page: Page, server: Server) -> None:
        self.page = page
        self.server = server

    def log_in(self) -> None:
        self.page.goto(f"{self.server.url}/staff/login")
        self.page.locator("[name=username]").fill("sato")
        self.page.locator("[name=password]").fill(STAFF_PASSWORD)
        self.page.locator("form[action='/staff/login'] button[type=submit]").click()
        expect(self.page).to_have_url(f"{self.server.url}/staff")

    def link_in_mail(self, path_prefix: str, *, count: int, seconds: float = 20) -> str:
        """The newest caught mail's link starting with ``path_prefix`` (the relay polls)."""
        deadline = time.monotonic() + seconds
        while True:
            self.page.goto(f"{self.server.url}/staff/mail")
            items = self.page.locator(".items li a")
            if items.count() >= count or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert items.count() == count
        items.first.click()  # newest first
        link = self.page.locator("pre.mail-text a").filter(has_text=path_prefix).first
        href = link.get_attribute("href")
        assert href is not None
        return href

    def text_of_newest_mail(self) -> str:
        return self.page.locator("pre.mail-text").inner_text()


def _submit(page: Page, action: str) -> None:
    # The POST form: the form page also has a GET form choosing the procedure.
    page.locator(f"form[method=post][action='{action}'] button[type=submit]").first.click()


def _apply(phone: Phone, reviewer: Reviewer) -> None:
    page = phone.page
    phone.goto("/apply")
    phone.shot("flow-apply-01-email")
    page.locator("[name=email]").fill(APPLICANT)
    _submit(page, "/apply")
    expect(page).to_have_url(f"{phone.server.url}/apply/sent")
    phone.shot("flow-apply-02-sent")

    link = reviewer.link_in_mail("/apply/verify/", count=1)
    page.goto(link)
    phone.shot("flow-apply-03-continue")
    page.locator("form button[type=submit]").first.click()
    expect(page).to_have_url(f"{phone.server.url}/apply/notes")
    phone.shot("flow-apply-04-notes")
    page.locator("[name=agree]").check()
    _submit(page, "/apply/notes")
    expect(page).to_have_url(f"{phone.server.url}/apply/form")

    _fill_form(page, {**FORM, "family_kana": "Yamada"})
    _submit(page, "/apply/form")
    expect(page.locator("#family_kana-error, [id^=family_kana][id$=error]").first).to_be_visible()
    phone.shot("flow-apply-05-form-error")
    _fill_form(page, FORM)
    phone.shot("flow-apply-06-form")
    _submit(page, "/apply/form")
    expect(page).to_have_url(f"{phone.server.url}/apply/documents")

    for side in ("front", "back"):
        page.locator("[name=doc_type]").first.select_option("health_insurance")
        side_field = page.locator("[name=side]").first
        if side_field.evaluate("e => e.tagName") == "SELECT":
            side_field.select_option(side)
        else:
            page.locator(f"[name=side][value={side}]").first.check()
        page.locator("[name=file]").first.set_input_files(
            files=[{"name": f"{side}.jpg", "mimeType": "image/jpeg", "buffer": photo()}]
        )
        page.locator("form[enctype='multipart/form-data'] button[type=submit]").first.click()
        expect(page).to_have_url(re.compile(r"/apply/documents"))
    phone.shot("flow-apply-07-documents")

    phone.goto("/apply/review")
    phone.shot("flow-apply-08-review")
    _submit(page, "/apply/submit")
    expect(page).to_have_url(f"{phone.server.url}/apply/done")
    phone.shot("flow-apply-09-done")


def _fill_form(page: Page, form: dict[str, str]) -> None:
    for name in (
        "family_name", "given_name", "family_kana", "given_kana", "postal_code",
        "city", "street", "phone", "password",
    ):  # fmt: skip
        page.locator(f"[name={name}]").fill(form[name])
    page.locator("[name=birth_date]").fill(form["birth_date"])
    page.locator("[name=prefecture]").select_option(form["prefecture"])
    page.locator(f"[name=basis][value={form['basis']}]").check()


def _approve(reviewer: Reviewer) -> str:
    page = reviewer.page
    page.goto(f"{reviewer.server.url}/staff/queue")
    page.screenshot(path=str(ARTIFACTS / "flow-review-queue.png"), full_page=True)
    page.locator(".queue a.subject").first.click()
    expect(page.locator("img[src*='/documents/']").first).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "flow-review-application.png"), full_page=True)
    page.locator("form[action$='/approve'] input[name=confirm]").check()
    page.once("dialog", lambda dialog: dialog.accept())  # the confirmation dialog (review.js)
    page.locator("form[action$='/approve'] button[type=submit]").click()
    page.screenshot(path=str(ARTIFACTS / "flow-review-approved.png"), full_page=True)
    reviewer.link_in_mail("/card", count=3)
    found = re.search(r"\b(\d{10})\b", reviewer.text_of_newest_mail())
    assert found is not None
    return found.group(1)


def _show_card(phone: Phone, context: BrowserContext, user_number: str) -> None:
    page = phone.page
    phone.goto("/login")
    page.locator("[name=login]").fill(user_number)
    page.locator("[name=password]").fill(FORM["password"])
    _submit(page, "/login")
    expect(page).to_have_url(f"{phone.server.url}/my")  # My Library links to the card
    page.locator("main a[href='/card']").first.click()
    expect(page).to_have_url(f"{phone.server.url}/card")
    expect(page.get_by_text(user_number).first).to_be_visible()
    barcode = page.locator("svg, img").filter(has=page.locator("rect")).first
    expect(page.locator("main svg").first).to_be_visible()
    del barcode
    phone.shot("flow-card-online")
    # The service worker takes over, then the phone loses its connection at the counter.
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.reload()
    context.set_offline(True)
    try:
        page.reload()
        expect(page.get_by_text(user_number).first).to_be_visible()
        expect(page.locator("main svg").first).to_be_visible()
        phone.shot("flow-card-offline")
    finally:
        context.set_offline(False)


def test_apply_review_approve_and_show_the_card(server: Server, browser: Browser) -> None:
    context = phone_context(browser)
    phone = Phone(context.new_page(), server)
    desk = browser.new_context(viewport={"width": 1280, "height": 900})
    reviewer = Reviewer(desk.new_page(), server)
    reviewer.log_in()
    _apply(phone, reviewer)
    user_number = _approve(reviewer)
    _show_card(phone, context, user_number)
    # The form sent with a mistake answers 400 on purpose (the browser logs that too);
    # going offline makes the reload's network request fail before the service worker answers.
    expected = ("/apply/form", "Bad Request", "ERR_INTERNET_DISCONNECTED")
    assert [p for p in phone.problems if not any(part in p for part in expected)] == []
    assert any("400" in p and "/apply/form" in p for p in phone.problems)
