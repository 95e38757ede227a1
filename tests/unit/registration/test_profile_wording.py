"""The shipped profiles' Japanese document texts are written as a notice is: no half-width
space next to Japanese (「おもてとうらの 2 点」 read as typed by a program); their English
names sit in English sentences (cities as Matsudo, not 松戸市; documents with an article)."""

from __future__ import annotations

import re

import pytest

from cardservice.errors import InvalidInput
from cardservice.profiles import load_profile
from cardservice.registration.routes.document_texts import upload_error_text

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


@pytest.mark.parametrize("name", ["example", "yokohama", "kashiwa"])
def test_municipalities_have_english_names(name: str) -> None:
    """A page in English names the cities in English (Matsudo, not 松戸市)."""
    library = load_profile(name).library
    for municipality in [*library.resident_municipalities, *library.counter_municipalities]:
        english = library.municipality_name(municipality, "en")
        assert english.isascii(), municipality
        assert english.istitle(), municipality
        assert library.municipality_name(municipality, "ja") == municipality
    if name == "kashiwa":
        others = [library.municipality_name(m, "en") for m in library.resident_municipalities]
        assert others == [
            "Kashiwa", "Matsudo", "Nagareyama", "Noda", "Abiko", "Inzai", "Shiroi", "Kamagaya"
        ]  # fmt: skip


@pytest.mark.parametrize(
    ("side", "needed", "opening"),
    [
        ("front", 2, "This document (Health insurance card) needs 2 photos, but"),
        ("front", 3, "This document (Health insurance card) needs 2 photos, and"),
        ("back", 2, "There is no room for the back of this document (Driver's license):"),
    ],
)
def test_document_rule_texts_read_as_english(side: str, needed: int, opening: str) -> None:
    """A document's name from the profile sits in a sentence that needs no article before it
    ("Health insurance card needs 2 photos" read as a label, not a sentence)."""
    documents = load_profile("kashiwa").documents
    doc_type = "drivers_license" if opening.startswith("There") else "health_insurance"
    refusal = InvalidInput(
        code="document_does_not_fit",
        doc_type=doc_type,
        side=side,
        needed=needed,
        max_files=2,
        fitting=["my_number"],
    )
    english = upload_error_text(refusal, "en", documents)
    assert english.startswith(opening), english
    japanese = upload_error_text(refusal, "ja", documents)
    assert "この書類（" in japanese, japanese
    assert SPACED.search(japanese) is None
