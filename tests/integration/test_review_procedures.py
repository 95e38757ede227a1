"""Approving, rejecting and picking the patron of a reissue, renewal or change of details,
through the domain, for both libraries' profiles on both engines.

A patron registers the ordinary way (applied, approved); the procedure's application is then
made as the applicant's side leaves it (``procedure``, ``patron_id``, ``previous`` from
``procedure_details.snapshot``, a "lost" card suspended at submission), and reviewed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
import time_machine
from sqlalchemy import select

from cardservice.cards.lifecycle import REPORTED_LOST, suspend_card
from cardservice.cards.models import (
    Card,
    CardEvent,
    CardStatus,
    RevocationReason,
    TokenRevocation,
)
from cardservice.cards.service import revoke_card
from cardservice.db.base import utcnow
from cardservice.patrons.card_view import current_card
from cardservice.patrons.models import Patron
from cardservice.patrons.service import NewPatron, create_patron_with_card
from cardservice.registration import candidates, review
from cardservice.registration.applicant import get_application
from cardservice.registration.checks import procedure_checks
from cardservice.registration.errors import ApplicationAlreadyDecided
from cardservice.registration.japan import normalise_phone, normalise_postal_code
from cardservice.registration.models import Application, ApplicationStatus
from cardservice.registration.procedure_details import snapshot
from cardservice.services import Services
from cardservice.staff.audit import for_target
from cardservice.staff.models import StaffUser
from tests.registration_flow import (
    EMAIL,
    FORMS,
    FRIDAY,
    load,
    make_reviewer,
    outbox,
    submitted_application,
)

# Within both libraries' renewal windows before the expiry of a card issued on FRIDAY
# (3 years: 3 April 2029): Yokohama opens 30 days before, Kashiwa one month before.
IN_WINDOW = datetime(2029, 3, 20, 1, 0, tzinfo=UTC)
# Another address inside each library's area, and one outside both.
MOVED: dict[str, dict[str, Any]] = {
    "yokohama": {"postal_code": "2200012", "prefecture": "神奈川県", "city": "横浜市西区"},
    "kashiwa": {"postal_code": "2770852", "prefecture": "千葉県", "city": "柏市"},
}
OUTSIDE: dict[str, Any] = {"postal_code": "1000001", "prefecture": "東京都", "city": "千代田区"}
NEW_PHONE = "+819012345678"


@pytest.fixture(params=["yokohama", "kashiwa"])
def profile_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(FRIDAY, tick=False) as traveller:
        yield traveller


# --------------------------------------------------------------------------- helpers


async def registered_patron(services: Services, email: str = EMAIL) -> Card:
    """A patron registered online the ordinary way (applied, approved); their card."""
    public_id = await submitted_application(services, email)
    staff = await make_reviewer(services, f"registrar-{email.partition('@')[0]}")
    return await approve(services, public_id, staff)


async def counter_patron(services: Services, email: str, **changes: Any) -> Card:
    """A patron registered at the counter (Yokohama turns away a second online registration
    of the same person); by default a namesake born the same day."""
    values: dict[str, Any] = {
        "family_name": "山田",
        "given_name": "花子",
        "family_kana": "ヤマダ",
        "given_kana": "ハナコ",
        "birth_date": date(1990, 4, 1),
        "email": email,
        **changes,
    }
    async with services.db.transaction() as session:
        return await create_patron_with_card(session, NewPatron(**values), services.policy)


async def approve(services: Services, public_id: str, staff: StaffUser) -> Card:
    async with services.db.transaction() as session:
        app = await get_application(session, public_id)
        return await review.approve(
            session,
            app,
            staff,
            services.policy,
            profile=services.settings.profile,
            base_url=services.settings.base_url,
        )


def form_values(services: Services, **changes: Any) -> dict[str, Any]:
    """The form columns as the applicant's side stores them (kana katakana, phone E.164)."""
    form = FORMS[services.settings.profile.id]
    values: dict[str, Any] = {
        "family_name": "山田",
        "given_name": "花子",
        "family_kana": "ヤマダ",
        "given_kana": "ハナコ",
        "birth_date": date(1990, 4, 1),
        "postal_code": normalise_postal_code(form["postal_code"]),
        "prefecture": form["prefecture"],
        "city": form["city"],
        "street": form["street"],
        "building": "",
        "phone": normalise_phone(form["phone"]),
        "basis": "lives",
    }
    return {**values, **changes}


async def procedure_application(
    services: Services,
    procedure: str,
    *,
    patron_id: int | None,
    reason: str | None = None,
    email: str = EMAIL,
    acknowledged: bool = True,
    **columns: Any,
) -> str:
    """A submitted reissue, renewal or change, as the applicant's side leaves it."""
    profile = services.settings.profile
    now = utcnow()
    async with services.db.transaction() as session:
        app = Application(
            email=email,
            language="ja",
            procedure=procedure,
            status=ApplicationStatus.SUBMITTED,
            consent_version=profile.registration.notes_version,
            consented_at=now,
            submitted_at=now,
            due_on=now.date(),
            reissue_reason=reason,
            eloan_acknowledged_at=now if procedure == "reissue" and acknowledged else None,
            patron_id=patron_id,
            **form_values(services, **columns),
        )
        if patron_id is not None:
            patron = await session.get(Patron, patron_id)
            assert patron is not None
            card = await current_card(session, patron_id)
            app.previous = snapshot(patron, card)
            if reason == "lost":  # the submission suspends a lost card at once
                assert card is not None
                await suspend_card(session, card, REPORTED_LOST)
        session.add(app)
        await session.flush()
        return app.public_id


async def card_of(services: Services, user_number: str) -> Card:
    async with services.db.transaction() as session:
        card = await session.scalar(select(Card).where(Card.user_number == user_number))
        assert card is not None
        return card


async def patron_of(services: Services, patron_id: int) -> Patron:
    async with services.db.transaction() as session:
        patron = await session.get(Patron, patron_id)
        assert patron is not None
        return patron


async def events(services: Services) -> list[CardEvent]:
    async with services.db.transaction() as session:
        return list(await session.scalars(select(CardEvent).order_by(CardEvent.id)))


async def audit_of(services: Services, public_id: str) -> list[Any]:
    async with services.db.transaction() as session:
        return list(await for_target(session, "application", public_id))


async def all_cards(services: Services) -> list[Card]:
    async with services.db.transaction() as session:
        return list(await session.scalars(select(Card).order_by(Card.id)))


# ---------------------------------------------------------------------------- reissue


async def test_a_lost_reissue_gives_a_new_number_and_revokes_the_old(
    services: Services, clock: time_machine.Traveller
) -> None:
    old = await registered_patron(services)
    public_id = await procedure_application(
        services, "reissue", patron_id=old.patron_id, reason="lost"
    )
    assert (await card_of(services, old.user_number)).status == CardStatus.SUSPENDED
    staff = await make_reviewer(services)

    new = await approve(services, public_id, staff)

    assert new.user_number != old.user_number
    assert new.patron_id == old.patron_id
    assert new.status == CardStatus.ACTIVE
    revoked = await card_of(services, old.user_number)
    assert revoked.status == CardStatus.REVOKED
    assert revoked.status_reason == "reissued"
    assert revoked.replaced_by_id == new.id
    async with services.db.transaction() as session:
        token = await session.get(TokenRevocation, old.token_jti)
    assert token is not None
    assert token.reason == "reissued"
    reissued = [e for e in await events(services) if e.kind == "reissued"]
    assert [(e.user_number, e.new_user_number) for e in reissued] == [
        (old.user_number, new.user_number)
    ]
    app = await load(services, public_id)
    assert app.status == ApplicationStatus.APPROVED
    assert app.card_id == new.id
    assert app.decided_by == staff.id
    patron = await patron_of(services, old.patron_id)
    assert (patron.family_name, patron.family_kana) == ("山田", "ヤマダ")  # no name change

    (mail,) = await outbox(services, "reissue_completed")
    assert mail.to_address == EMAIL
    notice = services.settings.profile.procedures.eloan_notice.ja
    for expected in (new.user_number, old.user_number, "https://cards.example.org/card", notice):
        assert expected in mail.body_text, expected
    assert new.user_number in mail.body_html
    (entry,) = [e for e in await audit_of(services, public_id) if e.action == "application.approve"]
    assert entry.detail["procedure"] == "reissue"
    assert entry.detail["old_user_number"] == old.user_number
    assert entry.detail["user_number"] == new.user_number


async def test_a_name_change_reissue_renames_the_patron_and_tells_both_addresses(
    services: Services, clock: time_machine.Traveller
) -> None:
    old = await registered_patron(services)
    public_id = await procedure_application(
        services,
        "reissue",
        patron_id=old.patron_id,
        reason="name_changed",
        email="hanako.sato@example.org",
        family_name="佐藤",
        family_kana="サトウ",
    )
    assert (await card_of(services, old.user_number)).status == CardStatus.ACTIVE

    new = await approve(services, public_id, await make_reviewer(services))

    patron = await patron_of(services, old.patron_id)
    assert (patron.family_name, patron.given_name) == ("佐藤", "花子")
    assert (patron.family_kana, patron.given_kana) == ("サトウ", "ハナコ")
    assert patron.email == EMAIL  # an email change is a procedure of its own
    assert (await card_of(services, old.user_number)).status_reason == "reissued"
    app = await load(services, public_id)
    assert app.previous["family_name"] == "山田"  # history keeps the old name
    mails = await outbox(services, "reissue_completed")
    # The applicant's verified address and the patron's registered one both hear of it.
    assert sorted(m.to_address for m in mails) == sorted([EMAIL, "hanako.sato@example.org"])
    for mail in mails:
        assert "佐藤 花子 様" in mail.body_text
        assert new.user_number in mail.body_text


async def test_two_reviewers_approving_one_reissue_at_once_give_one_number(
    services: Services,
) -> None:
    old = await registered_patron(services)
    public_id = await procedure_application(
        services, "reissue", patron_id=old.patron_id, reason="lost"
    )
    first = await make_reviewer(services, "first")
    second = await make_reviewer(services, "second")
    # PostgreSQL: both read the application before either writes. SQLite transactions
    # begin IMMEDIATE, so there the second one waits for the first from its start.
    barrier = None if services.db.is_sqlite else asyncio.Barrier(2)

    async def reviewer(staff: StaffUser) -> Card:
        async with services.db.transaction() as session:
            app = await get_application(session, public_id)
            if barrier is not None:
                await barrier.wait()
            return await review.approve(
                session,
                app,
                staff,
                services.policy,
                profile=services.settings.profile,
                base_url=services.settings.base_url,
            )

    results = await asyncio.gather(reviewer(first), reviewer(second), return_exceptions=True)

    cards = [r for r in results if isinstance(r, Card)]
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(cards) == 1, results
    assert len(refused) == 1
    assert isinstance(refused[0], ApplicationAlreadyDecided)
    numbers = [c.user_number for c in await all_cards(services)]
    assert numbers == [old.user_number, cards[0].user_number]  # one new number, no other
    assert len([e for e in await events(services) if e.kind == "reissued"]) == 1
    assert len(await outbox(services, "reissue_completed")) == 1


# ---------------------------------------------------------------------------- renewal


async def test_renewal_keeps_the_number_with_the_profiles_new_expiry(
    services: Services, clock: time_machine.Traveller, profile_name: str
) -> None:
    card = await registered_patron(services)
    assert card.expires_on == date(2029, 4, 3)
    clock.move_to(IN_WINDOW)
    public_id = await procedure_application(
        services, "renewal", patron_id=card.patron_id, phone=NEW_PHONE
    )

    renewed = await approve(services, public_id, await make_reviewer(services))

    # Yokohama counts the new term from the approval, Kashiwa from the old expiry.
    expected = {"yokohama": date(2032, 3, 20), "kashiwa": date(2032, 4, 3)}[profile_name]
    assert renewed.user_number == card.user_number
    assert renewed.expires_on == expected
    assert renewed.token_jti != card.token_jti
    assert renewed.status == CardStatus.ACTIVE
    async with services.db.transaction() as session:
        token = await session.get(TokenRevocation, card.token_jti)
    assert token is not None
    assert token.reason == "renewed"
    patron = await patron_of(services, card.patron_id)
    assert patron.phone == NEW_PHONE  # a corrected detail is taken over
    kinds = [(e.kind, e.detail) for e in await events(services) if e.kind != "issued"]
    assert kinds == [
        ("renewed", {"old_expires_on": "2029-04-03", "expires_on": expected.isoformat()}),
        ("details_changed", {"fields": ["phone"]}),
    ]
    assert (await load(services, public_id)).card_id == card.id
    (mail,) = await outbox(services, "renewal_completed")
    assert card.user_number in mail.body_text
    assert f"{expected.year}年{expected.month}月{expected.day}日" in mail.body_text
    assert "https://cards.example.org/card" in mail.body_text
    (entry,) = [e for e in await audit_of(services, public_id) if e.action == "application.approve"]
    assert entry.detail["expires_on"] == expected.isoformat()
    assert entry.detail["changed"] == ["phone"]


async def test_a_reissue_takes_over_a_corrected_phone_and_tells_the_library_system(
    services: Services, clock: time_machine.Traveller
) -> None:
    old = await registered_patron(services)
    public_id = await procedure_application(
        services, "reissue", patron_id=old.patron_id, reason="lost", phone=NEW_PHONE
    )
    new = await approve(services, public_id, await make_reviewer(services))
    assert (await patron_of(services, old.patron_id)).phone == NEW_PHONE
    changed = [e for e in await events(services) if e.kind == "details_changed"]
    assert [(e.user_number, e.detail) for e in changed] == [
        (new.user_number, {"fields": ["phone"]})
    ]


async def test_a_renewal_waiting_when_the_card_is_lost_renews_the_new_card(
    services: Services, clock: time_machine.Traveller, profile_name: str
) -> None:
    card = await registered_patron(services)
    clock.move_to(IN_WINDOW)
    renewal = await procedure_application(services, "renewal", patron_id=card.patron_id)
    renewed = await approve(services, renewal, await make_reviewer(services, "renewer"))
    # Then the card is lost before the renewal takes effect; a second renewal waits.
    second = await procedure_application(services, "renewal", patron_id=card.patron_id)
    lost = await procedure_application(
        services, "reissue", patron_id=card.patron_id, reason="lost", email="x@example.org"
    )
    staff = await make_reviewer(services)

    new = await approve(services, lost, staff)
    # The new card keeps the renewed expiry rather than starting a shorter term today.
    assert new.expires_on == renewed.expires_on
    # The waiting renewal follows the reissue to the new card.
    again = await approve(services, second, staff)
    assert again.id == new.id
    assert again.user_number == new.user_number
    assert (await card_of(services, card.user_number)).status == CardStatus.REVOKED


# ---------------------------------------------------------------------------- change


async def test_change_of_details_updates_the_address_and_phone(
    services: Services, clock: time_machine.Traveller, profile_name: str
) -> None:
    card = await registered_patron(services)
    moved: dict[str, Any] = {**MOVED[profile_name], "street": "1-1-1", "building": "ハイツ101"}
    public_id = await procedure_application(
        services, "change", patron_id=card.patron_id, phone=NEW_PHONE, **moved
    )

    result = await approve(services, public_id, await make_reviewer(services))

    patron = await patron_of(services, card.patron_id)
    for name, value in {**moved, "phone": NEW_PHONE}.items():
        assert getattr(patron, name) == value, name
    unchanged = await card_of(services, card.user_number)
    assert result.id == card.id
    assert (unchanged.token_jti, unchanged.expires_on) == (card.token_jti, card.expires_on)
    (event,) = [e for e in await events(services) if e.kind == "details_changed"]
    assert event.user_number == card.user_number
    before = form_values(services)
    changed = {
        name for name, value in {**moved, "phone": NEW_PHONE}.items() if before[name] != value
    }
    assert set(event.detail["fields"]) == changed
    (mail,) = await outbox(services, "details_changed")
    assert mail.to_address == EMAIL
    assert "https://cards.example.org/my" in mail.body_text
    assert services.settings.profile.library.name.ja in mail.body_text
    assert (await load(services, public_id)).status == ApplicationStatus.APPROVED


# ----------------------------------------------------------------------------- reject


async def test_rejecting_a_lost_reissue_reinstates_the_card(
    services: Services, clock: time_machine.Traveller
) -> None:
    card = await registered_patron(services)
    lost = await procedure_application(services, "reissue", patron_id=card.patron_id, reason="lost")
    staff = await make_reviewer(services)
    async with services.db.transaction() as session:
        app = await get_application(session, lost)
        await review.reject(
            session, app, staff, profile=services.settings.profile, text="写真が不鮮明です。"
        )

    back = await card_of(services, card.user_number)
    assert (back.status, back.status_reason) == (CardStatus.ACTIVE, None)
    assert [e.kind for e in await events(services)][-2:] == ["suspended", "reinstated"]
    assert len(await all_cards(services)) == 1  # no new number
    (entry,) = [e for e in await audit_of(services, lost) if e.action == "application.reject"]
    assert entry.detail["reinstated"] == card.user_number
    (mail,) = await outbox(services, "application_rejected")
    # The email names the procedure and says the card works again.
    assert "利用カード再発行の申請について" in mail.subject
    assert f"利用者番号 {card.user_number} は、再びご利用いただけます" in mail.body_text


async def test_rejection_leaves_a_card_suspended_for_another_reason(
    services: Services, clock: time_machine.Traveller
) -> None:
    card = await registered_patron(services)
    lost = await procedure_application(services, "reissue", patron_id=card.patron_id, reason="lost")
    async with services.db.transaction() as session:  # staff suspend it meanwhile
        found = await session.get(Card, card.id)
        assert found is not None
        found.status_reason = "staff"
    staff = await make_reviewer(services)
    async with services.db.transaction() as session:
        app = await get_application(session, lost)
        await review.reject(session, app, staff, profile=services.settings.profile, text="不備")
    still = await card_of(services, card.user_number)
    assert (still.status, still.status_reason) == (CardStatus.SUSPENDED, "staff")


# ------------------------------------------------------------------ who it is for


async def test_approval_waits_until_the_reviewer_picks_the_patron(
    services: Services, clock: time_machine.Traveller
) -> None:
    card = await registered_patron(services)
    public_id = await procedure_application(services, "reissue", patron_id=None, reason="lost")
    staff = await make_reviewer(services)

    with pytest.raises(candidates.ApplicationPatronRequired) as refused:
        await approve(services, public_id, staff)
    assert refused.value.code == "application_patron_required"
    assert (await load(services, public_id)).status == ApplicationStatus.SUBMITTED
    assert len(await all_cards(services)) == 1
    assert await outbox(services, "reissue_completed") == []

    async with services.db.transaction() as session:
        app = await get_application(session, public_id)
        (found,) = await candidates.candidates(session, app)
        assert found.patron_id == card.patron_id
        assert found.matched_by == {candidates.NAME_BIRTH, candidates.EMAIL, candidates.PHONE}
        assert [c.user_number for c in found.cards] == [card.user_number]
        await candidates.link_patron(session, app, found.patron_id, staff)

    app = await load(services, public_id)
    assert (app.patron_id, app.patron_linked_by) == (card.patron_id, staff.id)
    assert app.previous["user_number"] == card.user_number
    assert app.previous["card_status"] == "active"  # as it was when picked
    suspended = await card_of(services, card.user_number)
    assert (suspended.status, suspended.status_reason) == (CardStatus.SUSPENDED, REPORTED_LOST)
    (entry,) = [e for e in await audit_of(services, public_id) if e.action.endswith("link_patron")]
    assert entry.detail["patron_id"] == card.patron_id
    assert entry.detail["suspended"] is True

    new = await approve(services, public_id, staff)
    assert new.patron_id == card.patron_id
    assert (await card_of(services, card.user_number)).status == CardStatus.REVOKED


async def test_changing_the_pick_reinstates_the_first_patrons_card(
    services: Services, clock: time_machine.Traveller
) -> None:
    first = await registered_patron(services, "first@example.org")
    second = await counter_patron(services, "namesake@example.org")
    public_id = await procedure_application(services, "reissue", patron_id=None, reason="lost")
    staff = await make_reviewer(services)

    async def pick(patron_id: int) -> None:
        async with services.db.transaction() as session:
            app = await get_application(session, public_id)
            await candidates.link_patron(session, app, patron_id, staff)

    async with services.db.transaction() as session:
        app = await get_application(session, public_id)
        listed = await candidates.candidates(session, app)
    assert {c.patron_id for c in listed} == {first.patron_id, second.patron_id}

    await pick(first.patron_id)
    await pick(second.patron_id)

    assert (await card_of(services, first.user_number)).status == CardStatus.ACTIVE
    assert (await card_of(services, second.user_number)).status == CardStatus.SUSPENDED
    app = await load(services, public_id)
    assert app.patron_id == second.patron_id
    assert app.previous["user_number"] == second.user_number
    with pytest.raises(candidates.PatronChoiceInvalid):
        await pick(999_999)


async def test_a_logged_in_patrons_application_keeps_its_patron(
    services: Services, clock: time_machine.Traveller
) -> None:
    card = await registered_patron(services)
    other = await counter_patron(services, "other@example.org", given_name="太郎")
    public_id = await procedure_application(services, "renewal", patron_id=card.patron_id)
    staff = await make_reviewer(services)
    async with services.db.transaction() as session:
        app = await get_application(session, public_id)
        with pytest.raises(candidates.PatronFixed):
            await candidates.link_patron(session, app, other.patron_id, staff)
    async with services.db.transaction() as session:  # the patron's own new registration
        first = await session.scalar(
            select(Application).where(Application.procedure == "new").order_by(Application.id)
        )
        assert first is not None
        with pytest.raises(candidates.PatronNotNeeded):
            await candidates.link_patron(session, first, card.patron_id, staff)


async def test_candidates_by_phone_when_the_name_changed(
    services: Services, clock: time_machine.Traveller
) -> None:
    card = await registered_patron(services)
    public_id = await procedure_application(
        services,
        "reissue",
        patron_id=None,
        reason="name_changed",
        email="new.address@example.org",
        family_name="佐藤",
        family_kana="サトウ",
    )
    async with services.db.transaction() as session:
        app = await get_application(session, public_id)
        (found,) = await candidates.candidates(session, app)
        number = await candidates.patron_of_number(
            session, f" {card.user_number} ", services.policy.number_format
        )
        with pytest.raises(candidates.PatronNumberUnknown):
            await candidates.patron_of_number(session, "12", services.policy.number_format)
    assert found.patron_id == card.patron_id
    assert found.matched_by == {candidates.PHONE}
    assert number == card.patron_id


async def test_a_card_holders_new_registration_is_flagged(
    services: Services, clock: time_machine.Traveller
) -> None:
    card = await registered_patron(services)
    profile = services.settings.profile
    # The applicant's side may turn such a person away (Yokohama); one made anyway, or
    # before the card existed, still reaches the reviewer flagged.
    public_id = await procedure_application(
        services, "new", patron_id=None, email="again@example.org"
    )
    async with services.db.transaction() as session:
        app = await get_application(session, public_id)
        checks = await procedure_checks(session, app, profile=profile, today=date(2026, 4, 3))
        (item,) = await review.queue(session, date(2026, 4, 3), profile=profile)
    (holder,) = checks.card_holders
    assert holder.patron_id == card.patron_id
    assert item.card_holder is True
    assert item.procedure == "new"

    async with services.db.transaction() as session:  # the card is withdrawn
        found = await session.get(Card, card.id)
        assert found is not None
        await revoke_card(session, found, RevocationReason.WITHDRAWN, services.policy)
    async with services.db.transaction() as session:
        app = await get_application(session, public_id)
        checks = await procedure_checks(session, app, profile=profile, today=date(2026, 4, 3))
        (item,) = await review.queue(session, date(2026, 4, 3), profile=profile)
    assert checks.card_holders == []
    assert item.card_holder is False
