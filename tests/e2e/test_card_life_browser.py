"""A card's life after registration, in a real browser at phone size (Kashiwa's profile).

A registered patron (put in the server's database first), whose card expires in 10 days
(inside Kashiwa's one-month renewal window), uses a phone: recovers the forgotten user
number by email, resets the password through the emailed link, applies for a renewal from
My Library, then reports the card lost and applies for a reissue (the old number is
suspended at once). The reviewer ``sato`` reads the emails in the built-in mail catcher and
approves each application on a phone too. The patron sees the renewed expiry in My Library,
then the new number, whose barcode a scanner reads off the screen (zxing-cpp); the counter
API answers ``revoked`` (``reissued``) for the old number and for the old card's token read
off its QR code.

The server runs as production starts it (see ``support.py``). Every page fits the 390px
screen and raises no console error, page error or HTTP error. Screenshots go to
``test-artifacts/life-*.png`` for a person to look at.
"""

from __future__ import annotations

import asyncio
import io
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import Browser, FilePayload, expect

from cardservice.calendar import add_years, local_today, written_date
from cardservice.cards.numbers import barcode_text
from cardservice.cards.service import CardPolicy
from cardservice.db.engine import Database
from cardservice.patrons.service import create_patron_with_card
from cardservice.profiles import load_profile
from cardservice.registration.form import parse_application
from cardservice.security.apikeys import create_api_key
from cardservice.security.passwords import hash_password
from tests.card_support import patron_from_form
from tests.e2e.support import E2E_MARKS, Phone, Server, chromium, start_server
from tests.registration_flow import FORMS, photo
from tests.web_support import STAFF_PASSWORD

pytestmark = E2E_MARKS

PROFILE = load_profile("kashiwa")
POLICY = CardPolicy.of(PROFILE)
EMAIL = "hanako@example.org"
BIRTH_DATE = "1990-04-01"
OLD_PASSWORD = "Shiori-2024!"
NEW_PASSWORD = "kashiwa reading room 2027"
# Inside Kashiwa's window: renewal opens one month before the expiry.
EXPIRES_IN_DAYS = 10
MAIL_SECONDS = 20  # the relay polls the outbox


@dataclass(frozen=True)
class Seeded:
    user_number: str
    expires_on: date
    api_key: str


async def _seed(database_url: str) -> Seeded:
    """A patron registered at Kashiwa's sample address, with a password and a card that
    expires in ``EXPIRES_IN_DAYS`` days; an API key for the counter."""
    form = parse_application(FORMS["kashiwa"], profile=PROFILE, email=EMAIL)
    db = Database(database_url)
    try:
        async with db.transaction() as session:
            card = await create_patron_with_card(
                session,
                patron_from_form(
                    form, email=EMAIL, password_hash=await hash_password(OLD_PASSWORD)
                ),
                POLICY,
            )
            card.expires_on = local_today(POLICY.timezone) + timedelta(days=EXPIRES_IN_DAYS)
            _, api_key = await create_api_key(session, "counter")
            return Seeded(card.user_number, card.expires_on, api_key)
    finally:
        await db.dispose()


@pytest.fixture
def prepared(tmp_path: Path) -> Iterator[tuple[Server, Seeded]]:
    with contextmanager(start_server)(tmp_path, profile="kashiwa") as server:
        yield server, asyncio.run(_seed(server.database_url))


def _phone(browser: Browser, server: Server) -> Phone:
    """A 390x844 touch screen; 2 device pixels per CSS pixel, as phones have (the barcode
    is read off a screenshot)."""
    context = browser.new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        locale="ja-JP",
        is_mobile=True,
        has_touch=True,
    )
    return Phone(context.new_page(), server)


def _submit(phone: Phone, action: str) -> None:
    phone.page.locator(f"form[action='{action}'] button[type=submit]").last.click()


# --- the reviewer ---------------------------------------------------------------------------


def _staff_log_in(staff: Phone) -> None:
    staff.goto("/staff/login")
    staff.page.locator("[name=username]").fill("sato")
    staff.page.locator("[name=password]").fill(STAFF_PASSWORD)
    _submit(staff, "/staff/login")
    expect(staff.page).to_have_url(f"{staff.server.url}/staff")


def _mail(staff: Phone, subject: str, *, count: int = 1) -> str:
    """The text of the newest caught email whose subject holds ``subject``, once there are
    ``count`` of them."""
    deadline = time.monotonic() + MAIL_SECONDS
    while True:
        staff.goto("/staff/mail")
        found = staff.page.locator(".items li a.subject").filter(has_text=subject)
        if found.count() >= count or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert found.count() == count, f"{found.count()} emails «{subject}», expected {count}"
    found.first.click()  # newest first
    staff.page.wait_for_load_state()
    expect(staff.page.locator("dl.headers")).to_contain_text(EMAIL)  # the registered address
    return staff.page.locator("pre.mail-text").inner_text()


def _link(text: str, path: str) -> str:
    found = re.search(rf"https?://\S+{re.escape(path)}\S*", text)
    assert found is not None, f"no link to {path} in:\n{text}"
    return found.group()


# --- the patron -----------------------------------------------------------------------------


def _forgotten_number(phone: Phone, staff: Phone, seeded: Seeded) -> None:
    page = phone.page
    phone.goto("/login")
    phone.shot("life-01-login")
    page.get_by_role("link", name="利用者番号が分からないかた").click()
    expect(page).to_have_url(f"{phone.server.url}/forgot-number")
    page.get_by_label("メールアドレス").fill(EMAIL)
    page.get_by_label("生年月日").fill(BIRTH_DATE)
    phone.shot("life-02-forgot-number")
    _submit(phone, "/forgot-number")
    expect(page).to_have_url(f"{phone.server.url}/forgot-number/sent")
    phone.shot("life-03-forgot-number-sent")

    text = _mail(staff, "利用者番号のお知らせ")
    assert seeded.user_number in text
    assert "山田 花子" in text
    staff.shot("life-04-mail-number")


def _password_reset(phone: Phone, staff: Phone, seeded: Seeded) -> None:
    page = phone.page
    phone.goto("/login")
    page.get_by_role("link", name="パスワードを忘れたかた・まだ設定していないかた").click()
    expect(page).to_have_url(f"{phone.server.url}/password/forgot")
    page.locator("#login").fill(seeded.user_number)
    phone.shot("life-05-password-forgot")
    _submit(phone, "/password/forgot")
    expect(page).to_have_url(re.compile(r"/password/forgot/sent$"))
    phone.shot("life-06-password-sent")

    link = _link(_mail(staff, "パスワード再設定のご案内"), "/password/reset/")
    page.goto(link)
    phone.shot("life-07-password-reset")
    page.locator("#new_password").fill(NEW_PASSWORD)
    page.locator("#new_password_again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="新しいパスワードを設定する").click()
    expect(page).to_have_url(f"{phone.server.url}/password/changed")
    phone.shot("life-08-password-changed")
    assert "パスワードが変更されました" in _mail(staff, "パスワードが変更されました")

    page.get_by_role("link", name="ログイン画面へ").click()
    page.locator("#login").fill(seeded.user_number)
    page.locator("#password").fill(OLD_PASSWORD)
    _submit(phone, "/login")
    expect(page.locator("#login-error")).to_be_visible()  # the old password is gone
    page.locator("#password").fill(NEW_PASSWORD)
    _submit(phone, "/login")
    expect(page).to_have_url(f"{phone.server.url}/my")
    expect(page.locator("#card .number")).to_have_text(seeded.user_number)
    phone.shot("life-09-my-library")


# --- procedures from My Library ------------------------------------------------------------


def _apply_from_my_library(phone: Phone, button: str, name: str, form: Callable[[], None]) -> None:
    """Start a procedure with its button in My Library; notes, form, one document, review,
    submit. Screenshots ``life-{name}-*``."""
    page, url = phone.page, phone.server.url
    phone.goto("/my")
    page.get_by_role("button", name=button).click()
    expect(page).to_have_url(f"{url}/apply/notes")
    phone.shot(f"life-{name}-1-notes")
    page.locator("#agree").check()
    _submit(phone, "/apply/notes")
    expect(page).to_have_url(f"{url}/apply/form")
    form()
    phone.shot(f"life-{name}-2-form")
    _submit(phone, "/apply/form")
    expect(page).to_have_url(f"{url}/apply/documents")
    page.locator("#doc_type").select_option("my_number")
    page.locator("#side-front").check()
    page.locator("#file").set_input_files(
        files=FilePayload(name="front.jpg", mimeType="image/jpeg", buffer=photo())
    )
    _submit(phone, "/apply/documents")
    expect(page.locator(".attached li")).to_have_count(1)
    phone.shot(f"life-{name}-3-documents")
    page.locator("#all-attached").get_by_role("link", name="次へ：申請内容の確認").click()
    expect(page).to_have_url(f"{url}/apply/review")
    phone.shot(f"life-{name}-4-review")
    _submit(phone, "/apply/submit")
    expect(page).to_have_url(f"{url}/apply/done")
    phone.shot(f"life-{name}-5-done")


def _approve(staff: Phone, button: str, name: str, *, done: str) -> None:
    """The only application in the queue, approved after the confirmation; the page then
    says ``done``."""
    page = staff.page
    staff.goto("/staff/queue")
    expect(page.locator(".queue-item")).to_have_count(1)
    staff.shot(f"life-{name}-6-queue")
    page.locator(".queue-item a[href^='/staff/applications/']").first.click()
    expect(page.get_by_role("button", name=button)).to_be_enabled()
    staff.shot(f"life-{name}-7-review")
    page.locator("form[action$='/approve'] input[name=confirm]").check()
    page.once("dialog", lambda dialog: dialog.accept())  # the confirmation dialog (review.js)
    page.get_by_role("button", name=button).click()
    expect(page.get_by_role("status")).to_contain_text(done)
    staff.shot(f"life-{name}-8-approved")


def _verify(phone: Phone, api_key: str, **scanned: str) -> dict[str, Any]:
    """What the counter API answers for a scanned ``barcode`` or ``token``."""
    answer = phone.page.request.post(
        f"{phone.server.url}/api/v1/verify",
        data=scanned,
        headers={"X-API-Key": api_key},
    )
    assert answer.status == 200, answer.text()
    result: dict[str, Any] = answer.json()
    return result


def _renewal(phone: Phone, staff: Phone, seeded: Seeded) -> None:
    _apply_from_my_library(phone, "更新を申請する", "renewal", lambda: None)
    received = _mail(staff, "有効期限更新の申請を受け付けました")
    assert "有効期限更新の申請を受け付けました" in received
    _approve(staff, "承認して有効期限を更新する", "renewal", done="有効期限を更新し")
    renewed = add_years(seeded.expires_on, PROFILE.card.validity_years)  # from the old expiry
    completed = _mail(staff, "有効期限更新のお知らせ")
    assert f"新しい有効期限：{written_date(renewed, 'ja')}" in completed
    phone.goto("/my")
    expect(phone.page.locator("#card .number")).to_have_text(seeded.user_number)
    expect(phone.page.locator("#card time")).to_have_attribute("datetime", renewed.isoformat())
    expect(phone.page.locator("#card time")).to_have_text(written_date(renewed, "ja"))
    expect(phone.page.locator("#applications")).to_contain_text("承認")
    phone.shot("life-renewal-9-my-library")


def _lost_card(phone: Phone, staff: Phone, seeded: Seeded) -> tuple[str, str]:
    """Report the card lost and apply for a reissue, approved: the new user number, and the
    old card's token as its QR code showed it."""
    page = phone.page

    def reason_and_acknowledgement() -> None:
        page.locator("#reissue_reason-lost").check()
        page.locator("#eloan_acknowledged").check()

    _apply_from_my_library(
        phone, "紛失の届出・再発行を申請する", "reissue", reason_and_acknowledgement
    )
    # Suspended at once: a finder cannot borrow with it while the reissue waits.
    lost = _verify(phone, seeded.api_key, barcode=seeded.user_number)
    assert (lost["status"], lost["reason"]) == ("suspended", "reported_lost")
    phone.goto("/card")
    expect(page.locator(".card-state-value")).to_have_text("利用停止中")
    expect(page.get_by_role("alert")).to_contain_text("紛失の届出があったため")
    phone.shot("life-reissue-5b-card-suspended")
    page.locator("details.card-qr:not(.card-rotating) summary").click()  # behind a tap
    ((old_token, _),) = _scanned(phone, ".card-qr-code", zxingcpp.BarcodeFormat.QRCode)
    assert _verify(phone, seeded.api_key, token=old_token)["status"] == "suspended"

    # The subject names the procedure: the renewal's acceptance came first.
    assert "再発行の申請を受け付けました" in _mail(staff, "利用カード再発行の申請")
    _approve(staff, "承認して新しい番号で再発行する", "reissue", done="新しい利用者番号")
    text = _mail(staff, "利用カード再発行のお知らせ")
    assert f"これまでの利用者番号：{seeded.user_number}" in text
    found = re.search(r"新しい利用者番号：(\d+)", text)
    assert found is not None, text
    return found.group(1), old_token


def _new_card_shown(phone: Phone, seeded: Seeded, new_number: str, old_token: str) -> None:
    """My Library and the card page show the new number, whose barcode scans; the counter
    takes the new number and answers "revoked, reissued" for the old one and its token."""
    page = phone.page
    phone.goto("/my")
    expect(page.locator("#card .number")).to_have_text(new_number)
    phone.shot("life-reissue-9a-my-library")
    shown_expiry = page.locator("#card time").get_attribute("datetime")
    assert shown_expiry is not None
    page.get_by_role("link", name="利用カード（バーコード）を表示する").click()
    expect(page).to_have_url(f"{phone.server.url}/card")
    expect(page.locator(".card-number")).to_have_text(new_number)
    expect(page.locator(".card-state-value")).to_have_text("有効")
    expect(page.locator(".card-details time")).to_have_attribute("datetime", shown_expiry)
    expected = barcode_text(POLICY.number_format, new_number)
    assert _scanned(phone, "figure.card-barcode") == [(expected, zxingcpp.BarcodeFormat.Codabar)]
    phone.shot("life-reissue-9b-card")

    assert _verify(phone, seeded.api_key, barcode=new_number)["status"] == "valid"
    for old in ({"barcode": seeded.user_number}, {"token": old_token}):
        answer = _verify(phone, seeded.api_key, **old)
        assert (answer["status"], answer["reason"]) == ("revoked", "reissued"), old


def _scanned(
    phone: Phone, where: str, formats: zxingcpp.BarcodeFormat | None = None
) -> list[tuple[str, zxingcpp.BarcodeFormat]]:
    """What a scanner reads off the screen where ``where`` (a CSS selector) is drawn, in
    ``formats`` only if given (a QR code's modules can now and then read as a Codabar)."""
    png = phone.page.locator(where).screenshot()
    with Image.open(io.BytesIO(png)) as image:
        image.load()
        found = (
            zxingcpp.read_barcodes(image)
            if formats is None
            else zxingcpp.read_barcodes(image, formats=formats)
        )
    return [(symbol.text, symbol.format) for symbol in found]


def test_a_card_life_on_a_phone(prepared: tuple[Server, Seeded]) -> None:
    server, seeded = prepared
    with chromium() as browser:
        phone = _phone(browser, server)
        staff = _phone(browser, server)
        _staff_log_in(staff)
        _forgotten_number(phone, staff, seeded)
        _password_reset(phone, staff, seeded)
        # The renewal is decided before the card is lost: a renewal still waiting when its
        # card is reported lost cannot be approved any more (the card is suspended).
        _renewal(phone, staff, seeded)
        new_number, old_token = _lost_card(phone, staff, seeded)
        _new_card_shown(phone, seeded, new_number, old_token)
    # The old password, tried on purpose, gets the login page back with 401.
    assert phone.problems == [
        f"401 {server.url}/login",
        "Failed to load resource: the server responded with a status of 401 (Unauthorized)",
    ]
    assert staff.problems == []
