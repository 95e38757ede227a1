"""Nobody gets stuck: an applicant on a 390x844 phone walks into the usual traps and gets
through.

- The language is switched mid-form, to English and back: every typed value stays.
- A postal code that does not exist (999-9999): its error shows next to the field as soon as
  the field is left, and again when the form is sent; the page that comes back starts at the
  error summary. "231 - 0005" (spaces around the hyphen) is then accepted.
- A 4 MB 4032 x 3024 camera photo of a health insurance card, over the profile's 3 MB limit:
  the page makes it smaller before sending (static/photo.js), the server stores it at 2,000
  px on the long side, and the card's barcode still reads in the stored image (it does not
  at 800 px: the check could fail). The applicant submits and is told the application was
  received.

The server runs as production starts it, with the Yokohama profile (tests/e2e/support.py).
Screenshots go to ``test-artifacts/nobody-stuck-*.png``.
"""

from __future__ import annotations

import io
import os
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import barcode
import pytest
import zxingcpp
from barcode.writer import ImageWriter
from PIL import Image, ImageDraw, ImageFont
from playwright.sync_api import Browser, Page, expect

from cardservice.profiles import load_profile
from cardservice.registration.documents import STORED_LONG_SIDE
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

pytestmark = E2E_MARKS

APPLICANT = "taro.phone@example.org"
FORM = FORMS["yokohama"]
CARD_CODE = "HOKEN-56-1234"  # the Code 128 printed on the photographed card
FONT = Path("/usr/share/fonts/truetype/fonts-japanese-gothic.ttf")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    yield from start_server(tmp_path, profile="yokohama")


@pytest.fixture
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


CARD_LINES = ("氏名　山田 太郎", "生年月日　1990年4月1日", "住所　神奈川県横浜市中区本町1-1")


def phone_photo() -> Image.Image:
    """A 4032 x 3024 photo of a health insurance card on a grainy table: Japanese text at
    sizes a card prints, and a Code 128 with 0.5 mm bars (2 px at 2,000 px wide)."""
    width, height = 4032, 3024
    grain = Image.frombytes("L", (width, height), os.urandom(width * height))
    table = grain.point(lambda v: 90 + v * 56 // 256)
    toned = (table, table.point(lambda v: v - 20), table.point(lambda v: v - 40))
    picture = Image.merge("RGB", toned)
    paper = Image.frombytes("L", (3000, 1900), os.urandom(3000 * 1900))
    paper = paper.point(lambda v: 224 + v * 16 // 256)
    card = Image.merge("RGB", (paper, paper, paper.point(lambda v: v + 8)))
    draw = ImageDraw.Draw(card)
    title, text = ImageFont.truetype(FONT, 120), ImageFont.truetype(FONT, 64)
    draw.text((120, 80), "健康保険被保険者証", font=title, fill=(20, 30, 60))
    for row, line in enumerate(CARD_LINES):
        draw.text((120, 330 + row * 140), line, font=text, fill=(30, 30, 30))
    bars = io.BytesIO()
    options = {"module_width": 0.5, "module_height": 18, "quiet_zone": 4, "dpi": 300}
    code = barcode.get("code128", CARD_CODE, writer=ImageWriter())
    code.write(bars, {**options, "write_text": False})
    card.paste(Image.open(io.BytesIO(bars.getvalue())).convert("RGB"), (120, 1000))
    picture.paste(card, (516, 562))
    return picture


def jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def codes(image: Image.Image) -> list[str]:
    return [found.text for found in zxingcpp.read_barcodes(image)]


def verification_link(server: Server) -> str:
    """The link of the verification email, from the server's outbox (SQLite)."""
    database = server.database_url.split("///", 1)[1]
    with sqlite3.connect(database) as db:
        (body,) = db.execute(
            "SELECT body_text FROM outbox WHERE template = 'verify_email' ORDER BY id DESC"
        ).fetchone()
    found = re.search(r"https?://\S+/apply/verify/\S+", body)
    assert found is not None, body
    return found.group(0)


def submit(page: Page, action: str) -> None:
    page.locator(f"form[method=post][action='{action}'] button[type=submit]").last.click()


def to_the_form(phone: Phone) -> None:
    page = phone.page
    phone.goto("/apply")
    page.locator("[name=email]").fill(APPLICANT)
    submit(page, "/apply")
    expect(page).to_have_url(f"{phone.server.url}/apply/sent")
    page.goto(verification_link(phone.server))
    page.locator("main form button[type=submit]").first.click()
    expect(page).to_have_url(f"{phone.server.url}/apply/notes")
    page.locator("[name=agree]").check()
    submit(page, "/apply/notes")
    expect(page).to_have_url(f"{phone.server.url}/apply/form")


TYPED = {
    "family_name": FORM["family_name"],
    "given_name": "太郎",
    "family_kana": "ヤマダ",
    "given_kana": "タロウ",
    "street": FORM["street"],
    "phone": FORM["phone"],
}


def assert_kept(page: Page, lang: str, **more: str) -> None:
    expect(page.locator("html")).to_have_attribute("lang", lang)
    for name, value in {**TYPED, **more}.items():
        expect(page.locator(f"#{name}")).to_have_value(value)
    expect(page.locator("#birth_date")).to_have_value(FORM["birth_date"])
    expect(page.locator("#prefecture")).to_have_value(FORM["prefecture"])
    expect(page.locator(f"[name=basis][value={FORM['basis']}]")).to_be_checked()
    expect(page.locator("#notify_overdue")).to_be_checked()


def switch_language_mid_form(phone: Phone) -> None:
    page = phone.page
    for name, value in TYPED.items():
        page.locator(f"#{name}").fill(value)
    page.locator("#birth_date").fill(FORM["birth_date"])
    page.locator("#prefecture").select_option(FORM["prefecture"])
    page.locator(f"[name=basis][value={FORM['basis']}]").check()
    page.locator("#notify_overdue").check()
    page.locator(".lang-switch").click()
    assert_kept(page, "en")
    expect(page.locator("h1")).to_have_text("Your details")
    phone.shot("nobody-stuck-01-form-switched-to-english")
    page.locator("#city").fill(FORM["city"])
    page.locator(".lang-switch").click()
    assert_kept(page, "ja", city=FORM["city"])
    phone.shot("nobody-stuck-02-form-back-in-japanese")


def bad_postal_code(phone: Phone) -> None:
    page = phone.page
    page.locator("#postal_code").fill("999-9999")
    page.locator("#street").focus()  # leaving the field looks the code up
    error = page.locator("#postal_code-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("999-9999")
    expect(page.locator("#postal_code")).to_have_attribute("aria-invalid", "true")
    phone.shot("nobody-stuck-03-postal-code-error-as-typed")

    page.locator("#password").fill(FORM["password"])
    submit(page, "/apply/form")
    expect(page.locator(".error-summary")).to_be_visible()
    expect(page.locator(".error-summary")).to_be_focused()
    expect(error).to_be_visible()
    expect(error).to_contain_text("999-9999")
    assert_kept(page, "ja", city=FORM["city"], postal_code="999-9999")
    phone.shot("nobody-stuck-04-postal-code-error-sent")

    page.locator("#postal_code").fill("231 - 0005")
    page.locator("#password").fill(FORM["password"])
    submit(page, "/apply/form")
    expect(page).to_have_url(f"{phone.server.url}/apply/documents")


def attach(page: Page, side: str, name: str, data: bytes) -> None:
    page.locator("[name=doc_type]").select_option("health_insurance")
    page.locator(f"[name=side][value={side}]").check()
    page.locator("[name=file]").set_input_files(
        files=[{"name": name, "mimeType": "image/jpeg", "buffer": data}]
    )


def attach_phone_photo(phone: Phone, picture: bytes) -> None:
    page = phone.page
    limit = load_profile("yokohama").documents.max_bytes
    assert len(picture) > limit  # refused as it is: the server's rule stands
    attach(page, "front", "IMG_0042.JPG", picture)
    expect(page.locator("#file[data-shrunk]")).to_have_attribute(
        "data-shrunk", f"{STORED_LONG_SIDE}x1500", timeout=20_000
    )
    status = page.locator("#file-status")
    expect(status).to_contain_text("2000 × 1500")
    expect(page.locator("label[for=file-progress]")).to_have_text(re.compile(r"\S"))
    phone.shot("nobody-stuck-05-photo-made-smaller")
    page.locator("form[action='/apply/documents'] button[type=submit]").click()
    expect(page).to_have_url(f"{phone.server.url}/apply/documents")
    expect(page.locator(".attached")).to_contain_text("2000 × 1500")

    attach(page, "back", "back.jpg", photo())  # small: sent as it is
    expect(page.locator("#file-status")).to_have_text("")
    page.locator("form[action='/apply/documents'] button[type=submit]").click()
    expect(page.locator(".attached li")).to_have_count(2)
    phone.shot("nobody-stuck-06-documents")

    phone.goto("/apply/review")
    submit(page, "/apply/submit")
    expect(page).to_have_url(f"{phone.server.url}/apply/done")
    phone.shot("nobody-stuck-07-received")


def stored_front(browser: Browser, server: Server) -> Image.Image:
    """The front photo as the library stored it, as a reviewer opens it (who first switches
    the application's page to English with a rejection half written)."""
    desk = browser.new_context(viewport={"width": 1280, "height": 900})
    page = desk.new_page()
    page.goto(f"{server.url}/staff/login")
    page.locator("[name=username]").fill("sato")
    page.locator("[name=password]").fill(STAFF_PASSWORD)
    page.locator("form[action='/staff/login'] button[type=submit]").click()
    page.goto(f"{server.url}/staff/queue")
    page.locator(".queue a.subject").first.click()
    # A page with several forms carries the one typed in: the rejection's text, not the question.
    reason = "写真の文字が読めません。"
    page.locator("textarea#text").fill(reason)
    page.locator(".lang-switch").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("textarea#text")).to_have_value(reason)
    expect(page.locator("textarea#question")).to_have_value("")
    page.locator("textarea#text").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "nobody-stuck-08-review-switched-to-english.png"))
    sources = page.locator("img[src*='/documents/']").evaluate_all("els => els.map(e => e.src)")
    images = [Image.open(io.BytesIO(page.request.get(src).body())) for src in sources]
    desk.close()
    (front,) = [image for image in images if max(image.size) > 1000]
    return front


def test_a_phone_applicant_gets_through_the_traps(server: Server, browser: Browser) -> None:
    original = phone_photo()
    picture = jpeg(original)
    phone = Phone(phone_context(browser).new_page(), server)
    to_the_form(phone)
    switch_language_mid_form(phone)
    bad_postal_code(phone)
    attach_phone_photo(phone, picture)

    front = stored_front(browser, server)
    assert front.size == (STORED_LONG_SIDE, 1500)
    assert codes(front) == [CARD_CODE]  # legible at the size the library keeps
    too_small = original.copy()
    too_small.thumbnail((800, 800))
    assert codes(too_small) == []  # and the check would see a photo shrunk too far

    # The unknown postal code answers 404 (the lookup) and 400 (the form) on purpose.
    expected = ("/apply/postal", "/apply/form", "status of 400", "status of 404")
    assert [p for p in phone.problems if not any(part in p for part in expected)] == []
