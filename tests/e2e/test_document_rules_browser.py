"""The document traps in a real browser on a 390x844 phone: nobody gets stuck.

Under the example library (Yokohama's rule: at most 2 files) a worker is told up front
which identity documents fit with the workplace document; the health insurance card is
refused at its first side with the documents that would fit, and the applicant goes on with
a driver's licence and submits. Under Kashiwa (no file count) a worker's driver's licence
front alone counts as the identity document, both sides of a health insurance card go in
beside the workplace document, and the application is submitted. Every attached photo shows
as a thumbnail. Screenshots go to ``test-artifacts/documents-*.png``.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.support import E2E_MARKS, Phone, Server, chromium, phone_context, start_server
from tests.registration_flow import FORMS, photo

pytestmark = E2E_MARKS


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[dict[str, Server]]:
    with ExitStack() as stack:
        started = {}
        for profile in ("example", "kashiwa"):
            (tmp_path / profile).mkdir()
            started[profile] = stack.enter_context(
                contextmanager(start_server)(tmp_path / profile, profile=profile)
            )
        yield started


def _link_token(database_url: str, email: str) -> str:
    """The token of the newest link mailed to ``email``, from the server's outbox (the
    standard library's sqlite3: playwright's sync API owns this thread's event loop)."""
    path = database_url.removeprefix("sqlite+aiosqlite:///")
    with closing(sqlite3.connect(path)) as connection:
        row = connection.execute(
            "SELECT body_text FROM outbox WHERE to_address = ? AND template = ?"
            " ORDER BY id DESC LIMIT 1",
            (email, "verify_email"),
        ).fetchone()
    found = re.search(r"/apply/verify/([A-Za-z0-9_-]+)", row[0] if row else "")
    assert found is not None, f"no link mailed to {email}"
    return found.group(1)


def _post(phone: Phone, action: str) -> None:
    phone.page.locator(f"form[method=post][action='{action}'] button[type=submit]").first.click()


def _worker_draft(phone: Phone, email: str, form: dict[str, str]) -> None:
    """Email, the link from the mail, notes, the form as a worker: on the documents page."""
    page, url = phone.page, phone.server.url
    phone.goto("/apply")
    page.locator("[name=email]").fill(email)
    _post(phone, "/apply")
    expect(page).to_have_url(f"{url}/apply/sent")
    phone.goto(f"/apply/verify/{_link_token(phone.server.database_url, email)}")
    page.locator("form button[type=submit]").first.click()
    expect(page).to_have_url(f"{url}/apply/notes")
    page.locator("[name=agree]").check()
    _post(phone, "/apply/notes")
    expect(page).to_have_url(f"{url}/apply/form")
    for name in (
        "family_name", "given_name", "family_kana", "given_kana", "postal_code",
        "city", "street", "phone", "password",
    ):  # fmt: skip
        page.locator(f"[name={name}]").fill(form[name])
    page.locator("[name=birth_date]").fill(form["birth_date"])
    page.locator("[name=prefecture]").select_option(form["prefecture"])
    page.locator("[name=basis][value=works]").check()
    page.locator("[name=workplace_or_school]").fill("市役所")
    _post(phone, "/apply/form")
    expect(page).to_have_url(f"{url}/apply/documents")


def _attach(phone: Phone, doc_type: str, side: str) -> None:
    page = phone.page
    page.locator("[name=doc_type]").select_option(doc_type)
    page.locator(f"[name=side][value={side}]").check()
    page.locator("[name=file]").set_input_files(
        files=[{"name": f"{doc_type}-{side}.jpg", "mimeType": "image/jpeg", "buffer": photo()}]
    )
    page.locator("form[enctype='multipart/form-data'] button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/apply/documents"))


_LOADED = """img => img.complete
    ? img.naturalWidth > 0
    : new Promise(done => {
        img.addEventListener("load", () => done(img.naturalWidth > 0));
        img.addEventListener("error", () => done(false));
      })"""


def _thumbnails_shown(phone: Phone, count: int) -> None:
    thumbs = phone.page.locator("img.thumb")
    expect(thumbs).to_have_count(count)
    for index in range(count):
        thumb = thumbs.nth(index)
        # The thumbnails load lazily: bring each into view, then wait for it to load or fail.
        thumb.scroll_into_view_if_needed()
        expect(thumb).to_be_visible()
        loaded = thumb.evaluate(_LOADED)
        assert loaded, f"thumbnail {index} did not load"


def _submit(phone: Phone, name: str) -> None:
    page = phone.page
    page.locator("a[href='/apply/review']").first.click()
    expect(page).to_have_url(f"{phone.server.url}/apply/review")
    expect(page.locator("#missing")).to_have_count(0)
    phone.shot(f"{name}-review")
    _post(phone, "/apply/submit")
    expect(page).to_have_url(f"{phone.server.url}/apply/done")
    phone.shot(f"{name}-done")


def _two_file_cap(phone: Phone) -> None:
    page = phone.page
    _worker_draft(phone, "worker@example.org", FORMS["yokohama"])
    expect(page.locator("#need-identity")).to_be_visible()
    expect(page.locator("#need-extra")).to_be_visible()
    expect(page.locator("#combinations")).to_contain_text("健康保険証")
    phone.shot("documents-example-01-needs")
    _attach(phone, "health_insurance", "front")  # refused: three files with the work one
    expect(page.locator("#doc_type-error")).to_contain_text("運転免許証")
    expect(page.locator("[name=doc_type]")).to_have_value("health_insurance")
    phone.shot("documents-example-02-does-not-fit")
    _attach(phone, "drivers_license", "front")
    expect(page.locator("#need-identity")).to_contain_text("運転免許証（添付済み）")
    _attach(phone, "extra", "front")
    expect(page.locator("#all-attached")).to_be_visible()
    _thumbnails_shown(phone, 2)
    phone.shot("documents-example-03-attached")
    _submit(phone, "documents-example-04")


def _kashiwa(phone: Phone) -> None:
    page = phone.page
    _worker_draft(phone, "worker@example.org", FORMS["kashiwa"])
    expect(page.locator("#combinations")).to_have_count(0)  # no file count in Kashiwa
    phone.shot("documents-kashiwa-01-needs")
    _attach(phone, "drivers_license", "front")  # the back only for an address change
    expect(page.locator("#need-identity")).to_contain_text("運転免許証（添付済み）")
    _attach(phone, "extra", "front")
    expect(page.locator("#all-attached")).to_be_visible()
    phone.shot("documents-kashiwa-02-licence-front")
    page.locator("a[href='/apply/review']").first.click()
    expect(page.locator("#missing")).to_have_count(0)
    phone.goto("/apply/documents")
    for side in ("front", "back"):  # a two-sided card beside the work document
        _attach(phone, "health_insurance", side)
    _thumbnails_shown(phone, 4)
    phone.shot("documents-kashiwa-03-attached")
    _submit(phone, "documents-kashiwa-04")


def test_nobody_gets_stuck_on_the_documents_page(servers: dict[str, Server]) -> None:
    browser: Browser
    with chromium() as browser:
        for profile, walk in (("example", _two_file_cap), ("kashiwa", _kashiwa)):
            phone = Phone(phone_context(browser).new_page(), servers[profile])
            walk(phone)
            # The refusal answers 400 on purpose (the browser logs it); nothing else fails.
            expected = [p for p in phone.problems if "400" in p or "Bad Request" in p]
            assert [p for p in phone.problems if p not in expected] == [], profile
            assert bool(expected) == (profile == "example"), phone.problems
