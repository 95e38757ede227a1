"""Text as people type it: width normalised where that is meant, and nothing else changed.

Japanese input mixes widths: an IME gives full-width Latin letters and digits, old systems
and some phones half-width katakana. :func:`fold_width` settles those two and leaves every
other character as typed. It never applies NFKC, nor plain NFC to ideographs: the CJK
compatibility ideographs (U+F900..U+FAFF, U+2F800..U+2FA1F) have canonical decompositions,
so even NFC turns 神 U+FA19 into 神 U+795E and 塚 U+FA10 into 塚 U+585A, and a person's
name is written with the character they chose (JIS X 0213 and the family register keep
these apart).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

import jaconv

# Control, format (bidi overrides, zero-width characters) and surrogate code points: never
# part of a name, a number or an address (PostgreSQL refuses NUL in text outright).
INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs"})
ZERO_WIDTH_JOINER: Final = "\u200d"
# The CJK compatibility ideographs, which normalisation of any form would replace.
_COMPATIBILITY_IDEOGRAPHS: Final = re.compile(r"([\uf900-\ufaff\U0002f800-\U0002fa1f]+)")
# What jaconv would change: full-width ASCII and the ideographic space, half-width katakana.
_FULL_WIDTH: Final = re.compile(r"[\uff01-\uff5e\u3000]")
_HALF_WIDTH_KANA: Final = re.compile(r"[\uff61-\uff9f]")


def fold_width(raw: str) -> str:
    """``raw`` with full-width ASCII (letters, digits, punctuation, the ideographic space)
    as half-width and half-width katakana as full-width (jaconv), and combining voiced
    sound marks composed (NFC) everywhere but in CJK compatibility ideographs, which are
    kept as typed. Length may shrink (ｶﾞ is one ガ); nothing is stripped or refused."""
    if raw.isascii():
        return raw
    # jaconv is pure Python: it runs only where it has something to change.
    text = raw
    if _FULL_WIDTH.search(text):
        text = jaconv.z2h(text, kana=False, ascii=True, digit=True)
    if _HALF_WIDTH_KANA.search(text):
        text = jaconv.h2z(text, kana=True, ascii=False, digit=False)
    if unicodedata.is_normalized("NFC", text):
        return text
    parts = _COMPATIBILITY_IDEOGRAPHS.split(text)
    # split() with a group: the odd items are the runs of compatibility ideographs.
    return "".join(
        part if index % 2 else unicodedata.normalize("NFC", part)
        for index, part in enumerate(parts)
    )


def search_text(raw: str) -> str:
    """``raw`` as a search box takes it: :func:`fold_width` (so it matches stored values,
    which are kept as typed), without control and format characters, its runs of white
    space folded to one space, stripped."""
    folded = fold_width(raw)
    visible = "".join(
        " " if ch.isspace() else ch
        for ch in folded
        if ch.isspace() or unicodedata.category(ch) not in INVISIBLE_CATEGORIES
    )
    return " ".join(visible.split())


def unify_line_breaks(raw: str) -> str:
    """``raw`` with every line break as ``\\n``: a browser sends a textarea's line breaks as
    CRLF (HTML's form submission), and an old Mac's as a lone CR."""
    return raw.replace("\r\n", "\n").replace("\r", "\n")


def has_invisible(text: str, *, allowed: str = "\n\t") -> bool:
    """Whether ``text`` holds a control or format character other than ``allowed`` (a NUL,
    which PostgreSQL refuses in text, a bidi override, a zero-width space...).

    A zero-width joiner before a symbol is part of an emoji that a phone's keyboard writes
    (🙇‍♀️ is 🙇, the joiner, ♀ and a variation selector; 👨‍👩‍👧 joins three), seen as one
    picture: it is not counted."""
    return any(
        unicodedata.category(char) in INVISIBLE_CATEGORIES
        and char not in allowed
        and not (char == ZERO_WIDTH_JOINER and _symbol_at(text, index + 1))
        for index, char in enumerate(text)
    )


def _symbol_at(text: str, index: int) -> bool:
    return index < len(text) and unicodedata.category(text[index]) == "So"
