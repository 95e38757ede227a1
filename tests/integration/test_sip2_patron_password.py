"""The patron's password a kiosk sends in AD, over a real socket on both engines: CQ Y for the
password the patron set for My Library, N for a wrong one, none set, an empty AD or a card
not in use, no CQ without AD; and wrong passwords limited as patron login limits them, on
the same per-account count as the web login."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date

import pytest
from sqlalchemy import update

from cardservice.cards.models import Card, RevocationReason
from cardservice.cards.service import revoke_card, set_suspended
from cardservice.patrons.login import (
    PATRON_LOGIN_PER_ACCOUNT,
    LoginLimits,
    PatronLoginLimited,
    authenticate_patron,
)
from cardservice.patrons.service import NewPatron, create_patron_with_card
from cardservice.security.models import RateCounter
from cardservice.security.passwords import hash_password
from cardservice.security.ratelimit import hit
from cardservice.services import Services
from cardservice.sip2.kiosks import add_kiosk
from cardservice.sip2.server import Sip2Server
from tests.card_support import PATRON_PASSWORD, card_token_of
from tests.factories import make_card
from tests.sip2_support import DATE, KIOSK, KIOSK_PASSWORD, Answer, Sip2Client

_HASHES: dict[str, str] = {}


async def _hash(password: str) -> str:
    if password not in _HASHES:  # one Argon2 hash a password for the module
        _HASHES[password] = await hash_password(password)
    return _HASHES[password]


async def sample_patron(services: Services) -> Card:
    """A patron who set ``PATRON_PASSWORD`` for My Library, with a card."""
    async with services.db.transaction() as session:
        return await create_patron_with_card(
            session,
            NewPatron(
                family_name="山田",
                given_name="栞",
                family_kana="やまだ",
                given_kana="しおり",
                birth_date=date(1990, 4, 1),
                email="shiori@example.org",
                password_hash=await _hash(PATRON_PASSWORD),
            ),
            services.policy,
        )


@pytest.fixture
async def kiosk(services: Services) -> AsyncIterator[Sip2Client]:
    async with services.db.transaction() as session:
        await add_kiosk(session, KIOSK, await _hash(KIOSK_PASSWORD))
    listening = await Sip2Server(services, institution="minato").start("127.0.0.1", 0)
    client = await Sip2Client.connect(listening.sockets[0].getsockname()[1])
    try:
        assert await client.login()
        yield client
    finally:
        await client.close()
        listening.close()
        await listening.wait_closed()


async def _status(kiosk: Sip2Client, patron: str, tail: str, language: str = "001") -> Answer:
    return await kiosk.send(f"23{language}{DATE}AOminato|AA{patron}|AC|{tail}")


async def _information(kiosk: Sip2Client, patron: str, tail: str) -> Answer:
    return await kiosk.send(f"63001{DATE}          AOminato|AA{patron}|{tail}")


async def test_the_patrons_own_password_gets_cq_y_and_anything_else_n(
    kiosk: Sip2Client, services: Services
) -> None:
    card = await sample_patron(services)
    number = card.user_number
    right = await _status(kiosk, number, f"AD{PATRON_PASSWORD}|")
    assert (right.field("BL"), right.field("CQ")) == ("Y", "Y")
    # CQ follows BL, as the guide orders the fields.
    assert "|BLY|CQY|AF" in right.text
    wrong = await _status(kiosk, number, "ADShiori-2025!|")
    assert (wrong.field("BL"), wrong.field("CQ")) == ("Y", "N")
    assert wrong.field("AF") == right.field("AF")  # the verdict's words, no claim about a limit
    # The patron types full-width digits on a kiosk's Japanese keyboard: NFKC, as on the web.
    wide = await _status(kiosk, number, "ADShiori-２０２４!|")
    assert wide.field("CQ") == "Y"
    # No AD: nothing checked, no CQ; an empty AD (a kiosk that asks no password): N.
    assert (await _status(kiosk, number, "")).field("CQ") is None
    assert (await _status(kiosk, number, "AD|")).field("CQ") == "N"
    # Patron Information, by number and by the card's QR token.
    info = await _information(kiosk, number, f"AD{PATRON_PASSWORD}|")
    assert (info.text[:2], info.field("BL"), info.field("CQ")) == ("64", "Y", "Y")
    assert (await _information(kiosk, number, "ADnope|")).field("CQ") == "N"
    assert (await _information(kiosk, number, "")).field("CQ") is None
    token = card_token_of(services, card)
    assert (await _information(kiosk, token, f"AD{PATRON_PASSWORD}|")).field("CQ") == "Y"


async def test_no_password_set_a_card_not_in_use_and_an_unknown_card_get_cq_n(
    kiosk: Sip2Client, services: Services
) -> None:
    never_set = await make_card(services, email="nopassword@example.org")
    answer = await _status(kiosk, never_set.user_number, f"AD{PATRON_PASSWORD}|")
    assert (answer.field("BL"), answer.field("CQ")) == ("Y", "N")

    card = await sample_patron(services)
    async with services.db.transaction() as session:  # suspended: in use, the password checked
        row = await session.get(Card, card.id)
        assert row is not None
        set_suspended(row, "staff")
    answer = await _status(kiosk, card.user_number, f"AD{PATRON_PASSWORD}|")
    assert (answer.field("BL"), answer.field("CQ")) == ("Y", "Y")
    async with services.db.transaction() as session:  # revoked: never Y, whatever is typed
        row = await session.get(Card, card.id)
        assert row is not None
        await revoke_card(session, row, RevocationReason.LOST, services.policy)
    answer = await _status(kiosk, card.user_number, f"AD{PATRON_PASSWORD}|")
    assert (answer.field("BL"), answer.field("CQ")) == ("N", "N")

    misread = card.user_number[:-1] + str((int(card.user_number[-1]) + 1) % 10)
    for patron in (misread, "hello", "", "x" * 3000):
        answer = await _status(kiosk, patron, f"AD{PATRON_PASSWORD}|")
        assert (answer.field("BL"), answer.field("CQ")) == ("N", "N")
    # A password with a "|" cannot be sent (it ends the field); the rest reads as unknown fields.
    answer = await _status(kiosk, card.user_number, "ADabc|d|")
    assert answer.field("CQ") == "N"


async def test_wrong_passwords_are_limited_with_the_web_logins_count(
    kiosk: Sip2Client, services: Services
) -> None:
    card = await sample_patron(services)
    number = card.user_number
    limits = LoginLimits()
    # A right password gives its count back: wrong, right, wrong leaves two failures.
    for typed, cq in (("wrong-1", "N"), (PATRON_PASSWORD, "Y"), ("wrong-2", "N")):
        assert (await _status(kiosk, number, f"AD{typed}|")).field("CQ") == cq
    # The web login's failures on the same account fill the rest of the limit.
    async with services.db.transaction() as session:
        for _ in range(limits.per_account - 2):
            await hit(
                session,
                PATRON_LOGIN_PER_ACCOUNT,
                f"patron:{card.patron_id}",
                limit=10**6,
                window=limits.window,
            )
    over = await _status(kiosk, number, f"AD{PATRON_PASSWORD}|")
    assert (over.field("BL"), over.field("CQ")) == ("Y", "N")  # even the right one, unhashed
    assert (over.field("AF") or "").endswith(
        "Too many login attempts. Please wait a while and try again."
    )
    japanese = await _status(kiosk, number, f"AD{PATRON_PASSWORD}|", language="014")
    assert japanese.field("CQ") == "N"
    assert (japanese.field("AF") or "").endswith(
        "日。ログインの試行回数が多すぎます。しばらく時間をおいてから、もう一度お試しください。"
    )
    # Without AD the kiosk still gets the card's verdict, with no word about passwords.
    plain = await _status(kiosk, number, "")
    assert plain.field("CQ") is None
    assert "Too many" not in (plain.field("AF") or "")
    # The kiosk's guesses counted on the web login's account too.
    with pytest.raises(PatronLoginLimited):
        await authenticate_patron(
            services.db,
            number,
            PATRON_PASSWORD,
            number_format=services.policy.number_format,
            client="198.51.100.7",
        )
    # The window past, the patron's password is accepted again.
    async with services.db.transaction() as session:
        await session.execute(update(RateCounter).values(hits=0))
    assert (await _status(kiosk, number, f"AD{PATRON_PASSWORD}|")).field("CQ") == "Y"
