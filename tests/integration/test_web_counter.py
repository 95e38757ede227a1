"""The counter station over HTTP, on both engines: who may open it, the verdict of every
kind of scan in words (JSON for the script, the page without it), garbage typed, and the
card's last use."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from litestar.testing import AsyncTestClient
from sqlalchemy import update

from cardservice.calendar import end_of_day, local_today
from cardservice.cards.device_proof import proof_message, time_step
from cardservice.cards.models import Card, RevocationReason
from cardservice.cards.numbers import barcode_text
from cardservice.cards.service import revoke_card, set_suspended
from cardservice.cards.tokens import sign_card_token
from cardservice.services import Services
from cardservice.staff.models import Role
from tests.card_support import card_token_of
from tests.factories import make_card
from tests.web_support import csrf_from, login, make_staff, web_client, with_free_catcher_port

Client = AsyncTestClient[Any]


@pytest.fixture
async def client(services: Services) -> AsyncIterator[Client]:
    async with web_client(with_free_catcher_port(services.settings), mail=False) as running:
        yield running


async def _counter_staff(client: Client, services: Services) -> str:
    await make_staff(services, "tanaka", Role.COUNTER, display_name="田中 一郎")
    await login(client, "tanaka")
    page = await client.get("/staff/counter")
    assert page.status_code == 200, page.text
    return csrf_from(page.text)


async def _scan(client: Client, token: str, scanned: str) -> dict[str, Any]:
    answer = await client.post(
        "/staff/counter/scan", data={"scanned": scanned, "_csrf_token": token}
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    result: dict[str, Any] = answer.json()
    return result


async def test_who_may_open_the_station(client: Client, services: Services) -> None:
    answer = await client.get("/staff/counter")
    assert answer.status_code in {302, 303}
    assert answer.headers["location"].startswith("/staff/login")
    await make_staff(services, "sato", Role.REVIEWER)
    await login(client, "sato")
    assert "/staff/counter" not in (await client.get("/staff")).text
    assert (await client.get("/staff/counter")).status_code == 403
    await client.post(
        "/staff/logout", data={"_csrf_token": csrf_from((await client.get("/staff")).text)}
    )
    token = await _counter_staff(client, services)
    home = await client.get("/staff")
    assert 'href="/staff/counter"' in home.text
    page = await client.get("/staff/counter")
    assert page.headers["permissions-policy"].startswith("camera=(self)")
    assert 'src="/static/counter.js"' in page.text
    # Without the CSRF token a scan is refused.
    refused = await client.post("/staff/counter/scan", data={"scanned": "1"})
    assert refused.status_code == 403
    assert (await _scan(client, token, "x"))["status"] == "invalid"


async def test_every_verdict_in_words(client: Client, services: Services) -> None:
    token = await _counter_staff(client, services)
    valid = await make_card(services, email="valid@example.org")
    expired = await make_card(services, email="expired@example.org")
    revoked = await make_card(services, email="revoked@example.org")
    suspended = await make_card(services, email="suspended@example.org")
    async with services.db.transaction() as session:
        await session.execute(
            update(Card).where(Card.id == expired.id).values(expires_on=date(2020, 3, 31))
        )
        row = await session.get(Card, revoked.id)
        assert row is not None
        await revoke_card(session, row, RevocationReason.REISSUED, services.policy)
        row = await session.get(Card, suspended.id)
        assert row is not None
        set_suspended(row, "reported_lost")

    ends = valid.expires_on
    scanned = barcode_text(services.policy.number_format, valid.user_number)
    assert await _scan(client, token, scanned) == {
        "status": "valid",
        "tone": "ok",
        "title": "有効",
        "words": "このカードは利用できます。",
        "user_number": valid.user_number,
        "expires_on": f"{ends.year}年{ends.month}月{ends.day}日",
        "holder": "山田 花子",
    }
    by_qr = await _scan(client, token, card_token_of(services, valid))
    assert (by_qr["status"], by_qr["holder"]) == ("valid", "山田 花子")
    # A valid scan records the card's last use; the app writes it after answering.
    for _ in range(200):
        async with services.db.transaction() as session:
            row = await session.get(Card, valid.id)
            assert row is not None
            if row.last_used_on is not None:
                break
        await asyncio.sleep(0.025)
    assert row.last_used_on == local_today(services.policy.timezone, datetime.now(UTC))

    answer = await _scan(client, token, expired.user_number)
    assert (answer["status"], answer["tone"], answer["expires_on"]) == (
        "expired",
        "stop",
        "2020年3月31日",
    )
    answer = await _scan(client, token, revoked.user_number)
    assert (answer["status"], answer["tone"], answer["holder"]) == ("revoked", "stop", "山田 花子")
    assert answer["words"] == "新しい番号のカードを再発行したため、この番号は無効です。"
    answer = await _scan(client, token, suspended.user_number)
    assert (answer["status"], answer["tone"]) == ("suspended", "warn")
    assert answer["words"] == "紛失の届出が出ているカードです。"


async def test_unknown_garbage_and_the_page_without_script(
    client: Client, services: Services
) -> None:
    token = await _counter_staff(client, services)
    card = await make_card(services)
    async with services.db.transaction() as session:
        from cardservice.cards.allocation import allocate_number  # noqa: PLC0415

        never_issued = await allocate_number(session, services.policy.number_format)
    answer = await _scan(client, token, never_issued)
    assert (answer["status"], answer["tone"], answer["holder"]) == ("unknown", "stop", None)
    assert answer["title"] == "登録のないカード"
    wrong_digit = card.user_number[:-1] + str((int(card.user_number[-1]) + 1) % 10)
    for garbage in ("", "   ", "hello world", wrong_digit, "eyJ.x.y", "[2J\u3000", "9" * 20000):
        answer = await _scan(client, token, garbage)
        assert (answer["status"], answer["tone"]) == ("invalid", "stop"), garbage[:20]
        assert answer["title"] == "読み取りエラー"
        assert answer["words"]
    page = await client.post(
        "/staff/counter?lang=en", data={"scanned": card.user_number, "_csrf_token": token}
    )
    assert page.status_code == 200
    assert 'class="verdict verdict-ok"' in page.text
    assert "Valid" in page.text
    assert "The card may be used." in page.text
    assert "山田 花子" in page.text
    garbage = await client.post(
        "/staff/counter?lang=en", data={"scanned": "<script>", "_csrf_token": token}
    )
    assert garbage.status_code == 200
    assert 'class="verdict verdict-stop"' in garbage.text
    assert "Not a card number" in garbage.text
    assert "<script>" not in garbage.text.split("<main", 1)[1].split("</main>", 1)[0].replace(
        '<script src="/static/counter.js" defer></script>', ""
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


async def test_the_changing_code_of_the_card_page_is_judged_as_a_card(
    client: Client, services: Services
) -> None:
    """The card page's changing code (``token~step~signature``, a phone's key) is a card at
    the station: valid with the holder's name; its token alone, or the code cut short, says
    why in the proof's words, never "not a card number"."""
    token = await _counter_staff(client, services)
    card = await make_card(services)
    phone = ec.generate_private_key(ec.SECP256R1())
    numbers = phone.public_key().public_numbers()
    jwk = {
        "kty": "EC",
        "crv": "P-256",
        "x": _b64(numbers.x.to_bytes(32, "big")),
        "y": _b64(numbers.y.to_bytes(32, "big")),
    }
    settings = services.settings
    bound = sign_card_token(
        services.keyring,
        user_number=card.user_number,
        expires_at=end_of_day(card.expires_on, services.policy.timezone),
        jti=card.token_jti,
        issuer=settings.issuer,
        audience=settings.token_audience,
        now=datetime.now(UTC),
        device_jwk=jwk,
    )
    step = time_step(datetime.now(UTC))
    r, s = decode_dss_signature(
        phone.sign(proof_message(card.token_jti, step), ec.ECDSA(hashes.SHA256()))
    )
    code = f"{bound}~{step}~{_b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"
    answer = await _scan(client, token, code)
    assert (answer["status"], answer["tone"], answer["holder"]) == ("valid", "ok", "山田 花子")
    assert answer["user_number"] == card.user_number
    generic = (await _scan(client, token, "hello"))["words"]
    alone = await _scan(client, token, bound)
    assert (alone["status"], alone["user_number"]) == ("invalid", card.user_number)
    assert alone["words"] == (
        "利用者に、利用カードの画面の「切り替わるコード」を表示してもらってください。"
    )
    stale = await _scan(client, token, code.replace(f"~{step}~", f"~{step - 10}~"))
    assert stale["status"] == "invalid"
    assert stale["words"] != generic
    for cut in (f"{bound}~{step}", f"{bound}~"):
        answer = await _scan(client, token, cut)
        assert (answer["status"], answer["title"]) == ("invalid", "読み取りエラー")
