"""What a procedure on a card adds to the form: the snapshot kept as "before", a reissue's
reason and new name, what a change alters, and which of them need an identity document."""

from __future__ import annotations

import functools
import json
from datetime import UTC, date, datetime

import msgspec
import pytest

from cardservice.cards.lifecycle import ReissueReason
from cardservice.cards.models import Card, CardStatus
from cardservice.patrons.models import Patron
from cardservice.profiles import Profile
from cardservice.registration.form import Collector, Procedure
from cardservice.registration.models import Application
from cardservice.registration.procedure_details import (
    NEW_NAME_FIELDS,
    Names,
    ReissueDetails,
    changed_details,
    identity_document_needed,
    parse_reissue,
    snapshot,
)


def _patron() -> Patron:
    return Patron(
        id=7,
        family_name="山田",
        given_name="花子",
        family_kana="ヤマダ",
        given_kana="ハナコ",
        birth_date=date(1990, 4, 1),
        email="hanako@example.org",
        phone="+81452627334",
        postal_code="2310005",
        prefecture="神奈川県",
        city="横浜市中区",
        street="本町1-1",
        building="",
    )


def test_the_snapshot_keeps_details_and_card_as_json() -> None:
    card = Card(
        patron_id=7,
        user_number="1234567890",
        status=CardStatus.SUSPENDED,
        expires_on=date(2027, 3, 31),
        token_jti="j" * 43,
        issued_at=datetime(2024, 4, 1, tzinfo=UTC),
    )
    values = snapshot(_patron(), card)
    assert values == {
        "family_name": "山田",
        "given_name": "花子",
        "family_kana": "ヤマダ",
        "given_kana": "ハナコ",
        "postal_code": "2310005",
        "prefecture": "神奈川県",
        "city": "横浜市中区",
        "street": "本町1-1",
        "building": "",
        "phone": "+81452627334",
        "email": "hanako@example.org",
        "user_number": "1234567890",
        "expires_on": "2027-03-31",
        "card_status": "suspended",
    }
    assert json.loads(json.dumps(values)) == values  # stored in a JSON column as it is


def test_a_patron_without_a_card() -> None:
    values = snapshot(_patron(), None)
    assert values["user_number"] is None
    assert values["expires_on"] is None
    assert values["card_status"] is None
    assert values["family_name"] == "山田"


# --- a reissue's own fields ---------------------------------------------------------------

REGISTERED = Names(family_name="山田", given_name="花子", family_kana="ヤマダ", given_kana="ハナコ")


def _reissue(**raw: str) -> tuple[ReissueDetails | None, dict[str, str]]:
    form = Collector(raw)
    details = parse_reissue(form, REGISTERED)
    for error in form.errors:  # the older codes carry their texts; the page words the newer
        assert bool(error.ja and error.en) is (error.code == "required"), error
    return details, {e.field: e.code for e in form.errors}


def test_a_lost_card_needs_only_the_reason_and_the_acknowledgement() -> None:
    details, errors = _reissue(reissue_reason="lost", eloan_acknowledged="on")
    assert errors == {}
    assert details == ReissueDetails(reason=ReissueReason.LOST, new_name=None)
    assert _reissue(reissue_reason="stolen")[1] == {
        "reissue_reason": "reissue_reason_invalid",
        "eloan_acknowledged": "eloan_notice_required",
    }
    _, errors = _reissue(reissue_reason="lost", eloan_acknowledged="on", new_given_kana="ハナ")
    assert errors == {"new_family_name": "new_name_without_name_change"}


def test_a_name_change_needs_a_new_name_in_kana() -> None:
    details, errors = _reissue(
        reissue_reason="name_changed",
        eloan_acknowledged="on",
        new_family_name="ＳＡＴＯ",
        new_given_name="花子",
        new_family_kana="さとう",
        new_given_kana="ﾊﾅｺ",
    )
    assert errors == {}
    assert details is not None
    assert details.new_name == Names(
        family_name="SATO", given_name="花子", family_kana="サトウ", given_kana="ハナコ"
    )
    _, errors = _reissue(reissue_reason="name_changed", eloan_acknowledged="on")
    assert set(errors.values()) == {"required"}
    assert set(errors) == set(NEW_NAME_FIELDS)
    _, errors = _reissue(
        reissue_reason="name_changed",
        eloan_acknowledged="on",
        new_family_name="山田",
        new_given_name="花子",
        new_family_kana="やまだ",
        new_given_kana="はなこ",
    )
    assert errors == {"new_family_name": "name_unchanged"}


# --- what changes, and which documents that needs ----------------------------------------


def test_changed_details_ignore_width_and_spacing() -> None:
    patron = _patron()
    patron.eligibility_basis = "lives"
    patron.workplace_or_school = ""
    same = Application(
        postal_code="2310005",
        prefecture="神奈川県",
        city="横浜市中区",
        street="本町１－１",  # full-width, as an imported record may hold it
        building=" ",
        phone="+81452627334",
        basis="lives",
        workplace_or_school="",
    )
    patron.street = "本町１-１"
    assert changed_details(same, patron) == []
    moved = Application(
        postal_code="2310005",
        prefecture="神奈川県",
        city="横浜市中区",
        street="本町2-2",
        building="",
        phone="+819012345678",
        basis="works",
        workplace_or_school="横浜市立大学",
    )
    assert changed_details(moved, patron) == ["street", "phone", "basis"]


@pytest.mark.parametrize(
    ("procedure", "linked", "changed", "needed"),
    [
        (Procedure.NEW, False, [], True),
        (Procedure.REISSUE, True, [], True),
        (Procedure.CHANGE, False, ["phone"], True),  # nothing else shows who applies
        (Procedure.CHANGE, True, ["phone"], False),
        (Procedure.CHANGE, True, ["city"], True),
        (Procedure.CHANGE, True, ["basis"], True),
        (Procedure.RENEWAL, True, [], True),  # the shipped profiles ask for one
        (Procedure.RENEWAL, True, ["street"], True),
    ],
)
def test_which_procedures_need_an_identity_document(
    yokohama: Profile, procedure: Procedure, linked: bool, changed: list[str], needed: bool
) -> None:
    assert (
        identity_document_needed(procedure, linked=linked, changed=changed, profile=yokohama)
        is needed
    )


def test_the_profile_settings_for_renewal_and_phone_changes(yokohama: Profile) -> None:
    relaxed = msgspec.structs.replace(
        yokohama,
        card=msgspec.structs.replace(yokohama.card, renewal_document=False),
        procedures=msgspec.structs.replace(yokohama.procedures, phone_change_document=True),
    )
    needed = functools.partial(identity_document_needed, linked=True, profile=relaxed)
    assert needed(Procedure.RENEWAL, changed=[]) is False
    assert needed(Procedure.RENEWAL, changed=["phone"]) is False
    assert needed(Procedure.RENEWAL, changed=["postal_code"]) is True
    assert needed(Procedure.CHANGE, changed=["phone"]) is True
