"""Eligibility in the page's language: an English page names places in English (Matsudo,
Naka Ward, Yokohama), a Japanese one as Japan Post writes them (松戸市, 横浜市中区).

Names come from the profile's ``municipality_names_en`` (a designated city's ward by its own
entry, else by its city's). A place the profile does not name is given in English by its
postal code and prefecture, never in kanji; only an address mismatch adds Japan Post's
spelling, which is what the city field must hold.
"""

from __future__ import annotations

import re

import pytest

from cardservice.profiles import load_profile
from cardservice.registration.japan import lookup_postal_code_all
from tests.unit.registration.test_eligibility import _check

CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")
PROFILES = ("yokohama", "kashiwa", "example")


@pytest.mark.parametrize("profile_id", PROFILES)
def test_every_place_a_profile_names_has_an_english_name(profile_id: str) -> None:
    library = load_profile(profile_id).library
    for name in (*library.resident_municipalities, *library.counter_municipalities):
        english = library.english_municipality(name)
        assert english is not None, name
        assert english.isascii(), name
        assert library.municipality_name(name, "ja") == name


@pytest.mark.parametrize("profile_id", ["yokohama", "example"])
def test_every_ward_of_yokohama_has_its_own_english_name(profile_id: str) -> None:
    library = load_profile(profile_id).library
    # One postal code in each of Yokohama's 18 wards, as Japan Post's data has them.
    codes = ("2200000", "2210000", "2220000", "2240000", "2250001", "2260000", "2300000")
    codes += ("2310000", "2320000", "2330000", "2350000", "2360000", "2400000", "2410000")
    codes += ("2440000", "2440841", "2450000", "2460000")
    wards = {address.city for code in codes for address in lookup_postal_code_all(code)}
    assert len(wards) == 18
    for ward in wards:
        english = library.english_municipality(ward)
        assert english is not None, ward
        assert re.fullmatch(r"[A-Z][a-z]+ Ward, Yokohama", english), (ward, english)


# profile, postal code, prefecture, city, the answers' other fields, English, Japanese
CASES = [
    ("kashiwa", "271-0092", "千葉県", "松戸市", {}, "You live in Matsudo,", "松戸市"),
    ("kashiwa", "277-0005", "千葉県", "柏市", {}, "You live in Kashiwa,", "柏市"),
    ("yokohama", "231-0005", "神奈川県", "横浜市中区", {}, "Naka Ward, Yokohama", "横浜市中区"),
    ("example", "231-0005", "神奈川県", "横浜市中区", {}, "Naka Ward, Yokohama", "横浜市中区"),
    (
        "yokohama",
        "211-0004",
        "神奈川県",
        "川崎市中原区",
        {},
        "Residents of Nakahara Ward, Kawasaki",
        "川崎市中原区",
    ),
    ("yokohama", "194-0013", "東京都", "町田市", {}, "Residents of Machida", "町田市"),
    (
        "kashiwa",
        "060-0001",
        "北海道",
        "札幌市中央区",
        {},
        "Your address (postal code 060-0001) is outside",
        "札幌市中央区",
    ),
    (
        "kashiwa",
        "271-0092",
        "千葉県",
        "松戸市",
        {"basis": "works", "workplace_or_school": "柏市役所"},
        "works in Kashiwa",
        "柏市に在勤",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}-{c[3]}" for c in CASES])
def test_the_english_text_names_places_in_english_and_the_japanese_in_japanese(
    case: tuple[str, str, str, str, dict[str, str], str, str],
) -> None:
    profile_id, code, prefecture, city, more, en, ja = case
    result = _check(load_profile(profile_id), code, prefecture, city, **more)
    assert en in result.en
    assert not CJK.search(result.en), result.en
    assert ja in result.ja


def test_an_address_mismatch_names_the_place_and_what_to_type() -> None:
    yokohama = load_profile("yokohama")
    result = _check(yokohama, "231-0005", "神奈川県", "横浜市西区")
    assert result.field == "city"
    assert result.en == (
        "The city does not match the postal code 231-0005, which is in Naka Ward, Yokohama, "
        "Kanagawa. Japan Post writes the city as 横浜市中区."
    )
    assert result.ja == "市区町村が郵便番号 231-0005（神奈川県横浜市中区）と一致しません。"
    kashiwa = load_profile("kashiwa")
    elsewhere = _check(kashiwa, "231-0005", "千葉県", "横浜市中区")
    assert elsewhere.field == "prefecture"
    assert elsewhere.en == (
        "The prefecture does not match the postal code 231-0005, which is in Kanagawa."
    )
