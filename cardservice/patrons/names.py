"""Names in furigana: hiragana and half-width katakana become full-width katakana."""

from __future__ import annotations

import re
import unicodedata

import jaconv

from cardservice.errors import InvalidInput

# Full-width katakana, the prolonged sound mark, the middle dot and the ideographic space.
_KATAKANA = re.compile(r"^[\u30A0-\u30FF\u3000]+$")


class InvalidKana(InvalidInput):
    """Write the reading in katakana or hiragana."""

    code = "kana_invalid"


def normalise_kana(raw: str, *, field: str = "kana") -> str:
    """Katakana for any hiragana or half-width input; anything else is an error."""
    text = jaconv.h2z(raw.strip(), kana=True, ascii=False, digit=False)
    text = unicodedata.normalize("NFC", jaconv.hira2kata(text)).replace(" ", "\u3000")
    if not text or not _KATAKANA.match(text):
        raise InvalidKana(field=field)
    return text
