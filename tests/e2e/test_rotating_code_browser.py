"""The changing card code in a real phone browser: the page makes its WebCrypto key, binds
it, and draws a QR code that zxing-cpp reads back from a screenshot; the counter API accepts
it once and refuses its replay; with the network gone, the saved page still signs codes
that the library's key and the phone's key verify (cards.device_proof)."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import expect

from cardservice.cards.device_proof import verify_rotating_code
from cardservice.cards.keys import Keyring
from cardservice.cards.tokens import CardTokenVerifier
from cardservice.db.engine import Database
from cardservice.security.apikeys import create_api_key
from tests.e2e.support import E2E_MARKS, Phone, Server, chromium, phone_context, start_server
from tests.e2e.test_card_browser import _add_patron, _log_in

pytestmark = E2E_MARKS


async def _api_key(database_url: str) -> str:
    db = Database(database_url)
    try:
        async with db.transaction() as session:
            _, plain = await create_api_key(session, "counter")
        return plain
    finally:
        await db.dispose()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    yield from start_server(tmp_path)


def _shown_code(phone: Phone) -> str:
    page = phone.page
    section = page.locator("details[data-rotating]")
    expect(section).to_be_visible()
    if section.get_attribute("open") is None:
        section.locator("summary").click()
    qr = page.locator("[data-rotating-qr] svg")
    expect(qr).to_be_visible()
    expect(page.locator("[data-rotating-countdown]")).to_contain_text("秒で新しいコード")
    code = page.locator("[data-rotating-qr]").get_attribute("data-code")
    assert code is not None
    return code


def _scanned(phone: Phone) -> list[str]:
    png = phone.page.locator("[data-rotating-qr]").screenshot()
    with Image.open(io.BytesIO(png)) as image:
        image.load()
        found = zxingcpp.read_barcodes(image)
    return [symbol.text for symbol in found if symbol.format == zxingcpp.BarcodeFormat.QRCode]


def test_the_changing_code_verifies_once_and_is_made_offline_too(
    server: Server, tmp_path: Path
) -> None:
    number = asyncio.run(_add_patron(server.database_url))
    key = asyncio.run(_api_key(server.database_url))
    keyring = Keyring.load_or_create(tmp_path / "data" / "keys", now=datetime.now(UTC))
    tokens = CardTokenVerifier(keyring, issuer=server.url, audience="library-card")
    with chromium() as browser:
        phone = Phone(phone_context(browser).new_page(), server)
        page = phone.page
        _log_in(phone, number)
        code = _shown_code(phone)
        assert _scanned(phone) == [code]
        phone.shot("card-rotating-01")
        assert len(code) < 1000
        verify = f"{server.url}/api/v1/verify"
        first = httpx.post(verify, json={"token": code}, headers={"X-API-Key": key}).json()
        assert (first["status"], first["user_number"]) == ("valid", number)
        again = httpx.post(verify, json={"token": code}, headers={"X-API-Key": key}).json()
        assert (again["status"], again["reason"]) == ("invalid", "device_proof_replayed")

        # The saved page, with no network: the key and the bound token are on the phone.
        page.reload()
        page.wait_for_function("navigator.serviceWorker.controller !== null")
        page.context.set_offline(True)
        page.reload()
        expect(page.locator("[data-offline-copy]")).to_be_visible()
        offline = _shown_code(phone)
        assert offline.split("~")[0] == code.split("~")[0]  # the same bound token
        proven = verify_rotating_code(offline, tokens)
        assert proven.claims.user_number == number
        page.context.set_offline(False)
        assert phone.problems == []
