"""Text as staff type it into a search box."""

from __future__ import annotations

import unicodedata

# Control, format (bidi overrides, zero-width characters) and surrogate code points: never
# part of a name, a number or an address (PostgreSQL refuses NUL in text outright).
INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs"})


def search_text(raw: str) -> str:
    """``raw`` NFKC-normalised (full-width letters and digits, half-width kana), without
    control and format characters, its runs of white space folded to one space, stripped."""
    folded = unicodedata.normalize("NFKC", raw)
    visible = "".join(
        " " if ch.isspace() else ch
        for ch in folded
        if ch.isspace() or unicodedata.category(ch) not in INVISIBLE_CATEGORIES
    )
    return " ".join(visible.split())


def has_invisible(text: str, *, allowed: str = "\n\t") -> bool:
    """Whether ``text`` holds a control or format character other than ``allowed`` (a NUL,
    which PostgreSQL refuses in text, a bidi override, a zero-width space...)."""
    return any(
        unicodedata.category(char) in INVISIBLE_CATEGORIES and char not in allowed for char in text
    )
