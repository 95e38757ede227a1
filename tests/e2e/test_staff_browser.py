"""A real browser against the real server: staff log in on a phone-sized screen and read mail.

The server runs as production would start it (uvicorn, its own process, a fresh data
directory with SQLite), with the built-in mail catcher on a free port. Screenshots go to
``test-artifacts/`` for a person to look at. Skipped only when Debian's chromium is missing,
unless CARDSERVICE_TEST_E2E=required.
"""

from __future__ import annotations

import asyncio
import os
import smtplib
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from cardservice.db.engine import Database
from cardservice.db.migrate import upgrade
from cardservice.mail import MailStatus, OutgoingMail, enqueue
from cardservice.staff.models import Role
from cardservice.staff.service import create_staff
from tests.web_support import STAFF_PASSWORD, free_port

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
    catcher_port: int


async def _prepare(database_url: str) -> None:
    """A reviewer, and one email the relay gave up on."""
    await upgrade(database_url)
    db = Database(database_url)
    rejected = OutgoingMail(
        "hanako@example.org",
        "application_rejected",
        "ja",
        {"name": "山田 花子", "reason": "書類が不鮮明です", "library_name": "みなと市立図書館"},
    )
    try:
        async with db.transaction() as session:
            await create_staff(
                session, "sato", STAFF_PASSWORD, Role.REVIEWER, display_name="佐藤 花子"
            )
            row = await enqueue(session, rejected)
            row.status, row.attempts = MailStatus.FAILED, 8
            row.last_error = "550 5.1.1 mailbox unavailable"
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
    asyncio.run(_prepare(database_url))
    port, catcher_port = free_port(), free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "CARDSERVICE_MODE": "dev",
        "CARDSERVICE_DATA_DIR": str(data_dir),
        "CARDSERVICE_DATABASE_URL": database_url,
        "CARDSERVICE_BASE_URL": url,
        "CARDSERVICE_MAIL_CATCHER_PORT": str(catcher_port),
        "CARDSERVICE_SMTP_URL": "",
    }
    command = [sys.executable, "-m", "uvicorn", "cardservice.app:create_app", "--factory"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    process = subprocess.Popen(command, env=env, cwd=Path(__file__).resolve().parents[2])
    try:
        _wait_until_up(url, process)
        yield Server(url=url, catcher_port=catcher_port)
    finally:
        process.terminate()
        process.wait(timeout=15)


def _send_verification_mail(server: Server) -> str:
    link = f"{server.url}/?lang=en&t=AbC123"
    message = EmailMessage()
    message["From"] = "みなと市立図書館 <library@example.org>"
    message["To"] = "hanako@example.org"
    message["Subject"] = "メールアドレスの確認 / Confirm your email address"
    message.set_content(f"次のリンクから申込を続けてください：{link}\n\nみなと市立図書館\n")
    message.add_alternative(
        f'<p>次のリンクから申込を続けてください。</p><p><a href="{link}">申込を続ける</a></p>',
        subtype="html",
    )
    # The standard library's client: playwright's sync API owns this thread's event loop.
    with smtplib.SMTP("127.0.0.1", server.catcher_port, timeout=10) as smtp:
        smtp.send_message(message)
    return link


class Phone:
    """A 390x844 phone screen that records every console error, page error and HTTP error."""

    def __init__(self, page: Page, server: Server) -> None:
        self.page = page
        self.server = server
        self.problems: list[str] = []
        # Console errors include every Content-Security-Policy violation.
        page.on("console", lambda m: self.problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda error: self.problems.append(str(error)))
        page.on(
            "response",
            lambda r: self.problems.append(f"{r.status} {r.url}") if r.status >= 400 else None,
        )

    def goto(self, path: str) -> None:
        self.page.goto(f"{self.server.url}{path}")

    def shot(self, name: str) -> None:
        width = self.page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{name}: the page is {width}px wide on a 390px screen"
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest.fixture
def phone(server: Server) -> Iterator[Phone]:
    from playwright.sync_api import sync_playwright  # noqa: PLC0415

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(
            viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
        )
        try:
            yield Phone(context.new_page(), server)
        finally:
            browser.close()


def _log_in(phone: Phone) -> None:
    page = phone.page
    phone.goto("/staff")
    expect(page).to_have_url(f"{phone.server.url}/staff/login?next=%2Fstaff")
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    phone.shot("staff-01-login")

    page.get_by_label("ユーザー名").fill("sato")
    page.get_by_label("パスワード").fill("not-the-password")
    page.get_by_role("button", name="ログイン").click()
    expect(page.get_by_role("alert")).to_contain_text("正しくありません")
    phone.shot("staff-02-login-error")

    page.get_by_label("パスワード").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    expect(page).to_have_url(f"{phone.server.url}/staff")
    expect(page.get_by_role("heading", level=1)).to_have_text("職員ホーム")
    phone.shot("staff-03-home")


def _read_caught_mail(phone: Phone, link: str) -> None:
    page = phone.page
    page.get_by_role("link", name="メールキャッチャー（開発用）").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("メールキャッチャー")
    phone.shot("staff-04-mail-list")

    page.get_by_role("link", name="メールアドレスの確認 / Confirm your email address").click()
    expect(page.locator("pre.mail-text a")).to_have_attribute("href", link)
    expect(page.frame_locator("iframe.mail-html").get_by_text("申込を続ける")).to_be_visible()
    phone.shot("staff-05-mail-detail")

    page.locator("pre.mail-text a").click()  # the link in the mail opens the service
    expect(page).to_have_url(link)
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text("Library card online")
    phone.shot("home-en")


def _retry_failed_mail(phone: Phone) -> None:
    page = phone.page
    phone.goto("/staff/outbox/failed")  # in English now: the language cookie stays
    expect(page.get_by_text("550 5.1.1 mailbox unavailable")).to_be_visible()
    phone.shot("staff-06-failed-mail")
    page.get_by_role("button", name="Send again").click()
    expect(page.get_by_role("status")).to_contain_text("queued again")
    expect(page.get_by_text("No failed emails.")).to_be_visible()
    phone.shot("staff-07-failed-mail-retried")


def _wait_for_caught(phone: Phone, count: int, seconds: float = 15) -> None:
    """The relay polls every few seconds; reload the catcher until the mail is there."""
    deadline = time.monotonic() + seconds
    while True:
        phone.goto("/staff/mail")
        found = phone.page.locator(".items li").count()
        if found >= count or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert found == count


def test_staff_log_in_and_work_with_mail_on_a_phone(phone: Phone) -> None:
    link = _send_verification_mail(phone.server)
    _log_in(phone)
    _read_caught_mail(phone, link)
    _retry_failed_mail(phone)
    _wait_for_caught(phone, 2)
    phone.page.get_by_role("button", name="Log out").click()
    expect(phone.page).to_have_url(f"{phone.server.url}/staff/login")
    assert phone.problems == []
