"""Migration 0012 on both engines: an endpoint made before it keeps its secret and its
messages, starts with no overlap, and can then be rotated with one; down and up again."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from cardservice.db.base import utcnow
from cardservice.db.engine import Database
from cardservice.db.migrate import upgrade
from cardservice.events import service
from cardservice.events.models import WebhookDelivery
from tests.integration.test_offline_feed_migration import _downgrade
from tests.integration.test_registration_migration import fresh_url  # noqa: F401  # a fixture

KEY = bytes(range(32))


async def test_an_endpoint_from_before_keeps_its_secret_and_can_overlap(
    fresh_url: str,  # noqa: F811
) -> None:
    await upgrade(fresh_url)
    database = Database(fresh_url)
    try:
        async with database.transaction() as session:
            created = await service.create_endpoint(session, "https://ils.example.org/h", key=KEY)
            await service.queue_test(session, created.endpoint.id)
        raw = service.endpoint_secret(created.endpoint, KEY)
        await database.dispose()
        await _downgrade(fresh_url, "0012@0006")  # this revision only
        await upgrade(fresh_url)
        database = Database(fresh_url)
        async with database.transaction() as session:
            endpoint = await service.get_endpoint(session, created.endpoint.id)
            assert (endpoint.previous_secret_blob, endpoint.previous_secret_until) == (None, None)
            assert service.signing_secrets(endpoint, KEY, utcnow()) == [raw]
            assert len(list(await session.scalars(select(WebhookDelivery)))) == 1
            renewed = await service.replace_secret(
                session, endpoint.id, key=KEY, overlap=timedelta(hours=24)
            )
        async with database.read() as session:
            endpoint = await service.get_endpoint(session, created.endpoint.id)
        secrets = service.signing_secrets(endpoint, KEY, utcnow())
        assert secrets[1] == raw
        assert renewed.secret != created.secret
        assert len(secrets) == 2
    finally:
        await database.dispose()
