"""Readings compared for duplicates: one key for the spellings of one pronunciation."""

from __future__ import annotations

import pytest

from cardservice.patrons.names import normalise_kana, reading_key


@pytest.mark.parametrize(
    ("one", "other"),
    [
        (("サイトウ", "イチロウ"), ("サイトー", "イチロー")),  # the example
        (("オオノ", "ユウコ"), ("オーノ", "ユーコ")),
        (("オウノ", "キョウコ"), ("オオノ", "キョーコ")),
        (("ハットリ", "シュン"), ("ハツトリ", "シユン")),  # small and large kana
        (("ジョウ", "ケイコ"), ("ジョー", "ケーコ")),
        (("ミカヅキ", "チヂル"), ("ミカズキ", "チジル")),
        (("ヤマダ", "ハナコ"), ("ヤ マ ダ", "ハナ・コ")),
        (("さいとう", "いちろう"), ("ｻｲﾄｰ", "ｲﾁﾛｰ")),  # as the form stores them
    ],
)
def test_spellings_of_one_reading_share_a_key(one: tuple[str, str], other: tuple[str, str]) -> None:
    def key(names: tuple[str, str]) -> str:
        return reading_key(*(normalise_kana(name) for name in names))

    assert key(one) == key(other)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        (("サイト", "イチロウ"), ("サイトウ", "イチロウ")),  # a vowel more is another name
        (("サトウ", "ハナコ"), ("サイトウ", "ハナコ")),
        (("カトウ", "タ"), ("カト", "ウタ")),  # family and given are folded apart
        (("ヤマダ", "ハナコ"), ("ヤマダ", "ハナゴ")),
    ],
)
def test_other_readings_keep_their_keys(one: tuple[str, str], other: tuple[str, str]) -> None:
    assert reading_key(*one) != reading_key(*other)
