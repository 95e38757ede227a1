"""Rotating an endpoint's signing secret on the administrators' page, on both engines: the
overlap is chosen on the endpoint's page (24 hours unless told), the new secret is shown
once with until when the old one is still accepted, in English and Japanese; a receiver that
still has the old secret keeps verifying; bad input is a clear 400, never a 500; only
administrators with the form's CSRF token can rotate."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from cardservice.events import service
from cardservice.events.delivery import WebhookRelay
from cardservice.events.models import WebhookEndpoint
from cardservice.security.secrets import app_secrets
from cardservice.services import Services
from cardservice.staff.models import AuditEntry, Role
from tests.web_support import (
    Client,
    csrf_from,
    login,
    make_staff,
    web_client,
    with_free_catcher_port,
)
from tests.webhook_receiver import webhook_receiver

_SECRET = re.compile(r'value="(whsec_[A-Za-z0-9+/=]+)"')


@pytest.fixture
async def admin(services: Services) -> AsyncIterator[Client]:
    await make_staff(services, "kanri", Role.ADMIN, display_name="管理 太郎")
    async with web_client(with_free_catcher_port(services.settings), mail=False) as client:
        await login(client, "kanri")
        yield client


async def _endpoint(services: Services, url: str) -> tuple[int, str]:
    async with services.db.transaction() as session:
        created = await service.create_endpoint(
            session, url, key=app_secrets(services.settings).document_key
        )
    return created.endpoint.id, created.secret


async def test_a_rotation_with_the_default_overlap_keeps_the_old_receiver_working(
    services: Services, admin: Client
) -> None:
    async with webhook_receiver() as receiver:
        endpoint_id, first = await _endpoint(services, receiver.url)
        receiver.secret = first
        path = f"/staff/webhooks/{endpoint_id}"
        page = await admin.get(f"{path}?lang=en")
        assert page.status_code == 200
        assert "Rotate the signing secret" in page.text
        assert '<option value="24" selected>24 hours</option>' in page.text
        assert "No overlap: the current secret stops at once" in page.text
        assert "still accepted until" not in page.text  # no overlap running
        token = csrf_from(page.text)

        rotated = await admin.post(f"{path}/secret", data={"_csrf_token": token})
        assert rotated.status_code == 200
        assert rotated.headers["cache-control"] == "no-store"
        found = _SECRET.search(rotated.text)
        assert found is not None
        second = found.group(1)
        assert second != first
        async with services.db.read() as session:
            row = await session.scalar(select(WebhookEndpoint))
        assert row is not None
        assert row.previous_secret_until is not None
        assert "The previous secret is still accepted until" in rotated.text
        detail = await admin.get(path)
        assert "The previous secret is still accepted until" in detail.text
        assert second not in detail.text  # the new secret shown once
        assert "the previous secret (the one before the current one) stops at once." in detail.text

        # The library system has not been updated yet: its messages still verify.
        async with services.db.transaction() as session:
            await service.queue_test(session, endpoint_id)
        relay = WebhookRelay(services.db, app_secrets(services.settings).document_key)
        assert await relay.run_once() == 1
        assert receiver.received[-1].verified
        receiver.secret = second
        async with services.db.transaction() as session:
            await service.queue_test(session, endpoint_id)
        assert await relay.run_once() == 1
        assert receiver.received[-1].verified

        japanese = await admin.get(f"{path}?lang=ja")
        assert "以前のシークレットも" in japanese.text
        assert "までは有効です。" in japanese.text
        assert "署名用シークレットを変更する" in japanese.text
        assert '<option value="24" selected>24時間</option>' in japanese.text
        # No overlap, in Japanese: the new secret's page says the old one stopped.
        stopped = await admin.post(
            f"{path}/secret?lang=ja",
            data={"overlap_hours": "0", "_csrf_token": csrf_from(japanese.text)},
        )
        assert stopped.status_code == 200
        assert "これまでのシークレットでの署名は行いません。" in stopped.text
        assert "以前のシークレットも" not in (await admin.get(path)).text
        async with services.db.read() as session:
            details = list(
                await session.scalars(
                    select(AuditEntry.detail)
                    .where(AuditEntry.action == "webhook.new_key")
                    .order_by(AuditEntry.id)
                )
            )
        assert [d["overlap_hours"] for d in details] == [24, 0]  # type: ignore[index]


async def test_a_chosen_overlap_and_bad_choices(services: Services, admin: Client) -> None:
    endpoint_id, _ = await _endpoint(services, "https://ils.example.org/in")
    path = f"/staff/webhooks/{endpoint_id}"
    page = await admin.get(f"{path}?lang=en")
    token = csrf_from(page.text)
    async with services.db.read() as session:
        before = (await service.get_endpoint(session, endpoint_id)).secret_blob
    for bad in ("abc", "5", "-1", "24.0", "1e3", "１", "9" * 1500, "0x18"):
        refused = await admin.post(
            f"{path}/secret", data={"overlap_hours": bad, "_csrf_token": token}
        )
        assert refused.status_code == 400, bad
        assert "Choose how long the current secret is still accepted" in refused.text
        assert 'aria-invalid="true"' in refused.text
    japanese = await admin.post(
        f"{path}/secret?lang=ja", data={"overlap_hours": "forever", "_csrf_token": token}
    )
    assert japanese.status_code == 400
    assert "現在のシークレットを引き続き有効にする期間を" in japanese.text
    too_long = await admin.post(
        f"{path}/secret", data={"overlap_hours": "9" * 3000, "_csrf_token": token}
    )
    assert too_long.status_code == 400
    async with services.db.read() as session:
        row = await service.get_endpoint(session, endpoint_id)
    assert row.secret_blob == before  # nothing rotated
    missing = await admin.post(
        "/staff/webhooks/999999/secret", data={"overlap_hours": "24", "_csrf_token": token}
    )
    assert missing.status_code == 404
    no_token = await admin.post(f"{path}/secret", data={"overlap_hours": "24"})
    assert no_token.status_code == 403

    week = await admin.post(f"{path}/secret", data={"overlap_hours": "168", "_csrf_token": token})
    assert week.status_code == 200
    async with services.db.read() as session:
        row = await service.get_endpoint(session, endpoint_id)
    assert row.previous_secret_blob == before  # the replaced secret, encrypted as it was
    assert row.previous_secret_until is not None
    assert row.secret_blob != before
    span = row.previous_secret_until - row.created_at
    assert span.days in (6, 7)

    await make_staff(services, "sato", Role.COUNTER)
    async with web_client(with_free_catcher_port(services.settings), mail=False) as other:
        await login(other, "sato")
        staff_page = await other.get("/staff")
        refused = await other.post(
            f"{path}/secret",
            data={"overlap_hours": "24", "_csrf_token": csrf_from(staff_page.text)},
        )
        assert refused.status_code == 403
