"""Applying for a reissue, renewal or change of details, without HTTP, on both engines and
both shipped profiles: a logged-in start and its refusals, each procedure's form rules, the
documents each needs, and what submission records (the snapshot, a lost card suspended)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import time_machine
from sqlalchemy import select

from cardservice.cards.models import Card, CardEvent, CardEventKind, CardStatus
from cardservice.patrons.models import Patron
from cardservice.registration import applicant
from cardservice.registration.form import FormErrors, Procedure
from cardservice.registration.models import Application, ApplicationStatus
from cardservice.registration.notes import notes_for
from cardservice.registration.procedures import ProcedureClosed
from cardservice.services import Services
from tests.card_support import PATRON_PASSWORD, sample_patron
from tests.registration_flow import (
    BOTH_SIDES,
    EMAIL,
    FORMS,
    add,
    both_profiles,  # noqa: F401  # a fixture
    fill_draft,
    friday_for_every_test,  # noqa: F401  # a fixture
    load,
    outbox,
    request_and_open,
    submit,
)

# Cards issued on FRIDAY expire three years later, on 3 April 2029; the renewal window opens
# 30 days before (Yokohama) or one month before (Kashiwa).
RENEWAL_OPENS = {"yokohama": date(2029, 3, 4), "kashiwa": date(2029, 3, 3)}
IN_WINDOW = datetime(2029, 3, 20, 1, 0, tzinfo=UTC)
# A new phone number: a change of details with nothing else.
NEW_PHONE = "090-1234-5678"


async def start(services: Services, card: Card, procedure: Procedure) -> str:
    async with services.db.transaction() as session:
        patron = await session.get(Patron, card.patron_id)
        assert patron is not None
        app = await applicant.start_procedure(
            session, patron, procedure, profile=services.settings.profile
        )
        return app.public_id


def form_of(services: Services, procedure: Procedure, **changes: str) -> dict[str, str]:
    """The profile's sample form for ``procedure``: no password, the rest as registered."""
    form = {**FORMS[services.settings.profile.id], "procedure": procedure.value, **changes}
    form.pop("password")
    return form


async def save(services: Services, public_id: str, form: dict[str, str]) -> None:
    profile = services.settings.profile
    async with services.db.transaction() as session:
        app = await applicant.get_application(session, public_id)
        version = notes_for(app, profile).version  # the notes this applicant reads
        await applicant.record_consent(session, app, version, profile=profile)
        await applicant.save_form(session, app, form, profile=profile)


async def save_errors(services: Services, public_id: str, form: dict[str, str]) -> dict[str, str]:
    """Field -> error code of a refused form."""
    with pytest.raises(FormErrors) as caught:
        await save(services, public_id, form)
    return {error.field: error.code for error in caught.value.errors}


async def missing(services: Services, public_id: str) -> list[str]:
    async with services.db.transaction() as session:
        app = await applicant.get_application(session, public_id)
        return await applicant.missing_parts(session, app, services.settings.profile)


async def card_of(services: Services, number: str) -> Card:
    async with services.db.transaction() as session:
        card = await session.scalar(select(Card).where(Card.user_number == number))
        assert card is not None
        return card


# --- starting -----------------------------------------------------------------------------


async def test_a_logged_in_start_links_the_patron_and_resumes_the_same_draft(
    services: Services,
) -> None:
    card = await sample_patron(services)
    first = await start(services, card, Procedure.CHANGE)
    app = await load(services, first)
    assert (app.procedure, app.patron_id, app.patron_linked_by) == ("change", card.patron_id, None)
    assert (app.email, app.language, app.status) == (EMAIL, "ja", ApplicationStatus.DRAFT)
    assert not app.has_form  # filled in from the patron only when shown
    assert await start(services, card, Procedure.CHANGE) == first
    assert await start(services, card, Procedure.REISSUE) != first


async def test_renewal_before_its_window_is_closed_with_the_day_it_opens(
    services: Services, friday: time_machine.Traveller
) -> None:
    card = await sample_patron(services)
    with pytest.raises(ProcedureClosed) as caught:
        await start(services, card, Procedure.RENEWAL)
    opens = RENEWAL_OPENS[services.settings.profile.id]
    assert caught.value.detail == {"closed": "renewal_not_yet", "opens_on": opens.isoformat()}
    friday.move_to(datetime.combine(opens, datetime.min.time(), tzinfo=UTC))  # 09:00 in Tokyo
    assert await start(services, card, Procedure.RENEWAL)


async def test_a_second_application_of_the_same_procedure_is_refused(services: Services) -> None:
    card = await sample_patron(services)
    public_id = await start(services, card, Procedure.CHANGE)
    await save(services, public_id, form_of(services, Procedure.CHANGE, phone=NEW_PHONE))
    assert await submit(services, public_id)
    with pytest.raises(ProcedureClosed) as caught:
        await start(services, card, Procedure.CHANGE)
    assert caught.value.detail["closed"] == "application_open"
    assert await start(services, card, Procedure.REISSUE)  # another procedure is open


async def test_two_drafts_of_one_procedure_submit_once(services: Services) -> None:
    """A draft started before the other was submitted cannot go in as a second one."""
    card = await sample_patron(services)
    first = await start(services, card, Procedure.CHANGE)
    await save(services, first, form_of(services, Procedure.CHANGE, phone=NEW_PHONE))
    async with services.db.transaction() as session:  # a second draft, as from another device
        second = Application(
            email=EMAIL, procedure="change", patron_id=card.patron_id, language="ja"
        )
        session.add(second)
        await session.flush()
        second_id = second.public_id
    await save(services, second_id, form_of(services, Procedure.CHANGE, phone=NEW_PHONE))
    assert await submit(services, first)
    with pytest.raises(ProcedureClosed):
        await submit(services, second_id)
    assert (await load(services, second_id)).status == ApplicationStatus.DRAFT


async def test_the_email_link_never_resumes_a_draft_started_logged_in(services: Services) -> None:
    card = await sample_patron(services)
    linked = await start(services, card, Procedure.CHANGE)
    opened = await request_and_open(services)
    assert opened != linked
    assert (await load(services, opened)).patron_id is None


# --- the forms ----------------------------------------------------------------------------


async def test_renewal_takes_the_patrons_name_and_birth_date_and_no_password(
    services: Services, friday: time_machine.Traveller
) -> None:
    card = await sample_patron(services)
    friday.move_to(IN_WINDOW)
    public_id = await start(services, card, Procedure.RENEWAL)
    posted = form_of(services, Procedure.RENEWAL, family_name="偽名", birth_date="1970-01-01")
    await save(services, public_id, {**posted, "procedure": "new", "password": PATRON_PASSWORD})
    app = await load(services, public_id)
    assert (app.procedure, app.family_name, app.birth_date) == ("renewal", "山田", date(1990, 4, 1))
    assert app.password_hash is None
    assert app.notifications == {}
    assert app.has_form


async def test_a_change_that_changes_nothing_is_refused(services: Services) -> None:
    card = await sample_patron(services)
    public_id = await start(services, card, Procedure.CHANGE)
    # Full-width digits normalise to what is registered: still nothing changes.
    same = form_of(services, Procedure.CHANGE, street=FORMS[services.settings.profile.id]["street"])
    assert await save_errors(services, public_id, same) == {"postal_code": "change_nothing"}
    assert not (await load(services, public_id)).has_form


async def test_a_move_out_of_the_area_is_refused_on_the_address(services: Services) -> None:
    card = await sample_patron(services)
    public_id = await start(services, card, Procedure.CHANGE)
    tokyo = {"postal_code": "100-0001", "prefecture": "東京都", "city": "千代田区"}
    errors = await save_errors(services, public_id, form_of(services, Procedure.CHANGE, **tokyo))
    assert errors == {"postal_code": "not_resident"}


async def test_reissue_needs_a_reason_and_the_acknowledgement(services: Services) -> None:
    card = await sample_patron(services)
    public_id = await start(services, card, Procedure.REISSUE)
    errors = await save_errors(services, public_id, form_of(services, Procedure.REISSUE))
    assert errors == {
        "reissue_reason": "reissue_reason_invalid",
        "eloan_acknowledged": "eloan_notice_required",
    }
    lost_renamed = form_of(
        services,
        Procedure.REISSUE,
        reissue_reason="lost",
        eloan_acknowledged="on",
        new_family_name="佐藤",
    )
    errors = await save_errors(services, public_id, lost_renamed)
    assert errors == {"new_family_name": "new_name_without_name_change"}


async def test_a_name_change_takes_the_new_name_with_its_kana_normalised(
    services: Services,
) -> None:
    card = await sample_patron(services)
    public_id = await start(services, card, Procedure.REISSUE)
    renamed = form_of(
        services, Procedure.REISSUE, reissue_reason="name_changed", eloan_acknowledged="on"
    )
    unchanged = {
        **renamed,
        "new_family_name": "山田",
        "new_given_name": "花子",
        "new_family_kana": "やまだ",
        "new_given_kana": "ﾊﾅｺ",
    }
    assert await save_errors(services, public_id, unchanged) == {
        "new_family_name": "name_unchanged"
    }
    missing_kana = {**renamed, "new_family_name": "佐藤", "new_given_name": "花子"}
    assert await save_errors(services, public_id, missing_kana) == {
        "new_family_kana": "required",
        "new_given_kana": "required",
    }
    new_name = {**unchanged, "new_family_name": "佐藤", "new_family_kana": "さとう"}
    await save(services, public_id, new_name)
    app = await load(services, public_id)
    assert (app.family_name, app.family_kana, app.given_kana) == ("佐藤", "サトウ", "ハナコ")
    assert app.reissue_reason == "name_changed"
    assert app.eloan_acknowledged_at is not None
    assert app.previous == {}  # the snapshot is taken at submission


async def test_without_login_a_name_change_keeps_the_former_name_for_the_reviewer(
    services: Services,
) -> None:
    public_id = await request_and_open(services)
    form = {
        **form_of(services, Procedure.REISSUE, reissue_reason="name_changed"),
        "eloan_acknowledged": "on",
        "new_family_name": "佐藤",
        "new_given_name": "花子",
        "new_family_kana": "サトウ",
        "new_given_kana": "ハナコ",
    }
    await save(services, public_id, form)
    app = await load(services, public_id)
    assert (app.procedure, app.patron_id, app.family_name) == ("reissue", None, "佐藤")
    assert app.previous == {
        "former_name": {
            "family_name": "山田",
            "given_name": "花子",
            "family_kana": "ヤマダ",
            "given_kana": "ハナコ",
        }
    }


async def test_a_card_holders_new_registration(services: Services) -> None:
    """Yokohama sends someone already registered to the counter; Kashiwa takes the
    application, and its reviewers are warned (the review side)."""
    await sample_patron(services, email="other@example.org")
    public_id = await request_and_open(services)
    form = FORMS[services.settings.profile.id]
    if services.settings.profile.procedures.registered_to_counter:
        assert await save_errors(services, public_id, form) == {"procedure": "already_registered"}
    else:
        await save(services, public_id, form)
        assert (await load(services, public_id)).has_form


async def test_a_revoked_card_is_no_registration(services: Services) -> None:
    card = await sample_patron(services, email="other@example.org")
    async with services.db.transaction() as session:
        stored = await session.get(Card, card.id)
        assert stored is not None
        stored.status = CardStatus.REVOKED
    public_id = await request_and_open(services)
    await save(services, public_id, FORMS[services.settings.profile.id])


# --- documents ----------------------------------------------------------------------------


async def test_which_documents_each_procedure_needs(
    services: Services, friday: time_machine.Traveller
) -> None:
    card = await sample_patron(services)
    friday.move_to(IN_WINDOW)
    phone_only = await start(services, card, Procedure.CHANGE)
    await save(services, phone_only, form_of(services, Procedure.CHANGE, phone=NEW_PHONE))
    assert await missing(services, phone_only) == []  # phone_change_document is off
    moved = {"street": "本町2-2", "building": "みなとハイツ101"}
    await save(services, phone_only, form_of(services, Procedure.CHANGE, **moved))
    assert await missing(services, phone_only) == ["identity_document"]

    renewal = await start(services, card, Procedure.RENEWAL)
    await save(services, renewal, form_of(services, Procedure.RENEWAL))
    assert await missing(services, renewal) == ["identity_document"]  # renewal_document

    without_login = await request_and_open(services, "plastic@example.org")
    await save(services, without_login, form_of(services, Procedure.CHANGE, phone=NEW_PHONE))
    assert await missing(services, without_login) == ["identity_document"]
    for doc_type, side in BOTH_SIDES:
        await add(services, without_login, doc_type, side)
    assert await missing(services, without_login) == []


# --- submission ---------------------------------------------------------------------------


async def test_a_lost_reissue_suspends_the_card_at_submission(services: Services) -> None:
    card = await sample_patron(services)
    public_id = await start(services, card, Procedure.REISSUE)
    lost = form_of(services, Procedure.REISSUE, reissue_reason="lost", eloan_acknowledged="on")
    await save(services, public_id, lost)
    assert await missing(services, public_id) == ["identity_document"]
    await add(services, public_id, "my_number", "front")
    assert (await card_of(services, card.user_number)).status == CardStatus.ACTIVE
    assert await submit(services, public_id)
    stored = await card_of(services, card.user_number)
    assert (stored.status, stored.status_reason) == (CardStatus.SUSPENDED, "reported_lost")
    app = await load(services, public_id)
    assert app.previous["user_number"] == card.user_number
    assert app.previous["card_status"] == "active"  # as it was before the report
    assert app.previous["expires_on"] == card.expires_on.isoformat()
    async with services.db.transaction() as session:
        events = list(await session.scalars(select(CardEvent).order_by(CardEvent.id)))
    assert [(e.kind, e.detail) for e in events][-1] == (
        CardEventKind.SUSPENDED,
        {"reason": "reported_lost"},
    )
    received = (await outbox(services, "application_received"))[-1]
    assert "再発行" in received.body_text


async def test_a_name_change_or_an_unknown_patron_suspends_nothing(services: Services) -> None:
    card = await sample_patron(services)
    renamed = await start(services, card, Procedure.REISSUE)
    form = form_of(services, Procedure.REISSUE, reissue_reason="name_changed")
    await save(
        services,
        renamed,
        {
            **form,
            "eloan_acknowledged": "on",
            "new_family_name": "佐藤",
            "new_given_name": "花子",
            "new_family_kana": "サトウ",
            "new_given_kana": "ハナコ",
        },
    )
    await add(services, renamed, "my_number", "front")
    assert await submit(services, renamed)
    assert (await card_of(services, card.user_number)).status == CardStatus.ACTIVE

    # Not logged in: the reviewer picks the patron, and the review side suspends then.
    unknown = await request_and_open(services, "plastic@example.org")
    lost = form_of(services, Procedure.REISSUE, reissue_reason="lost", eloan_acknowledged="on")
    await fill_draft(services, unknown, form=lost, documents=BOTH_SIDES)
    assert await submit(services, unknown)
    assert (await card_of(services, card.user_number)).status == CardStatus.ACTIVE
    app = await load(services, unknown)
    assert (app.patron_id, app.previous) == (None, {})


async def test_a_change_keeps_the_details_as_they_were(services: Services) -> None:
    card = await sample_patron(services)
    public_id = await start(services, card, Procedure.CHANGE)
    await save(services, public_id, form_of(services, Procedure.CHANGE, phone=NEW_PHONE))
    assert await submit(services, public_id)
    app = await load(services, public_id)
    assert app.phone == "+819012345678"
    assert app.previous["phone"] != app.phone
    assert app.previous["user_number"] == card.user_number
    received = (await outbox(services, "application_received"))[-1]
    assert "登録内容変更" in received.body_text
