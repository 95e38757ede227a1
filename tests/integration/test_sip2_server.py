"""The SIP2 server over a real socket, on both engines: login, SC status, the patron answers
for every verdict, the card's last use, and every kind of bad input."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import delete, update

from cardservice.calendar import local_today
from cardservice.cards.models import Card, RevocationReason
from cardservice.cards.service import revoke_card, set_suspended
from cardservice.security.models import RateCounter
from cardservice.security.ratelimit import hit
from cardservice.services import Services
from cardservice.sip2.codec import checksum, resend
from cardservice.sip2.kiosks import (
    LOGIN_LIMIT,
    LOGIN_PER_CLIENT,
    LOGIN_WINDOW,
    add_kiosk,
    disable_kiosk,
)
from cardservice.sip2.server import MAX_RESENDS, SUPPORTED_MESSAGES, Sip2Server
from tests.card_support import card_token_of
from tests.factories import make_card
from tests.sip2_support import KIOSK, KIOSK_PASSWORD, Sip2Client

_HASHES: dict[str, str] = {}


async def _kiosk_hash() -> str:
    # One Argon2 hash for the module: the same password every test.
    if "kiosk" not in _HASHES:
        from cardservice.security.passwords import hash_password  # noqa: PLC0415

        _HASHES["kiosk"] = await hash_password(KIOSK_PASSWORD)
    return _HASHES["kiosk"]


@pytest.fixture
async def port(services: Services) -> AsyncIterator[int]:
    async with services.db.transaction() as session:
        await add_kiosk(session, KIOSK, await _kiosk_hash())
    listening = await Sip2Server(services, institution="minato").start("127.0.0.1", 0)
    try:
        yield listening.sockets[0].getsockname()[1]
    finally:
        listening.close()
        await listening.wait_closed()


@pytest.fixture
async def kiosk(port: int) -> AsyncIterator[Sip2Client]:
    client = await Sip2Client.connect(port)
    assert await client.login()
    try:
        yield client
    finally:
        await client.close()


async def test_sc_status_after_login(kiosk: Sip2Client) -> None:
    answer = await kiosk.send("990 402.00")
    assert answer.text.startswith("98YNNNNN030003")
    assert answer.text[32:36] == "2.00"
    assert answer.field("AO") == "minato"
    assert answer.field("BX") == SUPPORTED_MESSAGES
    assert answer.raw[-10:-5] == b"AY1AZ"  # the request's sequence number, a checksum
    # The guide's own example, as it is printed.
    raw = await kiosk.send_raw(b"990 402.00AY1AZFCB4\r")
    assert raw.startswith(b"98")
    assert b"AY1AZ" in raw
    assert checksum(raw[:-5]) == raw[-5:-1].decode()
    answer = await kiosk.send("3520261130    101500AOminato|AA2000000014|")
    assert answer.text.startswith("36Y")
    assert answer.field("AA") == "2000000014"
    again = await kiosk.send_raw(b"97AZ" + checksum(b"97AZ").encode() + b"\r")
    assert again == answer.raw


async def test_a_valid_card_in_japanese_and_english(kiosk: Sip2Client, services: Services) -> None:
    card = await make_card(services)
    answer = await kiosk.patron_status(card.user_number)
    assert answer.text[2:16] == " " * 14
    assert answer.text[16:19] == "014"
    assert answer.field("AA") == card.user_number
    assert answer.field("AE") == "山田 花子"
    assert answer.field("BL") == "Y"
    year = card.expires_on.year
    assert answer.field("AF") == (
        f"有効：このカードは利用できます。有効期限：{year}年"
        f"{card.expires_on.month}月{card.expires_on.day}日"
    )
    info = await kiosk.patron_information(card_token_of(services, card))
    assert info.text.startswith("64" + " " * 14 + "001")
    assert info.text[37:61] == "0" * 24
    assert info.field("AE") == "山田 花子"
    assert info.field("AF") == (
        f"Valid: The card may be used. Expires on "
        f"{card.expires_on.day} {card.expires_on.strftime('%B')} {year}."
    )
    # A valid scan records the card's last use, as the verify API does.
    assert services.verifier.last_use is not None
    await services.verifier.last_use.drain()
    async with services.db.transaction() as session:
        row = await session.get(Card, card.id)
        assert row is not None
        used = row.last_used_on
    assert used == local_today(services.policy.timezone, datetime.now(UTC))


async def test_expired_suspended_revoked_unknown_and_invalid(
    kiosk: Sip2Client, services: Services
) -> None:
    expired = await make_card(services, email="expired@example.org")
    suspended = await make_card(services, email="suspended@example.org")
    lost = await make_card(services, email="lost@example.org")
    async with services.db.transaction() as session:
        await session.execute(
            update(Card).where(Card.id == expired.id).values(expires_on=date(2020, 3, 31))
        )
        row = await session.get(Card, suspended.id)
        assert row is not None
        set_suspended(row, "reported_lost")
        row = await session.get(Card, lost.id)
        assert row is not None
        await revoke_card(session, row, RevocationReason.LOST, services.policy)

    answer = await kiosk.patron_status(expired.user_number, language="001")
    assert answer.text[2:16] == "YYYY" + " " * 10
    assert (answer.field("BL"), answer.field("AE")) == ("Y", "山田 花子")
    assert answer.field("AF") == (
        "Expired: The card has expired. It can be renewed at the counter. Expires on 31 March 2020."
    )

    answer = await kiosk.patron_status(suspended.user_number, language="001")
    assert answer.text[2:16] == "YYYYY" + " " * 9  # card reported lost
    assert answer.field("BL") == "Y"
    assert (answer.field("AF") or "").startswith("Suspended: The card has been reported lost.")

    answer = await kiosk.patron_status(lost.user_number)
    assert answer.text[2:16] == "YYYYY" + " " * 9
    assert (answer.field("BL"), answer.field("AE")) == ("N", "")
    assert answer.field("AF") == "失効：紛失の届出により無効になったカードです。"

    wrong_digit = lost.user_number[:-1] + str((int(lost.user_number[-1]) + 1) % 10)
    answer = await kiosk.patron_status(wrong_digit, language="001")
    assert answer.text[2:16] == "YYYY" + " " * 10
    assert answer.field("BL") == "N"
    assert answer.field("AF") == (
        "Not a card number: The check digit is wrong: the number was misread or mistyped."
    )

    for garbage in ("", "hello", "eyJhbGciOi.x.y", "１２３"):
        answer = await kiosk.patron_status(garbage)
        assert answer.field("BL") == "N"
        assert answer.text[2:6] == "YYYY"


async def test_a_patron_information_without_its_summary_gets_96_not_an_answer_for_nobody(
    kiosk: Sip2Client, services: Services
) -> None:
    card = await make_card(services)
    cut = f"6300120261130    101500AOminato|AA{card.user_number}|\r".encode()
    assert await kiosk.send_raw(cut) == resend()
    answer = await kiosk.patron_information(card.user_number)  # the same, with its summary
    assert answer.text.startswith("64" + " " * 14)
    assert answer.field("AA") == card.user_number
    assert answer.field("BL") == "Y"


async def test_control_characters_in_fields_get_96_on_both_engines(
    port: int, services: Services
) -> None:
    """NUL (which PostgreSQL refuses in text) or another control in a login or a patron id
    is an unreadable line, not an error that drops the connection."""
    client = await Sip2Client.connect(port)
    assert await client.send_raw(b"9300CNgate\x00|COx|CPx|\r") == resend()
    assert await client.login()  # the same connection goes on
    card = await make_card(services)
    for bad in (b"\x00", b"\x1b", b"\xc2\x85"):  # NUL, ESC, NEL (C1)
        line = b"2300120261130    101500AOminato|AA" + card.user_number.encode() + bad + b"|\r"
        assert await client.send_raw(line) == resend()
        assert (await client.patron_status(card.user_number)).field("BL") == "Y"
    await client.close()


async def test_bad_checksums_get_96_then_the_connection_closes(kiosk: Sip2Client) -> None:
    for _ in range(MAX_RESENDS):
        assert await kiosk.send_raw(b"990 402.00AY1AZFCB5\r") == resend()
    # A good message in between resets the count; then garbage counts again.
    assert (await kiosk.send("990 402.00")).text.startswith("98")
    for line in (b"\x00\xff\xfe garbage\r", b"23short\r", b"x\r"):
        assert await kiosk.send_raw(line) == resend()
    assert await kiosk.send_raw(b"990 402.00AY1AZ0000\r") == b""


async def test_unknown_messages_long_lines_no_login_and_idling_close_the_connection(
    port: int, services: Services
) -> None:
    for line in (b"11YN20261130    101500AOx|AAy|AB1|AC|\r", b"9" * 5000 + b"\r"):
        client = await Sip2Client.connect(port)
        assert await client.login()
        assert await client.send_raw(line) == b""
        await client.close()
    # Nothing is answered before login.
    card = await make_card(services)
    client = await Sip2Client.connect(port)
    request = f"2300120261130    101500AOx|AA{card.user_number}|\r".encode()
    assert await client.send_raw(request) == b""
    await client.close()
    # The server itself goes on.
    client = await Sip2Client.connect(port)
    assert await client.login()
    await client.close()
    # A connection that stays silent is closed.
    listening = await Sip2Server(services, institution="x", idle_seconds=0.2).start("127.0.0.1", 0)
    try:
        client = await Sip2Client.connect(listening.sockets[0].getsockname()[1])
        assert await asyncio.wait_for(client.closed(), 5)
        await client.close()
    finally:
        listening.close()
        await listening.wait_closed()
    # One that never logs in is closed sooner than a logged-in kiosk that is quiet a while.
    server = Sip2Server(services, institution="x", idle_seconds=30, login_seconds=0.3)
    listening = await server.start("127.0.0.1", 0)
    try:
        listening_port = listening.sockets[0].getsockname()[1]
        stranger = await Sip2Client.connect(listening_port)
        quiet = await Sip2Client.connect(listening_port)
        assert await quiet.login()
        assert await asyncio.wait_for(stranger.closed(), 5)
        await asyncio.sleep(0.3)  # past the login time: the logged-in kiosk is still served
        assert (await quiet.send("990 402.00")).text.startswith("98")
        await stranger.close()
        await quiet.close()
    finally:
        listening.close()
        await listening.wait_closed()


async def test_wrong_logins_then_closed_and_disabled_kiosks_refused(
    port: int, services: Services
) -> None:
    client = await Sip2Client.connect(port)
    assert not await client.login(password="wrong")
    assert not await client.login(name="nobody")
    assert (await client.send("9310CNgate-1|CO" + KIOSK_PASSWORD + "|")).text == "940"
    assert await client.closed()
    await client.close()
    # Over the failed logins allowed from one address, even the right password is refused,
    # unhashed, and the connection closes.
    async with services.db.transaction() as session:
        for _ in range(LOGIN_LIMIT):
            await hit(session, LOGIN_PER_CLIENT, "127.0.0.1", limit=10**6, window=LOGIN_WINDOW)
    client = await Sip2Client.connect(port)
    assert not await client.login()
    assert await client.closed()
    await client.close()
    async with services.db.transaction() as session:
        await session.execute(delete(RateCounter))
        await disable_kiosk(session, KIOSK)
    client = await Sip2Client.connect(port)
    assert not await client.login()
    await client.close()
