"""The application form: every field's rule, and all errors reported at once."""

from __future__ import annotations

from datetime import date

import msgspec
import pytest

from cardservice.profiles import Profile
from cardservice.registration import localise
from cardservice.registration.form import (
    FIELD_MESSAGES,
    ApplicationForm,
    Basis,
    FormErrors,
    Notifications,
    Procedure,
    parse_application,
)
from tests.unit.registration.samples import TODAY, VALID_RAW

EMAIL = "hanako@example.org"


def _parse(profile: Profile, **changes: str) -> ApplicationForm:
    raw = {**VALID_RAW, **changes}
    return parse_application(raw, profile=profile, email=EMAIL, today=TODAY)


def _errors(profile: Profile, raw: dict[str, str]) -> dict[str, str]:
    """Field name -> error code, checking each error carries its rendered texts."""
    with pytest.raises(FormErrors) as caught:
        parse_application(raw, profile=profile, email=EMAIL, today=TODAY)
    error = caught.value
    assert error.code == "form_invalid"
    assert error.detail["fields"] == [e.as_dict() for e in error.errors]
    for field_error in error.errors:
        assert field_error.ja
        assert field_error.en
    return {e.field: e.code for e in error.errors}


def _error(profile: Profile, **changes: str) -> str:
    errors = _errors(profile, {**VALID_RAW, **changes})
    assert len(errors) == 1, errors
    return next(iter(errors.values()))


def test_a_valid_form_is_normalised(yokohama: Profile) -> None:
    form = _parse(
        yokohama,
        family_name="ＳＭＩＴＨ",
        given_name=" 花子　",
        family_kana="やまだ",
        given_kana="ﾊﾅｺ",
        birth_date="１９９０－０４－０１",
        postal_code="〒２３１ー０００５",
        city="横浜市中区",
        street="本町１丁目１－１",
        building="  ",
        phone="０４５－２６２－７３３４",
        notify_reservation_ready="on",
        notify_emergency_closure="true",
    )
    assert form.family_name == "SMITH"
    assert form.given_name == "花子"
    assert (form.family_kana, form.given_kana) == ("ヤマダ", "ハナコ")
    assert form.birth_date == date(1990, 4, 1)
    assert (form.postal_code, form.postal_code_display) == ("2310005", "231-0005")
    assert form.street == "本町1丁目1-1"
    assert form.building == ""
    assert (form.phone, form.phone_display) == ("+81452627334", "045-262-7334")
    assert form.procedure is Procedure.NEW
    assert form.basis is Basis.LIVES
    assert form.email == EMAIL
    assert form.notifications == Notifications(reservation_ready=True, emergency_closure=True)


def test_the_password_is_carried_untouched_and_never_shown(yokohama: Profile) -> None:
    form = _parse(yokohama, password="  ｐａｓｓ word\t ")
    assert form.password == "  ｐａｓｓ word\t "
    assert "ｐａｓｓ" not in repr(form)


def test_the_email_comes_from_the_verified_link_not_the_form(yokohama: Profile) -> None:
    assert _parse(yokohama, email="someone-else@example.org").email == EMAIL


def test_an_empty_form_reports_every_required_field_at_once(yokohama: Profile) -> None:
    errors = _errors(yokohama, {})
    required = [
        "procedure", "family_name", "given_name", "family_kana", "given_kana", "birth_date",
        "postal_code", "prefecture", "city", "street", "phone", "basis",
    ]  # fmt: skip
    assert errors == dict.fromkeys(required, "required")


def test_several_wrong_fields_are_reported_together(yokohama: Profile) -> None:
    raw = {**VALID_RAW, "family_kana": "Yamada", "postal_code": "23-1", "phone": "12345"}
    assert _errors(yokohama, raw) == {
        "family_kana": "kana_invalid",
        "postal_code": "postal_code_invalid",
        "phone": "phone_invalid",
    }


@pytest.mark.parametrize("field", ["family_name", "given_name", "city", "street", "building"])
def test_64_characters_fit_and_65_do_not(yokohama: Profile, field: str) -> None:
    fits = "横浜市中区" + "あ" * 59 if field == "city" else "あ" * 64
    assert getattr(_parse(yokohama, **{field: fits}), field) == fits
    with pytest.raises(FormErrors) as caught:
        _parse(yokohama, **{field: fits + "あ"})
    (error,) = caught.value.errors
    assert (error.field, error.code) == (field, "too_long")
    assert "64" in error.ja
    assert "64" in error.en


def test_kana_is_katakana_from_hiragana_or_half_width(yokohama: Profile) -> None:
    form = _parse(yokohama, family_kana="ﾔﾏﾀﾞ", given_kana="はなこ")
    assert (form.family_kana, form.given_kana) == ("ヤマダ", "ハナコ")
    assert _error(yokohama, given_kana="花子") == "kana_invalid"
    assert _error(yokohama, given_kana="ア" * 65) == "too_long"


@pytest.mark.parametrize(
    "bad",
    ["山田\x00", "山\n田", "山田\u202e", "山\u200b田", "\x1b[31m山田"],
    ids=["nul", "newline", "bidi-override", "zero-width-space", "escape"],
)
def test_control_and_invisible_characters_are_refused(yokohama: Profile, bad: str) -> None:
    assert _error(yokohama, family_name=bad) == "control_characters"


@pytest.mark.parametrize(
    "raw", ["1990-04-01", "１９９０－０４－０１", "1990/4/1", "1990年4月1日", " 1990-04-01 "]
)
def test_birth_date_spellings(yokohama: Profile, raw: str) -> None:
    assert _parse(yokohama, birth_date=raw).birth_date == date(1990, 4, 1)


@pytest.mark.parametrize("raw", ["1990-02-30", "1990-13-01", "19900401", "April 1", "1990-04"])
def test_birth_date_must_be_a_real_date(yokohama: Profile, raw: str) -> None:
    assert _error(yokohama, birth_date=raw) == "birth_date_invalid"


def test_birth_date_bounds(yokohama: Profile) -> None:
    assert _parse(yokohama, birth_date="2026-04-04").birth_date == TODAY  # born today
    assert _error(yokohama, birth_date="2026-04-05") == "birth_date_future"
    assert _parse(yokohama, birth_date="1906-04-04").birth_date == date(1906, 4, 4)  # 120
    assert _error(yokohama, birth_date="1906-04-03") == "birth_date_too_old"


def test_postal_code_and_prefecture(yokohama: Profile) -> None:
    assert _parse(yokohama, postal_code="2310005").postal_code == "2310005"
    assert _error(yokohama, postal_code="231-00055") == "postal_code_invalid"
    assert _error(yokohama, prefecture="神奈川") == "prefecture_invalid"


def test_the_procedures_the_profile_takes_online(yokohama: Profile) -> None:
    assert {p.value for p in Procedure} == {"new", "reissue", "renewal", "change"}
    for procedure in ("reissue", "renewal", "change"):
        form = _parse(yokohama, procedure=procedure, notify_overdue="on")
        assert form.procedure == procedure
        # Notification choices belong to the patron's record, edited in My Library.
        assert form.notifications == Notifications()
    counter_only = msgspec.structs.replace(
        yokohama, procedures=msgspec.structs.replace(yokohama.procedures, online=["new"])
    )
    for later in ("reissue", "renewal", "change"):
        assert _error(counter_only, procedure=later) == "procedure_unavailable"
    assert _error(yokohama, procedure="delete") == "procedure_invalid"


@pytest.mark.parametrize("basis", ["works", "studies"])
def test_work_or_study_needs_the_workplace_or_school(yokohama: Profile, basis: str) -> None:
    assert _error(yokohama, basis=basis) == "workplace_required"
    form = _parse(yokohama, basis=basis, workplace_or_school="横浜市立大学")
    assert form.basis == basis
    assert form.workplace_or_school == "横浜市立大学"
    assert _error(yokohama, basis=basis, workplace_or_school="大" * 129) == "too_long"


def test_a_resident_keeps_no_workplace(yokohama: Profile) -> None:
    assert _parse(yokohama, workplace_or_school="株式会社みなと").workplace_or_school == ""


def test_the_basis_must_be_one_the_library_offers(yokohama: Profile) -> None:
    residents_only = msgspec.structs.replace(
        yokohama, registration=msgspec.structs.replace(yokohama.registration, bases=["lives"])
    )
    assert _parse(residents_only).basis is Basis.LIVES
    assert _error(residents_only, basis="works", workplace_or_school="x") == "basis_invalid"
    assert _error(yokohama, basis="visits") == "basis_invalid"


def test_notification_choices(yokohama: Profile) -> None:
    assert _parse(yokohama).notifications == Notifications()
    chosen = _parse(yokohama, notify_overdue="1", notify_new_arrivals="off")
    assert chosen.notifications == Notifications(overdue=True)
    assert _error(yokohama, notify_expiry_near="maybe") == "choice_invalid"


def test_every_field_code_has_japanese_and_english(yokohama: Profile) -> None:
    for code, texts in FIELD_MESSAGES.items():
        assert set(texts) == {"ja", "en"}, code
        rendered = localise(FIELD_MESSAGES, code, max=64, max_age=120)
        assert all(rendered.values()), code
