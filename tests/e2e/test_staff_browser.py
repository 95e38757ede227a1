"""A real browser against the real server: staff log in on a phone-sized screen and read mail.

The server runs as production would start it (see ``support.py``). Screenshots go to
``test-artifacts/`` for a person to look at.
"""

from __future__ import annotations

import asyncio
import smtplib
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from playwright.sync_api import expect

from cardservice.db.engine import Database
from cardservice.mail import MailStatus, OutgoingMail, enqueue
from cardservice.mail.letterhead import Letterhead
from tests.e2e.support import E2E_MARKS, Phone, Server, chromium, phone_context, start_server
from tests.web_support import STAFF_PASSWORD

pytestmark = E2E_MARKS


async def _prepare(database_url: str) -> None:
    """One email the relay gave up on."""
    db = Database(database_url)
    rejected = OutgoingMail(
        "hanako@example.org",
        "application_rejected",
        "ja",
        {
            "name": "山田 花子",
            "procedure": "new",
            "reason": "書類が不鮮明です",
            "reinstated_number": "",
            "library": Letterhead(name="横浜市立みなと図書館", email="library@example.org"),
        },
    )
    try:
        async with db.transaction() as session:
            row = await enqueue(session, rejected)
            row.status, row.attempts = MailStatus.FAILED, 8
            row.last_error = "550 5.1.1 mailbox unavailable"
    finally:
        await db.dispose()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    started = start_server(tmp_path)
    server = next(started)
    asyncio.run(_prepare(server.database_url))
    yield server
    started.close()


def _send_verification_mail(server: Server) -> str:
    link = f"{server.url}/?lang=en&t=AbC123"
    message = EmailMessage()
    message["From"] = "横浜市立みなと図書館 <library@example.org>"
    message["To"] = "hanako@example.org"
    message["Subject"] = "メールアドレスの確認 / Confirm your email address"
    message.set_content(f"次のリンクから申込を続けてください：{link}\n\n横浜市立みなと図書館\n")
    message.add_alternative(
        f'<p>次のリンクから申込を続けてください。</p><p><a href="{link}">申込を続ける</a></p>',
        subtype="html",
    )
    # The standard library's client: playwright's sync API owns this thread's event loop.
    with smtplib.SMTP("127.0.0.1", server.catcher_port, timeout=10) as smtp:
        smtp.send_message(message)
    return link


@pytest.fixture
def phone(server: Server) -> Iterator[Phone]:
    with chromium() as browser:
        yield Phone(phone_context(browser).new_page(), server)


def _log_in(phone: Phone) -> None:
    page = phone.page
    phone.goto("/staff")
    expect(page).to_have_url(f"{phone.server.url}/staff/login?next=%2Fstaff")
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    phone.shot("staff-01-login")

    page.get_by_label("ユーザー名").fill("sato")
    page.get_by_label("パスワード").fill("not-the-password")
    page.get_by_role("button", name="ログイン").click()
    expect(page.get_by_role("alert")).to_contain_text("パスワードが正しくないか")
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
