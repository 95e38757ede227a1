"""The card page reads like a card on a phone: the library's name and colours, the status in
words, the expiry in Japanese, the barcode as the largest thing on the page and readable
from a screenshot at 1x as at 3x, the QR code behind a tap, and the wallet buttons of the
wallets the library has configured (both here: Apple's with the development certificate
chain; ``test_web_card_wallets.py`` shows that an unconfigured wallet is not mentioned).

Screenshots go to ``test-artifacts/card-face-*.png``.
"""

from __future__ import annotations

import asyncio
import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import Browser, Page, expect

from cardservice.cards.numbers import barcode_text
from cardservice.passkit.dev import DEV_PASS_TYPE_ID, DEV_TEAM_ID, write_dev_chain
from cardservice.passkit.paths import APPLE_PASS_PATH
from cardservice.profiles import load_profile
from passes.google import SAVE_URL
from tests.e2e.support import ARTIFACTS, E2E_MARKS, Phone, Server, chromium, start_server
from tests.e2e.test_card_browser import PASSWORD, POLICY, _add_patron
from tests.google_wallet_support import ISSUER_ID, write_key_file

pytestmark = E2E_MARKS

PROFILE = load_profile("example")
# The signed card token's QR code (the changing code of ``_rotating.html`` is another).
SIGNED_QR = "details.card-qr:not(.card-rotating) .card-qr-code"


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    monkeypatch.setenv("CARDSERVICE_GOOGLE_WALLET_ISSUER_ID", ISSUER_ID)
    monkeypatch.setenv("CARDSERVICE_GOOGLE_WALLET_KEY_FILE", str(write_key_file(tmp_path)))
    for name, value in write_dev_chain(tmp_path / "apple", DEV_PASS_TYPE_ID, DEV_TEAM_ID).items():
        monkeypatch.setenv(name, value)
    yield from start_server(tmp_path)


def _phone(browser: Browser, server: Server, scale: int, state: Path | None = None) -> Phone:
    context = browser.new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=scale,
        is_mobile=True,
        has_touch=True,
        storage_state=state,
    )
    return Phone(context.new_page(), server)


def _log_in(phone: Phone, user_number: str) -> None:
    page = phone.page
    phone.goto("/login?next=/card")
    page.get_by_label("利用者番号またはメールアドレス").fill(user_number)
    page.get_by_label("パスワード").fill(PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    expect(page).to_have_url(f"{phone.server.url}/card")


def _screen_codes(page: Page, name: str) -> list[tuple[str, zxingcpp.BarcodeFormat]]:
    """Every code zxing-cpp finds on a screenshot of the whole page, as a phone would save it."""
    png = page.screenshot(full_page=True, path=str(ARTIFACTS / f"{name}.png"))
    with Image.open(io.BytesIO(png)) as image:
        image.load()
        found = zxingcpp.read_barcodes(image)
    return [(symbol.text, symbol.format) for symbol in found]


def _area(page: Page, selector: str) -> float:
    box = page.locator(selector).bounding_box()
    assert box is not None, selector
    return box["width"] * box["height"]


def _card_reads_like_a_card(phone: Phone, user_number: str, scale: int) -> None:
    page = phone.page
    phone.goto("/card")
    card = page.locator("section.library-card")
    expect(card.locator(".card-library-name")).to_have_text(PROFILE.library.name.ja)
    expect(card.locator(".card-kind")).to_have_text("利用カード")
    expect(card.locator(".card-state-value")).to_have_text("有効")
    expect(card.locator(".card-details time")).to_have_text(
        re.compile(r"^\d{4}年\d{1,2}月\d{1,2}日$")
    )
    # The profile's colours reach the card (through /card/colours.css, as the CSP wants).
    background = card.evaluate("e => getComputedStyle(e).backgroundColor")
    assert background == "rgb(11, 79, 156)"  # example.toml: #0b4f9c
    expect(page.locator(".brightness-hint")).to_be_visible()

    # The QR code waits behind a tap; the barcode is the largest thing on the page.
    expect(page.locator(SIGNED_QR)).to_be_hidden()
    barcode = _area(page, "figure.card-barcode svg")
    for other in ("button", "a.wallet-button", ".card-head"):
        for index in range(page.locator(other).count()):
            box = page.locator(other).nth(index).bounding_box()
            assert box is None or box["width"] * box["height"] < barcode, other

    expected = barcode_text(POLICY.number_format, user_number)
    codes = _screen_codes(page, f"card-face-{scale}x")
    assert codes == [(expected, zxingcpp.BarcodeFormat.Codabar)], (scale, codes)

    google = page.get_by_role("link", name="Google ウォレットに追加")
    href = google.get_attribute("href")
    assert href is not None
    assert href.startswith(SAVE_URL)
    apple = page.get_by_role("link", name="Apple Walletに追加")
    expect(apple).to_have_attribute("href", APPLE_PASS_PATH)


def test_card_face_at_1x_and_3x(server: Server, tmp_path: Path) -> None:
    user_number = asyncio.run(_add_patron(server.database_url))
    state = tmp_path / "state.json"
    with chromium() as browser:
        sharp = _phone(browser, server, 3)
        _log_in(sharp, user_number)
        sharp.page.context.storage_state(path=str(state))
        _card_reads_like_a_card(sharp, user_number, 3)

        # The QR code shows on a tap, and reads.
        sharp.page.locator("details.card-qr:not(.card-rotating) summary").click()
        expect(sharp.page.locator(SIGNED_QR)).to_be_visible()
        png = sharp.page.locator(SIGNED_QR).screenshot()
        with Image.open(io.BytesIO(png)) as image:
            image.load()
            [qr] = zxingcpp.read_barcodes(image)
        assert qr.format == zxingcpp.BarcodeFormat.QRCode
        sharp.shot("card-face-3x-qr-open")

        download = sharp.page.request.get(f"{server.url}{APPLE_PASS_PATH}")
        assert download.headers["content-type"] == "application/vnd.apple.pkpass"

        # My Library offers the same buttons beside "show my card".
        sharp.goto("/my")
        expect(
            sharp.page.locator("#card").get_by_role("link", name="Google ウォレットに追加")
        ).to_be_visible()
        sharp.shot("card-face-my-library")
        assert sharp.problems == []

        plain = _phone(browser, server, 1, state)
        _card_reads_like_a_card(plain, user_number, 1)
        assert plain.problems == []
