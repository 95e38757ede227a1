"""Card events reach the library system as signed webhooks, through the delivery outbox,
on both engines, against a real HTTP receiver (``tests/webhook_receiver.py``) that checks
every signature with the ``standardwebhooks`` package, answers 500 or never answers."""

from __future__ import annotations

import asyncio
import base64
import random
import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from cardservice.cards.lifecycle import (
    ReissueReason,
    record_event,
    reinstate_card,
    reissue_card,
    renew_card,
    suspend_card,
)
from cardservice.cards.models import CardEventKind, RevocationReason
from cardservice.cards.service import get_card, revoke_card
from cardservice.events import service
from cardservice.events.delivery import WebhookRelay, retry_delay, webhook_background
from cardservice.events.models import DeliveryStatus, WebhookDelivery
from cardservice.jobs import run_jobs
from cardservice.security import crypto
from cardservice.security.secrets import app_secrets
from cardservice.services import Services
from tests.factories import make_card
from tests.tls_support import self_signed_certificate
from tests.webhook_receiver import Receiver, webhook_receiver


def _key(services: Services) -> bytes:
    return app_secrets(services.settings).document_key


async def _endpoint(services: Services, receiver: Receiver) -> int:
    async with services.db.transaction() as session:
        created = await service.create_endpoint(session, receiver.url, key=_key(services))
    receiver.secret = created.secret
    return created.endpoint.id


async def _deliveries(services: Services) -> list[WebhookDelivery]:
    async with services.db.read() as session:
        return list(await session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


async def test_every_card_event_is_sent_signed_in_order(services: Services) -> None:
    before = await make_card(services, email="before@example.org")  # before any endpoint
    async with webhook_receiver() as receiver:
        endpoint_id = await _endpoint(services, receiver)
        card = await make_card(services)
        policy, now = services.policy, datetime.now(UTC)
        async with services.db.transaction() as session:
            loaded = await get_card(session, card.user_number)
            await renew_card(session, loaded, services.settings.profile.card, policy, now=now)
            await record_event(
                session, CardEventKind.DETAILS_CHANGED, loaded, detail={"fields": ["phone"]}
            )
            await suspend_card(session, loaded, "reported_lost")
            await reinstate_card(session, loaded)
            new = await reissue_card(session, loaded, ReissueReason.LOST, policy)
            await revoke_card(session, new, RevocationReason.WITHDRAWN, policy)
            await record_event(session, CardEventKind.REVOKED, new, detail={"reason": "withdrawn"})
        relay = WebhookRelay(services.db, _key(services), timeout=5)
        assert await relay.run_once() == 7
        assert await relay.run_once() == 0  # nothing twice

    assert all(r.verified for r in receiver.received), receiver.received
    payloads = receiver.verified()
    assert [p["type"] for p in payloads] == [
        "patron.registered",
        "card.renewed",
        "patron.details_changed",
        "card.suspended",
        "card.reinstated",
        "card.reissued",
        "card.revoked",
    ]
    registered, renewed, changed, suspended, _, reissued, revoked = payloads
    assert registered["data"]["user_number"] == card.user_number
    assert registered["data"]["patron"]["family_name"] == "山田"
    assert registered["data"]["patron"]["birth_date"] == "1990-04-01"
    assert registered["data"]["expires_on"] == card.expires_on.isoformat()
    assert renewed["data"]["old_expires_on"] == card.expires_on.isoformat()
    assert changed["data"]["fields"] == ["phone"]
    assert changed["data"]["patron"]["email"] == "hanako@example.org"
    assert suspended["data"]["reason"] == "reported_lost"
    assert (reissued["data"]["user_number"], reissued["data"]["new_user_number"]) == (
        card.user_number,
        new.user_number,
    )
    assert revoked["data"] == {
        "patron_id": card.patron_id,
        "user_number": new.user_number,
        "reason": "withdrawn",
    }
    # The card made before the endpoint existed was not sent to it.
    assert before.user_number not in {p["data"]["user_number"] for p in payloads}
    rows = await _deliveries(services)
    assert {(r.endpoint_id, r.status, r.attempts) for r in rows} == {
        (endpoint_id, DeliveryStatus.DELIVERED, 1)
    }
    assert [r.headers["webhook-id"] for r in receiver.received] == [r.message_id for r in rows]


async def test_a_500_is_retried_with_backoff_then_failed_and_can_be_sent_again(
    services: Services,
) -> None:
    async with webhook_receiver() as receiver:
        await _endpoint(services, receiver)
        await make_card(services)
        receiver.mode = "fail"
        relay = WebhookRelay(
            services.db, _key(services), timeout=5, max_attempts=3, rng=random.Random(1)
        )
        start = datetime.now(UTC)
        assert await relay.run_once(start) == 0
        (row,) = await _deliveries(services)
        assert (row.status, row.attempts, row.last_status) == (DeliveryStatus.PENDING, 1, 500)
        assert row.last_error == "HTTP 500 Internal Server Error"
        # Backed off: 45 to 60 s after the first attempt (a minute, minus up to a quarter).
        assert timedelta(seconds=45) <= row.next_attempt_at - start <= timedelta(seconds=60)
        assert await relay.run_once(start + timedelta(seconds=30)) == 0
        assert len(receiver.received) == 1  # not due yet: not tried
        await relay.run_once(start + timedelta(minutes=1))
        (row,) = await _deliveries(services)
        assert row.attempts == 2
        assert timedelta(seconds=90) <= row.next_attempt_at - (start + timedelta(minutes=1))
        await relay.run_once(start + timedelta(minutes=4))
        (row,) = await _deliveries(services)
        assert (row.status, row.attempts) == (DeliveryStatus.FAILED, 3)
        assert row.last_error == "HTTP 500 Internal Server Error"
        assert await relay.run_once(start + timedelta(days=3)) == 0  # failed stays failed
        assert len(receiver.received) == 3
        async with services.db.read() as session:
            (summary,) = await service.endpoint_summaries(session)
            assert (summary.pending, summary.failed) == (0, 1)

        receiver.mode = "ok"
        async with services.db.transaction() as session:
            await service.retry_failed(session, row.id)
        assert await relay.run_once() == 1
    (row,) = await _deliveries(services)
    assert (row.status, row.attempts, row.last_error) == (DeliveryStatus.DELIVERED, 1, None)
    # The same webhook-id on every attempt: the receiver can drop repeats.
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1
    assert receiver.received[-1].verified


async def test_an_endpoint_that_never_answers_times_out_and_is_retried(
    services: Services,
) -> None:
    async with webhook_receiver() as receiver:
        await _endpoint(services, receiver)
        receiver.mode = "hang"
        await make_card(services)
        relay = WebhookRelay(services.db, _key(services), timeout=0.3)
        assert await relay.run_once() == 0
    (row,) = await _deliveries(services)
    assert (row.status, row.attempts, row.last_status) == (DeliveryStatus.PENDING, 1, None)
    assert row.last_error == "no answer within 0.3 s"
    assert row.next_attempt_at > datetime.now(UTC) + timedelta(seconds=30)


async def test_an_endpoint_that_hangs_holds_up_no_other_endpoint(services: Services) -> None:
    """Three events, two endpoints: the one that never answers is tried once in the pass
    (one timeout, not three) and the other gets all three."""
    async with webhook_receiver() as stuck, webhook_receiver() as healthy:
        stuck_id = await _endpoint(services, stuck)
        await _endpoint(services, healthy)
        stuck.mode = "hang"
        for n in range(3):
            await make_card(services, email=f"hang{n}@example.org")
        relay = WebhookRelay(services.db, _key(services), timeout=0.3)
        assert await relay.run_once() == 3
        assert len(healthy.verified()) == 3
        assert len(stuck.received) == 1
    waiting = [row for row in await _deliveries(services) if row.endpoint_id == stuck_id]
    assert sorted(row.attempts for row in waiting) == [0, 0, 1]
    assert {row.status for row in waiting} == {DeliveryStatus.PENDING}


async def test_an_https_endpoint_with_the_librarys_own_certificate(
    services: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A self-signed (or private-CA) certificate fails with the reason in the log until the
    service is told to trust it with SSL_CERT_FILE (README), then the message goes."""
    cert, key = self_signed_certificate(tmp_path, "ils")
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    async with webhook_receiver(tls=tls) as receiver:
        assert receiver.url.startswith("https://127.0.0.1:")
        await _endpoint(services, receiver)
        await make_card(services)
        assert await WebhookRelay(services.db, _key(services), timeout=5).run_once() == 0
        (row,) = await _deliveries(services)
        assert "CERTIFICATE_VERIFY_FAILED" in (row.last_error or "")
        assert receiver.received == []
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        async with services.db.transaction() as session:  # due again now
            await session.execute(update(WebhookDelivery).values(next_attempt_at=datetime.now(UTC)))
        assert await WebhookRelay(services.db, _key(services), timeout=5).run_once() == 1
        assert receiver.verified()[0]["type"] == "patron.registered"


async def test_a_refused_connection_is_a_failed_attempt(services: Services) -> None:
    async with webhook_receiver() as receiver:
        pass  # stopped: nothing listens on its port any more
    await _endpoint(services, receiver)
    await make_card(services)
    assert await WebhookRelay(services.db, _key(services), timeout=2).run_once() == 0
    (row,) = await _deliveries(services)
    assert row.status == DeliveryStatus.PENDING
    assert row.last_error is not None
    assert row.last_error.startswith("ConnectError")


async def test_an_address_no_request_can_go_to_is_a_recorded_failure(services: Services) -> None:
    """An address saved before it was checked as the sender checks it (an IDNA host that
    is none) fails its own attempt with the reason in the log; the other endpoint's message
    in the same pass is still sent."""
    async with webhook_receiver() as receiver:
        good = await _endpoint(services, receiver)
        async with services.db.transaction() as session:
            bad = await service.create_endpoint(session, "http://bad.example/", key=_key(services))
            bad.endpoint.url = "http://xn--/hooks"
            bad_id = bad.endpoint.id
        await make_card(services)
        assert await WebhookRelay(services.db, _key(services), timeout=2).run_once() == 1
        assert len(receiver.received) == 1
    by_endpoint = {row.endpoint_id: row for row in await _deliveries(services)}
    assert by_endpoint[good].status == DeliveryStatus.DELIVERED
    failed = by_endpoint[bad_id]
    assert failed.status == DeliveryStatus.PENDING
    assert failed.attempts == 1
    assert (failed.last_error or "").startswith("IDNAError: ")


async def test_a_disabled_endpoint_gets_its_events_when_enabled_again(
    services: Services,
) -> None:
    async with webhook_receiver() as receiver:
        endpoint_id = await _endpoint(services, receiver)
        async with services.db.transaction() as session:
            await service.set_enabled(session, endpoint_id, False)
        card = await make_card(services)
        relay = WebhookRelay(services.db, _key(services), timeout=5)
        assert await relay.run_once() == 0
        assert receiver.received == []
        async with services.db.transaction() as session:
            await service.set_enabled(session, endpoint_id, True)
            await service.queue_test(session, endpoint_id)
        assert await relay.run_once() == 2
    types = {p["type"]: p["data"] for p in receiver.verified()}
    assert types["patron.registered"]["user_number"] == card.user_number
    assert types["webhook.test"] == {"endpoint_id": endpoint_id, "test": True}


async def test_the_secret_is_stored_encrypted_and_bound_to_its_endpoint(
    services: Services,
) -> None:
    key = _key(services)
    async with services.db.transaction() as session:
        first = await service.create_endpoint(session, "https://a.example.org/h", key=key)
        second = await service.create_endpoint(session, "https://b.example.org/h", key=key)
    raw = service.endpoint_secret(first.endpoint, key)
    assert first.secret == "whsec_" + base64.b64encode(raw).decode()
    assert raw not in first.endpoint.secret_blob
    assert first.secret != second.secret
    # One endpoint's blob copied to another row does not decrypt there.
    async with services.db.read() as session:
        stored = await service.get_endpoint(session, second.endpoint.id)
    stored.secret_blob = first.endpoint.secret_blob
    with pytest.raises(crypto.DecryptionError):
        service.endpoint_secret(stored, key)
    # Another key (the document key replaced) cannot decrypt it either.
    with pytest.raises(crypto.DecryptionError):
        service.endpoint_secret(first.endpoint, bytes(32))


def test_backoff_doubles_from_a_minute_up_to_twelve_hours() -> None:
    rng = random.Random(7)
    delays = [retry_delay(n, rng) for n in range(1, 13)]
    for attempt, delay in enumerate(delays, start=1):
        nominal = min(timedelta(minutes=1) * 2 ** (attempt - 1), timedelta(hours=12))
        assert nominal * 0.75 <= delay <= nominal
    # 12 attempts span about a day before the message is marked failed.
    total = sum(delays[:11], timedelta())
    assert timedelta(hours=20) < total < timedelta(hours=30)


async def test_the_running_service_sends_in_the_background(services: Services) -> None:
    async with webhook_receiver() as receiver:
        await _endpoint(services, receiver)
        card = await make_card(services)
        async with webhook_background(services.db, _key(services)):
            await asyncio.wait_for(receiver.arrived.wait(), 10)
        (payload,) = receiver.verified()
    assert payload["data"]["user_number"] == card.user_number
    (row,) = await _deliveries(services)
    assert row.status == DeliveryStatus.DELIVERED  # recorded before the loop stopped


async def test_two_relays_at_once_send_each_message_once(services: Services) -> None:
    async with webhook_receiver() as receiver:
        await _endpoint(services, receiver)
        for n in range(6):
            await make_card(services, email=f"p{n}@example.org")
        relays = [WebhookRelay(services.db, _key(services), timeout=5) for _ in range(2)]
        sent = await asyncio.gather(*(relay.run_once() for relay in relays))
        assert sum(sent) + await relays[0].run_once() == 6
    rows = await _deliveries(services)
    assert len(rows) == 6  # each event queued once, though both relays fanned out
    assert {(r.status, r.attempts) for r in rows} == {(DeliveryStatus.DELIVERED, 1)}
    assert sorted(r.headers["webhook-id"] for r in receiver.received) == sorted(
        r.message_id for r in rows
    )


async def test_the_search_for_new_events_starts_after_the_settled_ones(
    services: Services,
) -> None:
    async with webhook_receiver() as receiver:
        endpoint_id = await _endpoint(services, receiver)
    await make_card(services)
    async with services.db.transaction() as session:
        assert await service.fan_out(session) == 1
        endpoint = await service.get_endpoint(session, endpoint_id)
        start = endpoint.after_event_id  # the newest event is not settled yet
    newest = (await _deliveries(services))[0].card_event_id
    async with services.db.transaction() as session:
        assert await service.fan_out(session, now=datetime.now(UTC) + timedelta(minutes=11)) == 0
    async with services.db.read() as session:
        moved = await service.get_endpoint(session, endpoint_id)
    assert moved.after_event_id == newest
    assert newest is not None
    assert newest > start


async def test_a_delivered_body_is_emptied_after_the_retention_period(
    services: Services,
) -> None:
    async with webhook_receiver() as receiver:
        await _endpoint(services, receiver)
        await make_card(services)  # delivered: its body holds the patron's record
        relay = WebhookRelay(services.db, _key(services), timeout=5)
        assert await relay.run_once() == 1
        receiver.mode = "fail"
        async with services.db.transaction() as session:
            await service.queue_test(session, (await _deliveries(services))[0].endpoint_id)
        assert await relay.run_once() == 0  # this one waits
    days = services.settings.profile.retention.sent_mail_body_days
    soon = await run_jobs(services.db, services.settings.profile, now=datetime.now(UTC))
    assert soon.webhook_bodies_cleared == 0
    later = datetime.now(UTC) + timedelta(days=days, minutes=1)
    report = await run_jobs(services.db, services.settings.profile, now=later)
    assert report.webhook_bodies_cleared == 1
    assert "delivered webhook bodies cleared: 1" in report.lines()
    delivered, waiting = await _deliveries(services)
    assert (delivered.status, delivered.body) == (DeliveryStatus.DELIVERED, "")
    assert delivered.message_id.startswith("msg_")  # the log keeps the envelope
    assert "webhook.test" in waiting.body  # still to be sent: kept
