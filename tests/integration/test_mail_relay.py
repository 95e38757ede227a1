"""The relay delivers over real SMTP (aiosmtpd in-process) and never sends one row twice,
on both engines."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest

from cardservice.db.base import utcnow
from cardservice.db.engine import Database
from cardservice.mail import MailRelay, MailStatus, OutboxRow
from cardservice.mail.smtp import SmtpTarget
from cardservice.services import Services
from tests.unit.mail.support import (
    LINK,
    SmtpSink,
    free_port,
    library_sender,
    outbox_row,
    queue,
    relay_to,
    verify_mail,
)


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    server = SmtpSink(free_port(), refuse=frozenset({"nobody@example.org"}))
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def test_delivers_text_and_html_from_the_library(services: Services, sink: SmtpSink) -> None:
    (mail_id,) = await queue(services, verify_mail())
    assert await relay_to(services, sink.port).run_once() == 1

    (envelope,) = sink.envelopes
    library = services.settings.profile.library
    assert envelope.mail_from == library.sender_email
    assert envelope.rcpt_tos == ["hanako@example.org"]
    (message,) = sink.messages()
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == [
        "text/plain",
        "text/html",
    ]
    (author,) = message["From"].addresses
    assert (author.display_name, author.addr_spec) == (library.name.ja, library.sender_email)
    assert str(message["Subject"]).startswith(f"【{library.name.ja}】メールアドレスの確認")
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None
    assert html is not None
    assert LINK in text.get_content()
    assert f'href="{LINK}"' in html.get_content()

    row = await outbox_row(services, mail_id)
    assert row.status == MailStatus.SENT
    assert row.attempts == 1
    assert row.sent_at is not None
    assert row.message_id == message["Message-ID"]
    assert message["Date"] is not None
    assert await relay_to(services, sink.port).run_once() == 0  # nothing is sent twice
    assert len(sink.envelopes) == 1


async def test_english_mail_comes_from_the_english_name(services: Services, sink: SmtpSink) -> None:
    await queue(services, verify_mail(lang="en"))
    assert await relay_to(services, sink.port).run_once() == 1
    (message,) = sink.messages()
    assert message["From"].addresses[0].display_name == "Yokohama Minato Library"
    assert message["Subject"] == "[Yokohama Minato Library] Please confirm your email address"


@pytest.fixture
async def second_db(services: Services) -> AsyncIterator[Database]:
    """Another engine on the same database, as a second relay process would have."""
    database = Database(services.settings.async_database_url)
    try:
        yield database
    finally:
        await database.dispose()


async def test_two_relays_send_each_message_exactly_once(
    services: Services, second_db: Database, sink: SmtpSink
) -> None:
    count = 24
    mails = [verify_mail(f"patron{i}@example.org") for i in range(count)]
    ids = await queue(services, *mails)
    first = relay_to(services, sink.port, batch_size=5)
    second = MailRelay(second_db, first.target, first.sender, batch_size=5)

    now = utcnow()
    total = 0
    for _ in range(count):
        sent = await asyncio.gather(first.run_once(now), second.run_once(now))
        total += sum(sent)
        if sum(sent) == 0:
            break

    assert total == count
    recipients = sorted(rcpt for envelope in sink.envelopes for rcpt in envelope.rcpt_tos)
    assert recipients == sorted(mail.to_address for mail in mails)
    message_ids = {message["Message-ID"] for message in sink.messages()}
    assert len(message_ids) == count
    for mail_id in ids:
        row = await outbox_row(services, mail_id)
        assert (row.status, row.attempts) == (MailStatus.SENT, 1)


async def test_logs_in_with_the_credentials_in_the_url(services: Services) -> None:
    sink = SmtpSink(free_port())
    sink.start(auth=True)
    try:
        (mail_id,) = await queue(services, verify_mail())
        url = f"smtp://clerk%40library:p%40ss%3Aw%2Frd@127.0.0.1:{sink.port}?starttls=0"
        relay = MailRelay(services.db, SmtpTarget.from_url(url), library_sender(services))
        assert await relay.run_once() == 1
    finally:
        sink.stop()
    assert sink.logins == [(b"clerk@library", b"p@ss:w/rd")]
    assert (await outbox_row(services, mail_id)).status == MailStatus.SENT


async def test_run_forever_delivers_and_stops(services: Services, sink: SmtpSink) -> None:
    relay = relay_to(services, sink.port, poll_seconds=0.05)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run_forever(stop))
    (mail_id,) = await queue(services, verify_mail())
    for _ in range(200):
        if (await outbox_row(services, mail_id)).status == MailStatus.SENT:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert (await outbox_row(services, mail_id)).status == MailStatus.SENT
    assert len(sink.envelopes) == 1


async def test_a_claim_is_a_conditional_update_that_loses_to_an_earlier_one(
    services: Services, second_db: Database, sink: SmtpSink
) -> None:
    """Two relays that both saw the row due: only the first claim takes it, on SQLite too,
    where no row lock keeps the second from reading it."""
    (mail_id,) = await queue(services, verify_mail())
    first = relay_to(services, sink.port)
    second = MailRelay(second_db, first.target, first.sender)
    now = utcnow()
    async with second_db.transaction() as session:
        seen = await session.get(OutboxRow, mail_id)
    assert seen is not None  # the second relay's candidate, read before the first claims it

    claimed = await first._claim(now)
    assert claimed is not None
    async with second_db.transaction() as session:
        assert await second._take(session, seen, now) is None
    row = await outbox_row(services, mail_id)
    assert (row.attempts, row.message_id) == (1, claimed.envelope.message_id)
    assert row.next_attempt_at == now + first.lease
