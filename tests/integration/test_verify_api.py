"""POST /api/v1/verify over HTTP, on both engines: every status with its stable reason."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
import time_machine
from litestar.testing import AsyncTestClient

from cardservice.app import create_app
from cardservice.cards.models import Card, RevocationReason
from cardservice.cards.numbers import barcode_text
from cardservice.cards.service import revoke_card, set_suspended
from cardservice.security.apikeys import create_api_key, revoke_api_key
from cardservice.services import Services
from tests.card_support import card_token_of, verify
from tests.factories import make_card

Client = AsyncTestClient[Any]


async def test_valid_card_by_barcode_and_token(
    client: Client, services: Services, api_key: str
) -> None:
    card = await make_card(services)
    expected = {
        "status": "valid",
        "reason": None,
        "user_number": card.user_number,
        "expires_on": card.expires_on.isoformat(),
    }
    scanned = barcode_text(services.policy.number_format, card.user_number)
    assert await verify(client, api_key, barcode=scanned) == expected
    assert await verify(client, api_key, barcode=card.user_number.lower()) == expected
    full_width = card.user_number.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    assert await verify(client, api_key, barcode=full_width) == expected
    assert await verify(client, api_key, token=card_token_of(services, card)) == expected


async def test_bad_check_digit_is_invalid_not_unknown(
    client: Client, services: Services, api_key: str
) -> None:
    card = await make_card(services)
    last = card.user_number[-1]
    wrong = card.user_number[:-1] + ("0" if last != "0" else "1")
    verdict = await verify(client, api_key, barcode=wrong)
    assert verdict["status"] == "invalid"
    assert verdict["reason"] == "number_bad_check_digit"


async def test_unknown_number(client: Client, services: Services, api_key: str) -> None:
    card = await make_card(services)
    async with services.db.transaction() as session:
        from cardservice.cards.allocation import allocate_number  # noqa: PLC0415

        never_issued = await allocate_number(session, services.policy.number_format)
    assert never_issued != card.user_number
    verdict = await verify(client, api_key, barcode=never_issued)
    assert verdict == {
        "status": "unknown",
        "reason": "card_not_found",
        "user_number": never_issued,
        "expires_on": None,
    }


async def test_revoked_card_says_revoked_with_reason(
    client: Client, services: Services, api_key: str
) -> None:
    card = await make_card(services)
    token = card_token_of(services, card)
    async with services.db.transaction() as session:
        row = await session.get(Card, card.id)
        assert row is not None
        await revoke_card(session, row, RevocationReason.REISSUED, services.policy)
    for body in ({"barcode": card.user_number}, {"token": token}):
        verdict = await verify(client, api_key, **body)
        assert verdict["status"] == "revoked"
        assert verdict["reason"] == "reissued"
        assert verdict["user_number"] == card.user_number


async def test_revoked_token_of_active_card(
    client: Client, services: Services, api_key: str
) -> None:
    card = await make_card(services)
    token = card_token_of(services, card)
    from cardservice.cards.models import TokenRevocation  # noqa: PLC0415

    async with services.db.transaction() as session:
        session.add(
            TokenRevocation(
                jti=card.token_jti,
                user_number=card.user_number,
                reason="token_reissued",
                token_expires_at=datetime.now(UTC) + timedelta(days=1),
            )
        )
    verdict = await verify(client, api_key, token=token)
    assert (verdict["status"], verdict["reason"]) == ("revoked", "token_revoked")
    barcode_verdict = await verify(client, api_key, barcode=card.user_number)
    assert barcode_verdict["status"] == "valid"


async def test_suspended_and_reinstated(client: Client, services: Services, api_key: str) -> None:
    card = await make_card(services)
    async with services.db.transaction() as session:
        row = await session.get(Card, card.id)
        assert row is not None
        set_suspended(row, "unpaid_fees")
    verdict = await verify(client, api_key, barcode=card.user_number)
    assert (verdict["status"], verdict["reason"]) == ("suspended", "unpaid_fees")
    async with services.db.transaction() as session:
        row = await session.get(Card, card.id)
        assert row is not None
        set_suspended(row, None)
    assert (await verify(client, api_key, barcode=card.user_number))["status"] == "valid"


async def test_expired_card_by_travelling_in_time(
    client: Client, services: Services, api_key: str
) -> None:
    card = await make_card(services)
    token = card_token_of(services, card)
    last_day = datetime.combine(card.expires_on, datetime.min.time(), tzinfo=UTC) + timedelta(
        hours=12
    )
    with time_machine.travel(last_day - timedelta(days=1), tick=False):
        assert (await verify(client, api_key, barcode=card.user_number))["status"] == "valid"
    with time_machine.travel(last_day + timedelta(days=2), tick=False):
        by_number = await verify(client, api_key, barcode=card.user_number)
        assert (by_number["status"], by_number["reason"]) == ("expired", "card_expired")
        by_token = await verify(client, api_key, token=token)
        assert (by_token["status"], by_token["reason"]) == ("expired", "token_expired")


async def test_forged_token_is_invalid(client: Client, services: Services, api_key: str) -> None:
    card = await make_card(services)
    header, payload, signature = card_token_of(services, card).split(".")
    tampered = f"{header}.{payload}.{signature[:-4]}AAAA"
    verdict = await verify(client, api_key, token=tampered)
    assert (verdict["status"], verdict["reason"]) == ("invalid", "token_bad_signature")


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "api_key_invalid"),
        ({"X-API-Key": "csk_not-a-real-key"}, "api_key_invalid"),
        ({"Authorization": "Basic Zm9vOmJhcg=="}, "api_key_invalid"),
    ],
)
async def test_api_key_required(
    client: Client, services: Services, headers: dict[str, str], code: str
) -> None:
    response = await client.post("/api/v1/verify", json={"barcode": "1"}, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == code


async def test_bearer_key_works_and_revoked_key_stops_within_the_bound(
    services: Services,
) -> None:
    bound = 1  # CARDSERVICE_API_KEY_RECHECK_SECONDS (test_api_key_revocation.py: 2 workers)
    app = create_app(msgspec.structs.replace(services.settings, api_key_recheck_seconds=bound))
    async with services.db.transaction() as session:
        row, plain = await create_api_key(session, "kiosk")
    card = await make_card(services)
    headers = {"Authorization": f"Bearer {plain}"}
    body = {"barcode": card.user_number}
    async with AsyncTestClient(app=app, base_url="https://cards.example.org") as client:
        ok = await client.post("/api/v1/verify", json=body, headers=headers)
        assert ok.status_code == 200
        async with services.db.transaction() as session:
            await revoke_api_key(session, row.id)
        revoked_at = time.monotonic()
        while (await client.post("/api/v1/verify", json=body, headers=headers)).status_code != 401:
            assert time.monotonic() - revoked_at < bound + 1.5, "still accepted past the bound"
            await asyncio.sleep(0.05)
        refused = await client.post("/api/v1/verify", json=body, headers=headers)
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "api_key_invalid"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({}, 422, "verify_needs_one_of_barcode_or_token"),
        ({"barcode": "1", "token": "x"}, 422, "verify_needs_one_of_barcode_or_token"),
        ({"barcode": "1" * 65}, 400, "bad_request"),
        ({"barcode": 12345}, 400, "bad_request"),
        ({"number": "1"}, 400, "bad_request"),
    ],
)
async def test_bad_requests_have_stable_codes(
    client: Client, api_key: str, body: dict[str, Any], status: int, code: str
) -> None:
    response = await client.post("/api/v1/verify", json=body, headers={"X-API-Key": api_key})
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


async def test_malformed_json(client: Client, api_key: str) -> None:
    response = await client.post(
        "/api/v1/verify",
        content=b"{not json",
        headers={"X-API-Key": api_key, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_request"


async def test_many_scans_at_once_each_get_their_own_verdict(services: Services) -> None:
    """Scans answered together (on PostgreSQL they share statements): valid, revoked,
    suspended, unknown, the same card twice, a revoked token next to a valid one."""
    from cardservice.cards.allocation import allocate_number  # noqa: PLC0415
    from cardservice.cards.models import TokenRevocation  # noqa: PLC0415

    cards = [await make_card(services, email=f"p{i}@example.org") for i in range(4)]
    valid, revoked, suspended, token_revoked = cards
    async with services.db.transaction() as session:
        row = await session.get(Card, revoked.id)
        assert row is not None
        await revoke_card(session, row, RevocationReason.LOST, services.policy)
        row = await session.get(Card, suspended.id)
        assert row is not None
        set_suspended(row, "fines")
        session.add(
            TokenRevocation(
                jti=token_revoked.token_jti,
                user_number=token_revoked.user_number,
                reason="token_reissued",
                token_expires_at=datetime.now(UTC) + timedelta(days=1),
            )
        )
        never_issued = await allocate_number(session, services.policy.number_format)
    verifier = services.verifier
    barcode, token = verifier.by_barcode, verifier.by_token
    scans: list[tuple[Any, str, tuple[str, str | None, str]]] = [
        (barcode, valid.user_number, ("valid", None, valid.user_number)),
        (barcode, revoked.user_number, ("revoked", "lost", revoked.user_number)),
        (barcode, never_issued, ("unknown", "card_not_found", never_issued)),
        (barcode, valid.user_number, ("valid", None, valid.user_number)),
        (barcode, suspended.user_number, ("suspended", "fines", suspended.user_number)),
        (
            token,
            card_token_of(services, token_revoked),
            ("revoked", "token_revoked", token_revoked.user_number),
        ),
        (token, card_token_of(services, valid), ("valid", None, valid.user_number)),
        (token, card_token_of(services, revoked), ("revoked", "lost", revoked.user_number)),
        (barcode, token_revoked.user_number, ("valid", None, token_revoked.user_number)),
    ] * 20
    verdicts = await asyncio.gather(*(check(scanned) for check, scanned, _ in scans))
    assert [(v.status, v.reason, v.user_number) for v in verdicts] == [want for *_, want in scans]
