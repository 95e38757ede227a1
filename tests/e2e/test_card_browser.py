"""A real phone browser shows the card, keeps showing it offline, and forgets it on logout.

The server runs as production would start it (see ``support.py``). The barcode is read back
from a screenshot of the page with zxing-cpp, so whatever the stylesheet does to it, the
counter scanner's view is what is tested. Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from cardservice.cards.numbers import barcode_text
from cardservice.cards.service import CardPolicy
from cardservice.db.engine import Database
from cardservice.patrons.service import NewPatron, create_patron_with_card
from cardservice.profiles import load_profile
from cardservice.security.passwords import hash_password
from tests.e2e.support import E2E_MARKS, Phone, Server, chromium, start_server

PASSWORD = "Shiori-2024!"
POLICY = CardPolicy.of(load_profile("example"))

pytestmark = E2E_MARKS


async def _add_patron(database_url: str) -> str:
    """A patron with a password and a card; returns the user number."""
    db = Database(database_url)
    try:
        async with db.transaction() as session:
            card = await create_patron_with_card(
                session,
                NewPatron(
                    family_name="山田",
                    given_name="花子",
                    family_kana="やまだ",
                    given_kana="はなこ",
                    birth_date=date(1990, 4, 1),
                    email="hanako@example.org",
                    password_hash=await hash_password(PASSWORD),
                ),
                POLICY,
            )
            return card.user_number
    finally:
        await db.dispose()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    yield from start_server(tmp_path)  # http://127.0.0.1: a secure context for service workers


@pytest.fixture
def user_number(server: Server) -> str:
    return asyncio.run(_add_patron(server.database_url))


@pytest.fixture
def phone(server: Server, user_number: str) -> Iterator[Phone]:
    """The patron exists before the browser starts (Playwright's sync API owns the loop)."""
    del user_number
    with chromium() as browser:
        context = browser.new_context(
            viewport={"width": 390, "height": 844},
            device_scale_factor=3,
            is_mobile=True,
            has_touch=True,
        )
        yield Phone(context.new_page(), server)


def scanned_barcode(phone: Phone) -> list[tuple[str, zxingcpp.BarcodeFormat]]:
    """What a scanner reads off the screen where the barcode is drawn."""
    png = phone.page.locator("figure.card-barcode").screenshot()
    with Image.open(io.BytesIO(png)) as image:
        image.load()
        found = zxingcpp.read_barcodes(image)
    return [(symbol.text, symbol.format) for symbol in found]


def _log_in(phone: Phone, user_number: str) -> None:
    page, url = phone.page, phone.server.url
    page.goto(f"{url}/card")
    expect(page).to_have_url(f"{url}/login?next=/card")
    phone.shot("card-01-login")
    page.get_by_label("利用者番号またはメールアドレス").fill(user_number)
    page.get_by_label("パスワード").fill(PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    expect(page).to_have_url(f"{url}/card")


def _card_is_shown(phone: Phone, number: str, name: str) -> None:
    page = phone.page
    expect(page.locator(".card-number")).to_have_text(number)
    expect(page.locator(".card-state-value")).to_have_text("有効")
    box = page.locator("figure.card-barcode svg").bounding_box()
    assert box is not None
    assert box["width"] >= 340, box  # the barcode spans the phone's width
    expected = barcode_text(POLICY.number_format, number)
    assert scanned_barcode(phone) == [(expected, zxingcpp.BarcodeFormat.Codabar)]
    phone.shot(name)


def test_card_on_a_phone_online_offline_and_after_logout(phone: Phone, user_number: str) -> None:
    page, context, url = phone.page, phone.page.context, phone.server.url
    _log_in(phone, user_number)
    _card_is_shown(phone, user_number, "card-02-online")
    expect(page.locator("[data-offline-copy]")).to_be_hidden()

    # The worker installs on the first visit; the next load goes through it and saves the card.
    assert page.evaluate("navigator.serviceWorker.ready.then(r => r.active.state)") == "activated"
    page.reload()
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    assert page.evaluate("caches.open('card-v1').then(c => c.match('/card')).then(r => !!r)")

    context.set_offline(True)
    page.reload()
    expect(page.locator("[data-offline-copy]")).to_be_visible()
    _card_is_shown(phone, user_number, "card-03-offline")
    context.set_offline(False)

    page.goto(f"{url}/card")
    page.get_by_role("button", name="ログアウト").click()
    expect(page).to_have_url(f"{url}/login")
    assert page.evaluate("caches.keys()") == []
    assert phone.problems == []
    context.set_offline(True)
    with pytest.raises(PlaywrightError, match="ERR_INTERNET_DISCONNECTED"):
        page.goto(f"{url}/card")  # nothing was kept on the phone
