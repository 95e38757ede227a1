"""A change of an endpoint's signing secret with an overlap, on both engines, against a real
receiver that verifies with the ``standardwebhooks`` package: during the overlap every
message carries two signatures and verifies with the old secret and with the new one; after
it, or with no overlap, only the new one; the replaced secret stays encrypted."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from cardservice.db.base import utcnow
from cardservice.events import service, signing
from cardservice.events.delivery import WebhookRelay
from cardservice.events.models import WebhookEndpoint
from cardservice.security import crypto
from cardservice.security.secrets import app_secrets
from cardservice.services import Services
from tests.webhook_receiver import Received, webhook_receiver


def _key(services: Services) -> bytes:
    return app_secrets(services.settings).document_key


async def _test_message(services: Services, relay: WebhookRelay, endpoint_id: int) -> None:
    async with services.db.transaction() as session:
        await service.queue_test(session, endpoint_id)
    assert await relay.run_once() == 1


def _verifies(message: Received, secret: str) -> bool:
    try:
        Webhook(secret).verify(message.body, message.headers)
    except WebhookVerificationError:
        return False
    return True


async def _rotate(
    services: Services, endpoint_id: int, overlap: timedelta, *, ago: timedelta = timedelta(0)
) -> service.NewEndpoint:
    async with services.db.transaction() as session:
        return await service.replace_secret(
            session, endpoint_id, key=_key(services), overlap=overlap, now=utcnow() - ago
        )


async def test_old_and_new_secret_both_verify_during_the_overlap_then_only_the_new(
    services: Services,
) -> None:
    key = _key(services)
    async with webhook_receiver() as receiver:
        async with services.db.transaction() as session:
            created = await service.create_endpoint(session, receiver.url, key=key)
        endpoint_id, first = created.endpoint.id, created.secret
        receiver.secret = first
        relay = WebhookRelay(services.db, key, timeout=5)
        await _test_message(services, relay, endpoint_id)
        assert receiver.received[-1].headers["webhook-signature"].count("v1,") == 1

        renewed = await _rotate(services, endpoint_id, timedelta(hours=24))
        second = renewed.secret
        assert renewed.previous_until is not None
        assert (
            timedelta(hours=23, minutes=59)
            < renewed.previous_until - utcnow()
            <= timedelta(hours=24)
        )
        await _test_message(services, relay, endpoint_id)  # the receiver still has the old one
        message = receiver.received[-1]
        assert message.verified
        signatures = message.headers["webhook-signature"].split(" ")
        assert [s[:3] for s in signatures] == ["v1,", "v1,"]
        assert _verifies(message, first)
        assert _verifies(message, second)  # the receiver updated: the same message verifies

        # The replaced secret is kept encrypted as the current one is, bound to the endpoint.
        async with services.db.read() as session:
            row = await service.get_endpoint(session, endpoint_id)
        assert row.previous_secret_blob is not None
        raw_first = crypto.decrypt(
            key, row.previous_secret_blob, aad=service.secret_aad(endpoint_id)
        )
        assert raw_first not in row.previous_secret_blob
        assert first.encode() not in row.previous_secret_blob
        assert service.signing_secrets(row, key, utcnow())[1] == raw_first

        # The overlap over (the change made 25 hours ago): only the new secret signs.
        await _rotate(services, endpoint_id, timedelta(hours=24), ago=timedelta(hours=25))
        async with services.db.read() as session:
            row = await service.get_endpoint(session, endpoint_id)
        third = service.signing_secrets(row, key, utcnow())
        assert len(third) == 1
        receiver.secret = signing.format_secret(third[0])
        await _test_message(services, relay, endpoint_id)
        message = receiver.received[-1]
        assert message.verified
        assert message.headers["webhook-signature"].count("v1,") == 1
        assert not _verifies(message, second)
        assert not _verifies(message, first)


async def test_no_overlap_and_a_second_change_during_one(services: Services) -> None:
    key = _key(services)
    async with webhook_receiver() as receiver:
        async with services.db.transaction() as session:
            created = await service.create_endpoint(session, receiver.url, key=key)
        endpoint_id, first = created.endpoint.id, created.secret
        relay = WebhookRelay(services.db, key, timeout=5)

        # A secret that leaked: no overlap, the old one stops at once.
        leaked = await _rotate(services, endpoint_id, timedelta(0))
        assert leaked.previous_until is None
        receiver.secret = first
        await _test_message(services, relay, endpoint_id)
        assert not receiver.received[-1].verified
        assert _verifies(receiver.received[-1], leaked.secret)
        async with services.db.read() as session:
            row = await service.get_endpoint(session, endpoint_id)
        assert (row.previous_secret_blob, row.previous_secret_until) == (None, None)

        # Two changes in a row: the secret replaced by the second overlaps; the first stops.
        middle = await _rotate(services, endpoint_id, timedelta(hours=1))
        last = await _rotate(services, endpoint_id, timedelta(hours=72))
        await _test_message(services, relay, endpoint_id)
        message = receiver.received[-1]
        assert _verifies(message, last.secret)
        assert _verifies(message, middle.secret)
        assert not _verifies(message, leaked.secret)
        assert message.headers["webhook-signature"].count("v1,") == 2

        # A replaced secret that no longer decrypts (damaged) is left out; the message still
        # goes, signed with the current secret.
        async with services.db.transaction() as session:
            await session.execute(
                update(WebhookEndpoint)
                .where(WebhookEndpoint.id == endpoint_id)
                .values(previous_secret_blob=b"\x00" * 40)
            )
        await _test_message(services, relay, endpoint_id)
        message = receiver.received[-1]
        assert _verifies(message, last.secret)
        assert message.headers["webhook-signature"].count("v1,") == 1


async def test_an_overlap_out_of_range_or_an_unknown_endpoint_is_refused(
    services: Services,
) -> None:
    key = _key(services)
    async with services.db.transaction() as session:
        created = await service.create_endpoint(session, "https://ils.example.org/h", key=key)
    for overlap in (timedelta(seconds=-1), service.MAX_OVERLAP + timedelta(seconds=1)):
        with pytest.raises(service.OverlapInvalid):
            await _rotate(services, created.endpoint.id, overlap)
    with pytest.raises(service.EndpointNotFound):
        await _rotate(services, 999_999, timedelta(hours=1))
    async with services.db.read() as session:  # nothing changed
        row = await service.get_endpoint(session, created.endpoint.id)
    assert row.previous_secret_blob is None
    assert service.endpoint_secret(row, key) == service.endpoint_secret(created.endpoint, key)
