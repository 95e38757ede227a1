"""When delivery fails: backoff with jitter, a final 'failed' that staff can retry, refusals
that fail at once, and mail left by a relay that died mid-send, on both engines."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
import time_machine

from cardservice.db.base import utcnow
from cardservice.mail import MailRelay, MailStatus, failed_messages, retry_failed
from cardservice.mail.relay import LEASE_MARGIN
from cardservice.mail.smtp import SmtpTarget
from cardservice.services import Services
from tests.unit.mail.support import (
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


async def test_backoff_then_failed_then_retried_by_staff(services: Services) -> None:
    port = free_port()  # nothing listens here yet: every connection is refused
    (mail_id,) = await queue(services, verify_mail())
    relay = relay_to(services, port, max_attempts=3)
    start = utcnow()
    expected_waits = [timedelta(seconds=30), timedelta(seconds=60)]

    with time_machine.travel(start, tick=False) as clock:
        for attempt, wait in enumerate(expected_waits, start=1):
            assert await relay.run_once() == 0
            row = await outbox_row(services, mail_id)
            assert (row.status, row.attempts) == (MailStatus.PENDING, attempt)
            assert row.last_error
            assert "Connect" in row.last_error
            now = utcnow()
            assert wait * 0.75 <= row.next_attempt_at - now <= wait
            assert await relay.run_once() == 0  # not due yet: no new attempt
            assert (await outbox_row(services, mail_id)).attempts == attempt
            clock.move_to(row.next_attempt_at)
        assert await relay.run_once() == 0
        row = await outbox_row(services, mail_id)
        assert (row.status, row.attempts) == (MailStatus.FAILED, 3)
        clock.shift(timedelta(days=1))
        assert await relay.run_once() == 0
        assert (await outbox_row(services, mail_id)).attempts == 3  # failed stays failed

        async with services.db.transaction() as session:
            assert [r.id for r in await failed_messages(session)] == [mail_id]
            await retry_failed(session, mail_id)
        sink = SmtpSink(port)
        sink.start()
        try:
            assert await relay.run_once() == 1
        finally:
            sink.stop()

    row = await outbox_row(services, mail_id)
    assert (row.status, row.attempts, row.last_error) == (MailStatus.SENT, 1, None)
    assert len(sink.envelopes) == 1
    async with services.db.transaction() as session:
        assert await failed_messages(session) == []


async def test_refused_recipient_fails_at_once(services: Services, sink: SmtpSink) -> None:
    refused, fine = await queue(
        services, verify_mail("nobody@example.org"), verify_mail("taro@example.org")
    )
    assert await relay_to(services, sink.port).run_once() == 1
    row = await outbox_row(services, refused)
    assert (row.status, row.attempts) == (MailStatus.FAILED, 1)
    assert row.last_error
    assert "550" in row.last_error
    assert (await outbox_row(services, fine)).status == MailStatus.SENT


async def test_wrong_password_is_retried_and_not_recorded(services: Services) -> None:
    sink = SmtpSink(free_port())
    sink.start(auth=True)
    try:
        (mail_id,) = await queue(services, verify_mail())
        url = f"smtp://clerk:hunter2@127.0.0.1:{sink.port}?starttls=0"
        relay = MailRelay(services.db, SmtpTarget.from_url(url), library_sender(services))
        assert await relay.run_once() == 0
    finally:
        sink.stop()
    row = await outbox_row(services, mail_id)
    assert row.status == MailStatus.PENDING
    assert row.last_error
    assert "535" in row.last_error
    assert "hunter2" not in row.last_error


async def test_a_relay_that_died_mid_send_leaves_the_mail_to_another(
    services: Services, sink: SmtpSink
) -> None:
    in_hand, *others = await queue(
        services, *(verify_mail(f"patron{i}@example.org") for i in range(4))
    )
    dead = relay_to(services, sink.port)
    # The SMTP timeout (5 s here) bounds a send; the lease adds a margin for the commit.
    assert dead.lease == timedelta(seconds=5) + LEASE_MARGIN
    now = utcnow()
    claimed = await dead._claim(now)  # claims one, then "crashes" before sending
    assert claimed is not None
    assert claimed.id == in_hand

    survivor = relay_to(services, sink.port)
    # Only the message in hand waits for its lease; the rest go out at once.
    assert await survivor.run_once(now) == len(others)
    for mail_id in others:
        assert (await outbox_row(services, mail_id)).status == MailStatus.SENT
    assert await survivor.run_once(now + dead.lease - timedelta(seconds=1)) == 0
    assert await survivor.run_once(now + dead.lease) == 1
    resent = [m for m in sink.messages() if m["To"] == "patron0@example.org"]
    assert [m["Message-ID"] for m in resent] == [claimed.envelope.message_id]  # same id
    row = await outbox_row(services, in_hand)
    assert (row.status, row.attempts) == (MailStatus.SENT, 2)


async def test_a_late_failure_leaves_another_relays_lease_alone(
    services: Services, sink: SmtpSink
) -> None:
    """A relay whose send outlived its lease records nothing once another relay claimed it."""
    (mail_id,) = await queue(services, verify_mail())
    slow = relay_to(services, sink.port)
    now = utcnow()
    first = await slow._claim(now)
    assert first is not None
    second = await relay_to(services, sink.port)._claim(now + slow.lease)
    assert second is not None
    assert second.envelope.message_id == first.envelope.message_id
    await slow._record_failure(first, now + slow.lease, TimeoutError())
    row = await outbox_row(services, mail_id)
    assert (row.attempts, row.last_error) == (2, None)
    assert row.next_attempt_at == now + slow.lease * 2


async def test_mail_that_keeps_crashing_the_relay_ends_up_failed(
    services: Services, sink: SmtpSink
) -> None:
    (mail_id,) = await queue(services, verify_mail())
    relay = relay_to(services, sink.port, max_attempts=2)
    now = utcnow()
    await relay._claim(now)
    await relay._claim(now + relay.lease)
    assert await relay.run_once(now + relay.lease * 2) == 0
    row = await outbox_row(services, mail_id)
    assert (row.status, row.attempts) == (MailStatus.FAILED, 2)
    assert row.last_error == "interrupted while sending"
    assert sink.envelopes == []
