"""The shipped profiles' Japanese document texts are written as a notice is: no half-width
space next to Japanese (「おもてとうらの 2 点」 read as typed by a program)."""

from __future__ import annotations

import re

import pytest

from cardservice.profiles import load_profile

# A space with a Japanese character (kana, kanji, full-width marks) on either side.
JAPANESE = r"[\u3000-\u30ff\u4e00-\u9fff\uff00-\uffef]"
SPACED = re.compile(f"{JAPANESE} | {JAPANESE}")


@pytest.mark.parametrize("name", ["example", "yokohama", "kashiwa"])
def test_document_texts_have_no_half_width_space_in_japanese(name: str) -> None:
    texts = []
    for kind in load_profile(name).documents.types:
        texts.append(kind.name.get("ja"))
        if kind.note is not None:
            texts.append(kind.note.get("ja"))
    assert [text for text in texts if SPACED.search(text)] == []
    assert texts  # the profile has document types to read
