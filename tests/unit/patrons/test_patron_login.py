"""Patron login on both engines: by number or email, one answer for every failure, limits."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from cardservice.cards.models import Card, RevocationReason
from cardservice.cards.numbers import barcode_text
from cardservice.cards.service import CardPolicy, revoke_card
from cardservice.patrons.login import (
    LoginLimits,
    PatronBadCredentials,
    PatronLoginLimited,
    authenticate_patron,
    parse_login,
    session_patron,
)
from cardservice.patrons.models import Patron
from cardservice.patrons.service import NewPatron, create_patron_with_card
from cardservice.profiles import load_profile
from cardservice.security import passwords
from cardservice.security.passwords import password_fingerprint
from cardservice.services import Services

PASSWORD = "Shiori-2024!"
T0 = datetime(2030, 1, 1, 9, tzinfo=UTC)  # on a window boundary
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


async def make_patron(
    services: Services,
    *,
    email: str = "hanako@example.org",
    password: str | None = PASSWORD,
    given: str = "花子",
) -> Card:
    hashed = await passwords.hash_password(password) if password else None
    async with services.db.transaction() as session:
        return await create_patron_with_card(
            session,
            NewPatron(
                family_name="山田",
                given_name=given,
                family_kana="やまだ",
                given_kana="はなこ",
                birth_date=date(1990, 4, 1),
                email=email,
                password_hash=hashed,
            ),
            services.policy,
        )


async def log_in(
    services: Services,
    login: str,
    password: str = PASSWORD,
    *,
    client: str = "192.0.2.1",
    limits: LoginLimits | None = None,
    now: datetime = T0,
) -> Patron:
    return await authenticate_patron(
        services.db,
        login,
        password,
        number_format=services.policy.number_format,
        client=client,
        limits=limits,
        now=now,
    )


async def test_by_user_number(services: Services) -> None:
    card = await make_patron(services)
    patron = await log_in(services, card.user_number)
    assert patron.id == card.patron_id


async def test_scanned_and_typed_numbers_are_normalised(services: Services) -> None:
    card = await make_patron(services)
    number, fmt = card.user_number, services.policy.number_format
    spaced = f" {number[:4]} {number[4:8]}-{number[8:]} "
    for typed in (
        number.translate(FULL_WIDTH),
        spaced,
        barcode_text(fmt, number),  # what a scanner passes through, start/stop included
        barcode_text(fmt, number).lower(),
    ):
        assert (await log_in(services, typed)).id == card.patron_id, typed


async def test_by_email_in_any_case_and_width(services: Services) -> None:
    card = await make_patron(services)
    for typed in (
        "hanako@example.org",
        " Hanako@Example.ORG ",
        "ｈａｎａｋｏ＠ｅｘａｍｐｌｅ.ｏｒｇ",
    ):
        assert (await log_in(services, typed)).id == card.patron_id, typed


@pytest.mark.parametrize(
    "login", ["number", "nobody@example.org", "1234", "not a number", "", "x" * 300]
)
async def test_wrong_password_and_unknown_accounts_answer_alike(
    services: Services, login: str
) -> None:
    card = await make_patron(services)
    typed = card.user_number if login == "number" else login
    password = "wrong-password-1!" if login == "number" else PASSWORD
    with pytest.raises(PatronBadCredentials) as raised:
        await log_in(services, typed, password)
    assert raised.value.code == "patron_bad_credentials"
    assert raised.value.detail == {}  # nothing about which part was wrong


async def test_patron_without_a_password_cannot_log_in(services: Services) -> None:
    card = await make_patron(services, password=None)
    for typed in (card.user_number, "hanako@example.org"):
        with pytest.raises(PatronBadCredentials):
            await log_in(services, typed, "")
        with pytest.raises(PatronBadCredentials):
            await log_in(services, typed)


async def test_a_family_sharing_one_email_each_log_in_with_their_own_password(
    services: Services,
) -> None:
    mother = await make_patron(services, email="yamada.family@example.org")
    child = await make_patron(
        services, email="yamada.family@example.org", password="Ehon-no-mori-7", given="太郎"
    )
    grandpa = await make_patron(services, email="yamada.family@example.org", password=None)
    email = "yamada.family@example.org"
    assert (await log_in(services, email)).id == mother.patron_id
    assert (await log_in(services, email, "Ehon-no-mori-7")).id == child.patron_id
    with pytest.raises(PatronBadCredentials):
        await log_in(services, email, "")
    assert grandpa.patron_id not in (mother.patron_id, child.patron_id)


async def test_a_revoked_number_no_longer_logs_in_but_the_email_does(
    services: Services,
) -> None:
    card = await make_patron(services)
    async with services.db.transaction() as session:
        stored = await session.get(Card, card.id)
        assert stored is not None
        await revoke_card(session, stored, RevocationReason.LOST, services.policy)
    with pytest.raises(PatronBadCredentials):
        await log_in(services, card.user_number)
    assert (await log_in(services, "hanako@example.org")).id == card.patron_id


async def test_account_limit_holds_for_number_and_email_alike(services: Services) -> None:
    card = await make_patron(services)
    other = await make_patron(services, email="jiro@example.org")
    limits = LoginLimits(per_account=3, per_client=100)
    for attempt in (card.user_number, "hanako@example.org", card.user_number):
        with pytest.raises(PatronBadCredentials):
            await log_in(services, attempt, "guess-1234!", limits=limits)
    # The right password, by either name, from another address: refused while over.
    for attempt in (card.user_number, "hanako@example.org"):
        with pytest.raises(PatronLoginLimited) as raised:
            await log_in(services, attempt, limits=limits, client="198.51.100.7")
        assert raised.value.code == "patron_login_limited"
    # Other accounts are not affected; the limit lifts once the window has passed.
    assert (await log_in(services, other.user_number, limits=limits)).id == other.patron_id
    later = T0 + timedelta(minutes=31)
    assert (await log_in(services, card.user_number, limits=limits, now=later)).id == card.patron_id


async def test_unknown_accounts_are_limited_the_same_way(services: Services) -> None:
    limits = LoginLimits(per_account=2, per_client=100)
    for _ in range(2):
        with pytest.raises(PatronBadCredentials):
            await log_in(services, "nobody@example.org", limits=limits)
    with pytest.raises(PatronLoginLimited):
        await log_in(services, "nobody@example.org", limits=limits)


async def test_client_limit_across_accounts(services: Services) -> None:
    card = await make_patron(services)
    limits = LoginLimits(per_account=100, per_client=3)
    for number in ("a@example.org", "b@example.org", "c@example.org"):
        with pytest.raises(PatronBadCredentials):
            await log_in(services, number, limits=limits)
    with pytest.raises(PatronLoginLimited):
        await log_in(services, card.user_number, limits=limits)
    assert (await log_in(services, card.user_number, limits=limits, client="192.0.2.2")).id


async def test_a_weaker_hash_is_replaced_on_login(services: Services) -> None:
    card = await make_patron(services, password=None)
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    async with services.db.transaction() as session:
        patron = await session.get(Patron, card.patron_id)
        assert patron is not None
        patron.password_hash = weak
    await log_in(services, card.user_number)
    async with services.db.transaction() as session:
        stored = await session.scalar(
            select(Patron.password_hash).where(Patron.id == card.patron_id)
        )
    assert stored is not None
    assert stored != weak
    assert f"m={passwords.MEMORY_COST_KIB}" in stored
    assert (await passwords.verify_password(stored, PASSWORD)).ok


async def test_session_holds_until_the_password_changes(services: Services) -> None:
    card = await make_patron(services)
    patron = await log_in(services, card.user_number)
    fingerprint = password_fingerprint(patron.password_hash)
    async with services.db.transaction() as session:
        assert (await session_patron(session, patron.id, fingerprint)) is not None
        assert (await session_patron(session, patron.id, "0" * 32)) is None
        assert (await session_patron(session, str(patron.id), fingerprint)) is None
        assert (await session_patron(session, True, fingerprint)) is None
        assert (await session_patron(session, patron.id + 999, fingerprint)) is None
        stored = await session.get(Patron, patron.id)
        assert stored is not None
        stored.password_hash = await passwords.hash_password("Another-pass-99")
    async with services.db.transaction() as session:
        assert (await session_patron(session, patron.id, fingerprint)) is None


def test_parse_login_tells_email_from_number() -> None:
    fmt = CardPolicy.of(load_profile("example")).number_format
    assert parse_login(fmt, "Hanako@Example.org").kind == "email"
    assert parse_login(fmt, "hello").kind is None


# --- only failures count ------------------------------------------------------------------


async def test_successful_logins_do_not_count(services: Services) -> None:
    card = await make_patron(services)
    limits = LoginLimits(per_account=3, per_client=3)
    for attempt in range(8):  # a patron logging in on every visit never meets the limit
        typed = card.user_number if attempt % 2 else "hanako@example.org"
        assert (await log_in(services, typed, limits=limits)).id == card.patron_id
    for _ in range(3):
        with pytest.raises(PatronBadCredentials):
            await log_in(services, card.user_number, "guess-1234!", limits=limits)
    # Three failures are the limit; the right password is refused now, and stays refused.
    for _ in range(2):
        with pytest.raises(PatronLoginLimited):
            await log_in(services, card.user_number, limits=limits)


async def test_a_refused_attempt_keeps_counting(services: Services) -> None:
    card = await make_patron(services)
    limits = LoginLimits(per_account=2, per_client=100)
    for _ in range(2):
        with pytest.raises(PatronBadCredentials):
            await log_in(services, card.user_number, "guess-1234!", limits=limits)
    for minutes in (1, 14):
        with pytest.raises(PatronLoginLimited):
            await log_in(
                services, card.user_number, limits=limits, now=T0 + timedelta(minutes=minutes)
            )
    # 2 failures and 2 refusals in the first window: at 24 minutes the sliding estimate
    # (4 x 6/15 = 1.6, plus this attempt) is still over 2, and this refusal counts as well:
    # at 29 minutes 4 x 1/15 + 2 is over too; at 44, 2 x 1/15 + 1 is not.
    for minutes in (24, 29):
        with pytest.raises(PatronLoginLimited):
            await log_in(
                services, card.user_number, limits=limits, now=T0 + timedelta(minutes=minutes)
            )
    later = T0 + timedelta(minutes=44)
    assert (await log_in(services, card.user_number, limits=limits, now=later)).id


async def test_a_failure_after_successes_counts_once(services: Services) -> None:
    card = await make_patron(services)
    limits = LoginLimits(per_account=1, per_client=100)
    assert (await log_in(services, card.user_number, limits=limits)).id == card.patron_id
    with pytest.raises(PatronBadCredentials):
        await log_in(services, card.user_number, "guess-1234!", limits=limits)
    with pytest.raises(PatronLoginLimited):
        await log_in(services, card.user_number, limits=limits)
