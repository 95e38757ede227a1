"""The recovery rules without HTTP, on both engines: dates as people type them, the limits,
which patrons a request names, and bound links for resets and email changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from cardservice.mail.errors import InvalidRecipient
from cardservice.patrons import email_change, recovery
from cardservice.patrons.models import Patron
from cardservice.security import passwords
from cardservice.security.links import LinkInvalid, LinkPurpose, issue, subject_of
from cardservice.security.ratelimit import allow_recovery_email, normalise_address
from cardservice.services import Services
from tests.unit.patrons.support import BIRTH, EMAIL, NEW_PASSWORD, mails, make_patron

T0 = datetime(2030, 1, 1, 9, tzinfo=UTC)
REQUESTER = recovery.Requester(client="192.0.2.1", language="ja")


@pytest.mark.parametrize(
    "typed",
    ["1990-04-01", "1990/4/1", "1990.04.01", "1990年4月1日", "１９９０－０４－０１", " 1990-4-1 "],
)
def test_birth_dates_as_people_type_them(typed: str) -> None:
    assert recovery.parse_birth_date(typed) == date(1990, 4, 1)


@pytest.mark.parametrize("typed", ["", "1990-02-30", "1990-13-01", "April 1st", "90-4-1"])
def test_birth_dates_that_are_no_dates(typed: str) -> None:
    with pytest.raises(recovery.BirthDateInvalid) as raised:
        recovery.parse_birth_date(typed)
    assert raised.value.detail == {"field": "birth_date"}


def test_addresses_are_normalised_and_checked() -> None:
    assert recovery.recovery_address(" ＨＡＮＡＫＯ@Example.ORG ") == "hanako@example.org"
    assert normalise_address("Ｈａｎａｋｏ@example.org") == "hanako@example.org"
    for bad in ("", "hanako", "hanako@", "a@b", "x" * 300 + "@example.org"):
        with pytest.raises(InvalidRecipient) as raised:
            recovery.recovery_address(bad)
        assert raised.value.detail == {"field": "email"}


async def test_recovery_limits_count_both_keys_every_time(services: Services) -> None:
    section = services.settings.profile.patrons
    async with services.db.transaction() as session:
        answers = [
            await allow_recovery_email(
                session, section, key="Hanako@Example.org", client="192.0.2.1", now=T0
            )
            for _ in range(section.recovery_per_address_per_hour + 1)
        ]
        other = await allow_recovery_email(
            session, section, key="jiro@example.org", client="192.0.2.1", now=T0
        )
        later = await allow_recovery_email(
            session,
            section,
            key="hanako@example.org",
            client="192.0.2.9",
            now=T0 + timedelta(hours=2),
        )
    assert answers[-1] is False
    assert all(answers[:-1])
    assert other is True
    assert later is True


async def test_the_number_email_lists_only_matching_patrons(services: Services) -> None:
    mother = await make_patron(services)
    await make_patron(services, given="一郎", birth_date=date(1960, 5, 5))
    async with services.db.transaction() as session:
        await recovery.remind_numbers(
            session,
            EMAIL,
            BIRTH,
            requester=REQUESTER,
            profile=services.settings.profile,
            base_url="https://cards.example.org/",
            now=T0,
        )
    [mail] = await mails(services, "number_reminder")
    assert mother.user_number in mail.body_text
    assert "一郎" not in mail.body_text
    assert "https://cards.example.org/login" in mail.body_text


async def test_a_family_address_gets_one_reset_link_per_person(services: Services) -> None:
    first = await make_patron(services)
    second = await make_patron(services, given="太郎", password=None)
    async with services.db.transaction() as session:
        await recovery.request_reset(
            session,
            "HANAKO@example.org",
            requester=REQUESTER,
            profile=services.settings.profile,
            number_format=services.policy.number_format,
            base_url="https://cards.example.org",
            now=T0,
        )
    sent = await mails(services, "password_reset")
    assert [m.to_address for m in sent] == [EMAIL, EMAIL]
    assert "山田 花子 様" in sent[0].body_text
    assert "山田 太郎 様" in sent[1].body_text
    tokens = [m.body_text.split("/password/reset/")[1].split()[0] for m in sent]
    async with services.db.transaction() as session:
        subjects = [await subject_of(session, LinkPurpose.PASSWORD_RESET, t) for t in tokens]
        targets = [await recovery.reset_target(session, t, now=T0) for t in tokens]
    assert subjects == [str(first.patron_id), str(second.patron_id)]
    assert [t.id for t in targets] == [first.patron_id, second.patron_id]


async def test_a_reset_link_is_one_purpose_only(services: Services) -> None:
    card = await make_patron(services)
    async with services.db.transaction() as session:
        verify = await issue(
            session, LinkPurpose.VERIFY_EMAIL, str(card.patron_id), timedelta(hours=1), now=T0
        )
    async with services.db.transaction() as session:
        with pytest.raises(LinkInvalid) as raised:
            await recovery.reset_target(session, verify, now=T0)
    assert raised.value.code == "link_wrong_purpose"


async def test_reset_password_uses_the_link_once(services: Services) -> None:
    card = await make_patron(services)
    async with services.db.transaction() as session:
        stored = await session.get(Patron, card.patron_id)
        assert stored is not None
        token = await issue(
            session,
            LinkPurpose.PASSWORD_RESET,
            str(card.patron_id),
            timedelta(hours=1),
            bound_to=stored.password_hash or "",
            now=T0,
        )
    new_hash = await passwords.hash_password(NEW_PASSWORD)
    profile = services.settings.profile
    async with services.db.transaction() as session:
        await recovery.reset_password(
            session, token, new_hash, profile=profile, base_url="https://x", language="en", now=T0
        )
    async with services.db.transaction() as session:
        with pytest.raises(LinkInvalid) as raised:
            await recovery.reset_password(
                session, token, new_hash, profile=profile, base_url="https://x", language="en"
            )
    assert raised.value.code == "link_used"
    [notice] = await mails(services, "password_changed")
    assert notice.language == "en"


async def test_email_change_refuses_the_same_address_and_too_long_ones(
    services: Services,
) -> None:
    card = await make_patron(services)
    profile = services.settings.profile
    async with services.db.transaction() as session:
        stored = await session.get(Patron, card.patron_id)
        assert stored is not None
        with pytest.raises(email_change.EmailUnchanged):
            await email_change.request_change(
                session, stored, " HANAKO@example.org", profile=profile, base_url="", language="ja"
            )
        with pytest.raises(email_change.EmailTooLong):
            await email_change.request_change(
                session,
                stored,
                # 253 characters: a valid address, but no room left for the patron id.
                "a" * 64 + "@" + "b" * 60 + "." + "c" * 60 + "." + "d" * 63 + ".jp",
                profile=profile,
                base_url="",
                language="ja",
            )
    assert await mails(services, "email_change_verify") == []


async def test_email_change_requests_are_limited_per_patron(services: Services) -> None:
    card = await make_patron(services)
    profile = services.settings.profile
    limit = profile.patrons.recovery_per_address_per_hour
    async with services.db.transaction() as session:
        stored = await session.get(Patron, card.patron_id)
        assert stored is not None
        sent = [
            await email_change.request_change(
                session,
                stored,
                f"new{n}@example.org",
                profile=profile,
                base_url="https://x",
                language="ja",
                now=T0,
            )
            for n in range(limit + 1)
        ]
    assert sent[:-1] == [f"new{n}@example.org" for n in range(limit)]
    assert sent[-1] is None
    assert len(await mails(services, "email_change_verify")) == limit
    assert await mails(services, "email_changed") == []  # nothing changes before the link
