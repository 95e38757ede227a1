"""A scanner is a keyboard: through a Japanese IME its NW-7 start/stop keys arrive as kana."""

from __future__ import annotations

import pytest

from cardservice.cards.checkdigits import CheckScheme
from cardservice.cards.numbers import InvalidNumber, NumberFormat, may_be_number, normalise

FMT = NumberFormat(prefix="2", length=10, scheme=CheckScheme.LUHN)
NUMBER = "2000000014"
KANA_LOCK = NUMBER.translate(str.maketrans("1234567890", "ぬふあうえおやゆよわ"))


@pytest.mark.parametrize(
    "typed",
    [
        f"あ{NUMBER}あ",  # romaji input: a -> あ (the example)
        f"ｂ{NUMBER}ｃ",  # romaji input: b, c, d stay letters, full-width
        f"ｄ{NUMBER}d",
        f"え{NUMBER}え",  # e (the alternate set's E)
        f"ｔ{NUMBER}ん",  # t stays a letter; a trailing n becomes ん
        f"ア{NUMBER}ア",  # katakana mode
        f"ｱ{NUMBER}ｱ",  # half-width katakana mode
        f"ち{NUMBER}ち",  # JIS kana input: A key
        f"こ{NUMBER}こ",  # B
        f"そ{NUMBER}そ",  # C
        f"し{NUMBER}し",  # D
        f"い{NUMBER}い",  # E
        f"か{NUMBER}み",  # T, N
        f"ソ{NUMBER}シ",
        f"あ{NUMBER}",
        f"{NUMBER}あ",
        "あ２０００００００１４あ",  # full-width digits between
        f"ち{KANA_LOCK}ち",  # kana lock: the digit keys type kana too
    ],
)
def test_start_and_stop_keys_typed_through_an_ime(typed: str) -> None:
    assert normalise(FMT, typed) == NUMBER
    assert may_be_number(typed) is not typed.startswith("ち" + KANA_LOCK[:1])


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        (f"ふ{NUMBER}ふ", "number_bad_format"),  # 2 under kana lock, never a start key
        (f"ああ{NUMBER}", "number_bad_format"),  # one start character, not two
        (f"あ{NUMBER[:-1]}5あ", "number_bad_check_digit"),
        ("あいう", "number_bad_format"),
        ("ちふわわわわわわわぬうう", "number_bad_format"),  # う is no stop key
    ],
)
def test_other_kana_are_not_taken_for_keys(typed: str, code: str) -> None:
    with pytest.raises(InvalidNumber) as caught:
        normalise(FMT, typed)
    assert caught.value.code == code


def test_names_are_not_taken_for_numbers() -> None:
    for name in ("あきこ", "ちふゆ", "こばやし", "Aoki", "神田", "アイ2"):
        assert not may_be_number(name), name
    assert may_be_number("A2000000014A")
    assert may_be_number("a 2000000014")
    assert may_be_number("あ　2000000014")
    assert may_be_number("２０００")


@pytest.mark.parametrize(
    "pasted",
    [
        f"{NUMBER}\u200b",  # a zero-width space after a copied number
        f"\u200e{NUMBER}",  # a left-to-right mark before it
        f"\ufeffA{NUMBER}A",  # a byte-order mark before a scanner's start character
        "2000\u200b000014",  # inside it
        f"あ{NUMBER}あ\u200b",  # after the IME's stop key
    ],
)
def test_invisible_characters_are_not_part_of_the_number(pasted: str) -> None:
    assert normalise(FMT, pasted) == NUMBER


def test_a_visible_character_is_still_refused() -> None:
    with pytest.raises(InvalidNumber) as refused:
        normalise(FMT, f"{NUMBER}☆")
    assert refused.value.code == "number_bad_format"
