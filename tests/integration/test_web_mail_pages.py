"""The mail catcher pages read what the real built-in catcher received; failed mail is retried."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from email.message import EmailMessage

import aiosmtplib
import pytest
from sqlalchemy import select

from cardservice.mail import MailStatus, OutboxRow, OutgoingMail, enqueue
from cardservice.mail.letterhead import Letterhead
from cardservice.services import Services
from cardservice.settings import Settings
from cardservice.staff.models import AuditEntry
from cardservice.web.staff_mail import linkify
from tests.web_support import (
    Client,
    form_token,
    login,
    make_staff,
    web_client,
    with_free_catcher_port,
)

LINK = "https://cards.example.org/register/verify?t=AbC123"


@pytest.fixture
def web_settings(services: Services) -> Settings:
    return with_free_catcher_port(services.settings)


@pytest.fixture
async def client(services: Services, web_settings: Settings) -> AsyncIterator[Client]:
    """The app with its mail background: the relay, and the catcher on its own port."""
    await make_staff(services)
    async with web_client(web_settings) as running:
        await login(running)
        yield running


async def send(settings: Settings, subject: str, text: str, html: str = "") -> None:
    message = EmailMessage()
    message["From"] = "横浜市立みなと図書館 <library@example.org>"
    message["To"] = "hanako@example.org"
    message["Subject"] = subject
    message.set_content(text)
    if html:
        message.add_alternative(html, subtype="html")
    await aiosmtplib.send(
        message, hostname="127.0.0.1", port=settings.mail_catcher_port, start_tls=False
    )


def _mail_ids(html: str) -> list[int]:
    return [int(found) for found in re.findall(r'href="/staff/mail/(\d+)"', html)]


async def test_caught_mail_is_listed_newest_first(client: Client, web_settings: Settings) -> None:
    await send(web_settings, "メールアドレスの確認", f"こちらから：{LINK}\n")
    await send(web_settings, "<script>alert(1)</script>", "本文")
    page = await client.get("/staff/mail")
    assert page.status_code == 200
    assert "hanako@example.org" in page.text
    assert page.text.index("&lt;script&gt;alert(1)&lt;/script&gt;") < page.text.index(
        "メールアドレスの確認"
    )
    assert "<script>" not in page.text
    newest, oldest = _mail_ids(page.text)
    assert newest > oldest


async def test_a_caught_mail_shows_its_links_and_sandboxes_its_html(
    client: Client, web_settings: Settings
) -> None:
    html = f'<p><a href="{LINK}">確認する</a></p><script>parent.evil()</script>'
    await send(web_settings, "メールアドレスの確認", f"こちらから：{LINK}\nよろしく", html)
    (mail_id,) = _mail_ids((await client.get("/staff/mail")).text)

    detail = await client.get(f"/staff/mail/{mail_id}")
    assert detail.status_code == 200
    assert "library@example.org" in detail.text
    link = LINK.replace("&", "&amp;")
    assert f'こちらから：<a href="{link}">{link}</a>' in detail.text
    assert "parent.evil" not in detail.text  # the HTML is never inlined
    assert f'<iframe class="mail-html" sandbox src="/staff/mail/{mail_id}/html"' in detail.text

    body = await client.get(f"/staff/mail/{mail_id}/html")
    assert body.status_code == 200
    assert body.headers["content-type"] == "text/html; charset=utf-8"  # the charset once
    policy = body.headers["content-security-policy"]
    assert policy.startswith("sandbox;")
    assert "default-src 'none'" in policy
    assert "frame-ancestors 'self'" in policy
    assert body.headers["x-frame-options"] == "SAMEORIGIN"
    assert "parent.evil()" in body.text  # served as it came, but it cannot run


async def test_unknown_caught_mail_is_a_404_page(client: Client) -> None:
    response = await client.get("/staff/mail/424242")
    assert response.status_code == 404
    assert "<code>mail_not_found</code>" in response.text
    assert "該当するメールはありません。" in response.text


async def test_no_catcher_pages_with_a_real_mail_server(services: Services) -> None:
    await make_staff(services)
    settings = with_free_catcher_port(services.settings, smtp_url="smtp://127.0.0.1:1")
    async with web_client(settings, mail=False) as client:
        await login(client)
        assert (await client.get("/staff/mail")).status_code == 404
        assert 'href="/staff/mail"' not in (await client.get("/staff")).text


async def _failed_mail(services: Services) -> int:
    mail = OutgoingMail(
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
    async with services.db.transaction() as session:
        row = await enqueue(session, mail)
        row.status = MailStatus.FAILED
        row.attempts = 8
        row.last_error = "550 mailbox unavailable"
    return row.id


@pytest.fixture
async def quiet_client(services: Services) -> AsyncIterator[Client]:
    """Without the relay, so a retried message stays queued for the test to see."""
    await make_staff(services)
    async with web_client(with_free_catcher_port(services.settings), mail=False) as running:
        await login(running)
        yield running


async def test_failed_mail_is_listed_and_can_be_retried(
    quiet_client: Client, services: Services
) -> None:
    mail_id = await _failed_mail(services)
    page = await quiet_client.get("/staff/outbox/failed")
    assert page.status_code == 200
    assert "hanako@example.org" in page.text
    assert "550 mailbox unavailable" in page.text
    assert "送信を8回試行" in page.text
    assert f'action="/staff/outbox/{mail_id}/retry"' in page.text

    token = await form_token(quiet_client, "/staff/outbox/failed")
    retried = await quiet_client.post(f"/staff/outbox/{mail_id}/retry", data={"_csrf_token": token})
    assert retried.status_code == 303
    assert retried.headers["location"] == f"/staff/outbox/failed?retried={mail_id}"
    after = await quiet_client.get(retried.headers["location"])
    assert f"メール {mail_id} を再送信の待ち行列に入れました。" in after.text
    assert "550 mailbox unavailable" not in after.text

    async with services.db.transaction() as session:
        row = await session.get(OutboxRow, mail_id)
        audit = await session.scalar(select(AuditEntry).where(AuditEntry.action == "mail.retry"))
    assert row is not None
    assert (row.status, row.attempts) == (MailStatus.PENDING, 0)
    assert audit is not None
    assert audit.target_id == str(mail_id)

    again = await quiet_client.post(f"/staff/outbox/{mail_id}/retry", data={"_csrf_token": token})
    assert again.status_code == 409
    assert "<code>mail_not_failed</code>" in again.text


async def test_retry_needs_the_csrf_token(quiet_client: Client, services: Services) -> None:
    mail_id = await _failed_mail(services)
    refused = await quiet_client.post(f"/staff/outbox/{mail_id}/retry")
    assert refused.status_code == 403
    async with services.db.transaction() as session:
        row = await session.get(OutboxRow, mail_id)
    assert row is not None
    assert row.status == MailStatus.FAILED


async def test_a_retried_mail_reaches_the_catcher(client: Client, services: Services) -> None:
    """The whole loop in dev: retry on the page, the relay sends, the catcher shows it."""
    mail_id = await _failed_mail(services)
    token = await form_token(client, "/staff/outbox/failed")
    await client.post(f"/staff/outbox/{mail_id}/retry", data={"_csrf_token": token})
    for _ in range(100):
        async with services.db.transaction() as session:
            row = await session.get(OutboxRow, mail_id)
        if row is not None and row.status == MailStatus.SENT:
            break
        await asyncio.sleep(0.1)
    page = await client.get("/staff/mail")
    assert row is not None
    assert row.subject in page.text


def test_linkify_cuts_text_around_links() -> None:
    text = f"前{LINK}。後 {LINK}/more"
    pieces = linkify(text, [LINK, f"{LINK}/more"])
    assert pieces == [("前", False), (LINK, True), ("。後 ", False), (f"{LINK}/more", True)]
    assert linkify("no links", []) == [("no links", False)]
