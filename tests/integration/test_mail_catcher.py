"""The built-in mail catcher stores what it receives, so a person can follow the links."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from datetime import date
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import msgspec
import pytest

from cardservice.db.engine import Database
from cardservice.db.migrate import upgrade
from cardservice.errors import ConfigurationError
from cardservice.mail import (
    CaughtMail,
    MailCatcher,
    MailNotFound,
    MailRelay,
    MailStatus,
    OutboxRow,
    OutgoingMail,
    enqueue,
    extract_links,
    get_caught,
    list_caught,
    mail_background,
    uses_catcher,
)
from cardservice.mail.catcher import CatcherUnavailable, effective_smtp_url
from cardservice.mail.letterhead import letterhead
from cardservice.profiles import load_profile
from cardservice.services import Services
from cardservice.settings import Settings
from tests.unit.mail.support import free_port

LINK = "https://cards.example.org/register/verify?t=AbC123"


@pytest.fixture
async def catcher(services: Services) -> AsyncIterator[MailCatcher]:
    async with MailCatcher(services.db, port=free_port()) as running:
        yield running


async def test_caught_message_is_stored_with_its_subject_decoded(
    services: Services, catcher: MailCatcher
) -> None:
    message = EmailMessage()
    message["From"] = "横浜市立みなと図書館 <library@example.org>"
    message["To"] = "hanako@example.org"
    message["Subject"] = "登録完了のお知らせ"
    message.set_content(f"こちらから：{LINK}\n")
    message.add_alternative(f'<p><a href="{LINK}">カード</a></p>', subtype="html")
    await aiosmtplib.send(message, hostname="127.0.0.1", port=catcher.port, start_tls=False)

    async with services.db.transaction() as session:
        (caught,) = await list_caught(session, limit=10)
        again = await get_caught(session, caught.id)
    assert again.id == caught.id
    assert caught.subject == "登録完了のお知らせ"
    assert caught.mail_from == "library@example.org"
    assert caught.recipients == ["hanako@example.org"]
    assert "こちらから" in caught.body_text
    assert f'href="{LINK}"' in caught.body_html
    assert b"Subject: =?utf-8?" in caught.raw
    assert extract_links(caught) == [LINK]


async def test_unknown_caught_mail(services: Services) -> None:
    async with services.db.transaction() as session:
        with pytest.raises(MailNotFound):
            await get_caught(session, 4242)


async def test_relay_delivers_to_the_catcher_in_dev(services: Services) -> None:
    settings = msgspec.structs.replace(services.settings, mail_catcher_port=free_port())
    assert uses_catcher(settings)
    mail = OutgoingMail(
        "hanako@example.org",
        "verify_email",
        "ja",
        {
            "link": LINK,
            "expires_hours": 24,
            "library": letterhead(settings.profile, "ja"),
        },
    )
    async with services.db.transaction() as session:
        queued = await enqueue(session, mail)

    async with MailCatcher.from_settings(services.db, settings):
        assert await MailRelay.from_settings(services.db, settings).run_once() == 1

    async with services.db.transaction() as session:
        (caught,) = await list_caught(session)
        row = await session.get(OutboxRow, queued.id)
    assert row is not None
    assert row.status == MailStatus.SENT
    assert caught.subject == row.subject
    assert caught.mail_from == settings.profile.library.sender_email
    # The link to follow, then the library's web site from the signature.
    assert extract_links(caught) == [LINK, settings.profile.library.url]


async def test_newest_first_and_limited(services: Services, catcher: MailCatcher) -> None:
    for number in range(3):
        message = EmailMessage()
        message["From"] = "library@example.org"
        message["To"] = "hanako@example.org"
        message["Subject"] = f"No. {number}"
        message.set_content("本文")
        await aiosmtplib.send(message, hostname="127.0.0.1", port=catcher.port, start_tls=False)
    async with services.db.transaction() as session:
        caught = await list_caught(session, limit=2)
    assert [mail.subject for mail in caught] == ["No. 2", "No. 1"]
    assert caught[0].body_html == ""


async def test_a_message_that_cannot_be_stored_is_not_acknowledged(tmp_path: Path) -> None:
    # A database without the tables: the write fails, so the sender must keep the message.
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    message = EmailMessage()
    message["From"] = "library@example.org"
    message["To"] = "hanako@example.org"
    message["Subject"] = "lost?"
    message.set_content("body")
    try:
        async with MailCatcher(database, port=free_port()) as catcher:
            with pytest.raises(aiosmtplib.SMTPDataError) as refused:
                await aiosmtplib.send(
                    message, hostname="127.0.0.1", port=catcher.port, start_tls=False
                )
    finally:
        await database.dispose()
    assert refused.value.code == 451


async def test_background_runs_catcher_and_relay_in_dev(services: Services) -> None:
    settings = msgspec.structs.replace(services.settings, mail_catcher_port=free_port())
    mail = OutgoingMail(
        "hanako@example.org",
        "application_cancelled",
        "en",
        {
            "name": "Hanako Yamada",
            "procedure": "new",
            "answer_by": date(2026, 12, 1),
            "library": letterhead(settings.profile, "en"),
        },
    )
    async with services.db.transaction() as session:
        await enqueue(session, mail)
    async with mail_background(services.db, settings):
        caught = await _wait_for_caught(services)
    library = settings.profile.library.name.en
    assert caught.subject == f"[{library}] Your library card application has been cancelled"
    assert "answer to our question by 1 December 2026." in caught.body_text


async def _wait_for_caught(services: Services) -> CaughtMail:
    for _ in range(100):
        async with services.db.transaction() as session:
            found = await list_caught(session, limit=1)
        if found:
            return found[0]
        await asyncio.sleep(0.05)
    raise AssertionError("nothing reached the catcher")


async def test_a_taken_catcher_port_is_not_shared(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Another program holds the wanted port: this instance's catcher takes a free port and
    its relay sends there, never to the holder of the wanted port."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'own.db'}"  # engine-independent: SQLite only
    await upgrade(url)
    database = Database(url)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        own = Settings.from_env(
            {},
            data_dir=tmp_path,
            database_url=url,
            profile=load_profile("example"),
            mail_catcher_port=port,
        )
        try:
            async with mail_background(database, own) as relay:
                assert relay.target.port not in (port, 0)
                await _send_to(relay.target.port, "for this instance")
                async with database.transaction() as session:
                    (caught,) = await list_caught(session)
                assert caught.subject == "for this instance"
        finally:
            await database.dispose()
    assert f"mail catcher port {port} is taken" in caplog.text


async def test_port_zero_takes_a_free_port_and_the_relay_follows(services: Services) -> None:
    settings = msgspec.structs.replace(services.settings, mail_catcher_port=0)
    with pytest.raises(ConfigurationError):
        effective_smtp_url(settings)  # no port to send to before the catcher listens
    async with (
        MailCatcher.from_settings(services.db, settings) as first,
        MailCatcher.from_settings(services.db, settings) as second,
    ):
        assert 0 not in (first.port, second.port)
        assert first.port != second.port
    async with mail_background(services.db, settings) as relay:
        assert relay.target.port != 0
        await _send_to(relay.target.port, "caught here")
    async with services.db.transaction() as session:
        assert [mail.subject for mail in await list_caught(session)] == ["caught here"]


async def _send_to(port: int, subject: str) -> None:
    message = EmailMessage()
    message["From"] = "library@example.org"
    message["To"] = "hanako@example.org"
    message["Subject"] = subject
    message.set_content("本文")
    await aiosmtplib.send(message, hostname="127.0.0.1", port=port, start_tls=False)


async def test_a_catcher_that_cannot_listen_stops_the_start_with_a_clear_message(
    services: Services,
) -> None:
    # 192.0.2.1 (TEST-NET-1) is no address of this machine: nothing can listen there.
    catcher = MailCatcher(services.db, port=free_port(), host="192.0.2.1")
    with pytest.raises(CatcherUnavailable) as refused:
        await catcher.start()
    assert refused.value.key == "CARDSERVICE_MAIL_CATCHER_PORT"
    assert "the dev mail catcher cannot listen on 192.0.2.1:" in refused.value.problem
    assert "CARDSERVICE_SMTP_URL" in refused.value.problem
