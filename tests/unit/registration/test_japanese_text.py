"""Japanese text is kept as typed: only its width is normalised, never a kanji swapped."""

from __future__ import annotations

import re
import unicodedata

import jaconv
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cardservice.profiles import Profile
from cardservice.registration.form import Collector, parse_application
from cardservice.registration.japan import normalise_postal_code, normalise_prefecture
from cardservice.registration.models import Application
from cardservice.registration.procedure_details import (
    Names,
    changed_details,
    parse_reissue,
)
from cardservice.text import fold_width, search_text
from tests.unit.registration.samples import TODAY, VALID_RAW
from tests.unit.registration.test_procedure_details import _patron

# Compatibility ideographs that NFKC (and even NFC) would replace: 神 U+FA19 -> U+795E,
# 塚 U+FA10 -> U+585A, 﨑 U+FA11 is a unified ideograph and stays anyway.
KAMI, TSUKA = "\ufa19", "\ufa10"


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        (f"{KAMI}田", f"{KAMI}田"),
        (f"{TSUKA}本", f"{TSUKA}本"),
        (f"ＳＭＩＴＨ　{KAMI}", f"SMITH {KAMI}"),  # full-width Latin and space still fold
        ("ﾀﾅｶ", "タナカ"),  # half-width katakana becomes full-width
        ("か\u3099", "が"),  # a combining voiced mark (macOS input) is composed
        ("①㈱髙", "①㈱髙"),  # no NFKC: circled digits, ㈱ and 髙 stay as typed
    ],
)
def test_names_are_kept_as_typed(yokohama: Profile, typed: str, kept: str) -> None:
    raw = {**VALID_RAW, "family_name": typed, "given_name": typed, "city": "横浜市中区"}
    form = parse_application(raw, profile=yokohama, email="hanako@example.org", today=TODAY)
    assert (form.family_name, form.given_name) == (kept, kept)


def test_addresses_and_workplaces_keep_their_kanji(yokohama: Profile) -> None:
    raw = {
        **VALID_RAW,
        "street": f"{TSUKA}越１－２－３",
        "building": f"ｺｰﾎﾟ{KAMI}田　１０１",
        "basis": "works",
        "workplace_or_school": f"{KAMI}奈川工業（株）",
    }
    form = parse_application(raw, profile=yokohama, email="hanako@example.org", today=TODAY)
    assert form.street == f"{TSUKA}越1-2-3"
    assert form.building == f"コーポ{KAMI}田 101"
    assert form.workplace_or_school == f"{KAMI}奈川工業(株)"


def test_a_reissue_for_a_kanji_written_another_way_is_a_name_change() -> None:
    form = Collector(
        {
            "reissue_reason": "name_changed",
            "eloan_acknowledged": "on",
            "new_family_name": f"山{KAMI}",
            "new_given_name": "花子",
            "new_family_kana": "やまがみ",
            "new_given_kana": "はなこ",
        }
    )
    registered = Names(
        family_name="山神", given_name="花子", family_kana="ヤマガミ", given_kana="ハナコ"
    )
    details = parse_reissue(form, registered)
    assert form.errors == []
    assert details is not None
    assert details.new_name is not None
    assert details.new_name.family_name == f"山{KAMI}"


def test_a_change_of_how_a_street_is_written_is_a_change() -> None:
    patron = _patron()
    patron.eligibility_basis, patron.workplace_or_school = "lives", ""
    patron.street = "神田1-1"
    details = Application(
        postal_code=patron.postal_code,
        prefecture=patron.prefecture,
        city=patron.city,
        street=f"{KAMI}田１－１",
        building=patron.building,
        phone=patron.phone,
        basis="lives",
        workplace_or_school="",
    )
    assert changed_details(details, patron) == ["street"]
    details.street = "神田１－１"
    assert changed_details(details, patron) == []


def test_fold_width_touches_width_only() -> None:
    assert fold_width("ＡＢＣ１２３＠　ｶﾞｷﾞ") == "ABC123@ ガギ"
    assert fold_width(f"{KAMI}{TSUKA}\U0002f800") == f"{KAMI}{TSUKA}\U0002f800"
    assert fold_width("は\u309a") == "ぱ"


def test_the_search_box_matches_stored_names_as_typed() -> None:
    assert search_text(f" {KAMI}田\u200b　ﾊﾅｺ ") == f"{KAMI}田 ハナコ"


def _fold_width_everywhere(raw: str) -> str:
    """What fold_width gives, without its shortcuts: jaconv both ways, NFC between the
    compatibility ideographs."""
    text = jaconv.h2z(jaconv.z2h(raw, kana=False, ascii=True, digit=True), kana=True)
    parts = re.split(r"([\uf900-\ufaff\U0002f800-\U0002fa1f]+)", text)
    return "".join(p if i % 2 else unicodedata.normalize("NFC", p) for i, p in enumerate(parts))


@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet="aZ1 －ＡＺ１　ｶﾞｰ｡か\u3099は\u309aが神\ufa19塚\ufa10〜～①㈱髙", max_size=30)
)
def test_fold_width_shortcuts_change_nothing(raw: str) -> None:
    assert fold_width(raw) == _fold_width_everywhere(raw)


def test_closed_lists_and_numbers_still_fold_fully() -> None:
    # NFKC is meant there: what it folds can only be a typing variant of a known value.
    assert normalise_prefecture(f"{KAMI}奈川県") == "神奈川県"
    assert normalise_postal_code("〒２３１－０００５") == "2310005"
