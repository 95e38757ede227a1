"""A real phone browser shows the card, keeps showing it offline, and forgets it on logout.

The server runs as production would start it (uvicorn in its own process, SQLite in a fresh
data directory). The barcode is read back from a screenshot of the page with zxing-cpp, so
whatever the stylesheet does to it, the counter scanner's view is what is tested.
Screenshots go to ``test-artifacts/``. Skipped only when Debian's chromium is missing,
unless CARDSERVICE_TEST_E2E=required.
"""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, expect

from cardservice.cards.numbers import barcode_text
from cardservice.cards.service import CardPolicy
from cardservice.db.engine import Database
from cardservice.db.migrate import upgrade
from cardservice.patrons.service import NewPatron, create_patron_with_card
from cardservice.profiles import load_profile
from cardservice.security.passwords import hash_password
from tests.web_support import free_port

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "Shiori-2024!"
POLICY = CardPolicy.of(load_profile("example"))

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not CHROMIUM.exists() and os.environ.get("CARDSERVICE_TEST_E2E") != "required",
        reason="Debian's chromium is not installed (CARDSERVICE_TEST_E2E=required makes this fail)",
    ),
]


@dataclass(frozen=True)
class Server:
    url: str
    user_number: str


async def _prepare(database_url: str) -> str:
    """A patron with a password and a card; returns the user number."""
    await upgrade(database_url)
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


def _wait_until_up(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=1) as answer:  # noqa: S310  # our own local server
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the server did not start within 30 seconds")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    database_url = f"sqlite+aiosqlite:///{data_dir / 'cardservice.db'}"
    user_number = asyncio.run(_prepare(database_url))
    port = free_port()
    url = f"http://127.0.0.1:{port}"  # a secure context, as service workers need
    env = {
        **os.environ,
        "CARDSERVICE_MODE": "dev",
        "CARDSERVICE_DATA_DIR": str(data_dir),
        "CARDSERVICE_DATABASE_URL": database_url,
        "CARDSERVICE_BASE_URL": url,
        "CARDSERVICE_PROFILE": "example",
        "CARDSERVICE_MAIL_CATCHER_PORT": str(free_port()),
        "CARDSERVICE_SMTP_URL": "",
    }
    command = [sys.executable, "-m", "uvicorn", "cardservice.app:create_app", "--factory"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    process = subprocess.Popen(command, env=env, cwd=Path(__file__).resolve().parents[2])
    try:
        _wait_until_up(url, process)
        yield Server(url=url, user_number=user_number)
    finally:
        process.terminate()
        process.wait(timeout=15)


@dataclass
class Phone:
    page: Page
    server: Server
    problems: list[str]

    def shot(self, name: str) -> None:
        width = self.page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{name}: the page is {width}px wide on a 390px screen"
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    def scanned_barcode(self) -> list[tuple[str, zxingcpp.BarcodeFormat]]:
        """What a scanner reads off the screen where the barcode is drawn."""
        png = self.page.locator("figure.card-barcode").screenshot()
        with Image.open(io.BytesIO(png)) as image:
            image.load()
            found = zxingcpp.read_barcodes(image)
        return [(symbol.text, symbol.format) for symbol in found]


@pytest.fixture
def phone(server: Server) -> Iterator[Phone]:
    from playwright.sync_api import sync_playwright  # noqa: PLC0415

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(
            viewport={"width": 390, "height": 844},
            device_scale_factor=3,
            is_mobile=True,
            has_touch=True,
        )
        page = context.new_page()
        problems: list[str] = []
        # Console errors include every Content-Security-Policy violation.
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(str(error)))
        try:
            yield Phone(page, server, problems)
        finally:
            browser.close()


def _log_in(phone: Phone) -> None:
    page, url = phone.page, phone.server.url
    page.goto(f"{url}/card")
    expect(page).to_have_url(f"{url}/login?next=/card")
    phone.shot("card-01-login")
    page.get_by_label("利用者番号またはメールアドレス").fill(phone.server.user_number)
    page.get_by_label("パスワード").fill(PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    expect(page).to_have_url(f"{url}/card")


def _card_is_shown(phone: Phone, name: str) -> None:
    page = phone.page
    number = phone.server.user_number
    expect(page.locator(".card-number")).to_have_text(number)
    expect(page.locator(".card-state-value")).to_have_text("有効")
    box = page.locator("figure.card-barcode svg").bounding_box()
    assert box is not None
    assert box["width"] >= 340, box  # the barcode spans the phone's width
    expected = barcode_text(POLICY.number_format, number)
    assert phone.scanned_barcode() == [(expected, zxingcpp.BarcodeFormat.Codabar)]
    phone.shot(name)


def test_card_on_a_phone_online_offline_and_after_logout(phone: Phone) -> None:
    page, context, url = phone.page, phone.page.context, phone.server.url
    _log_in(phone)
    _card_is_shown(phone, "card-02-online")
    expect(page.locator("[data-offline-copy]")).to_be_hidden()

    # The worker installs on the first visit; the next load goes through it and saves the card.
    assert page.evaluate("navigator.serviceWorker.ready.then(r => r.active.state)") == "activated"
    page.reload()
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    assert page.evaluate("caches.open('card-v1').then(c => c.match('/card')).then(r => !!r)")

    context.set_offline(True)
    page.reload()
    expect(page.locator("[data-offline-copy]")).to_be_visible()
    _card_is_shown(phone, "card-03-offline")
    context.set_offline(False)

    page.goto(f"{url}/card")
    page.get_by_role("button", name="ログアウト").click()
    expect(page).to_have_url(f"{url}/login")
    assert page.evaluate("caches.keys()") == []
    assert phone.problems == []
    context.set_offline(True)
    with pytest.raises(PlaywrightError, match="ERR_INTERNET_DISCONNECTED"):
        page.goto(f"{url}/card")  # nothing was kept on the phone
