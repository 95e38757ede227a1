"""People's names: readings in furigana (hiragana and half-width katakana become full-width
katakana, compared by sound), and a name as a letter addresses it (:class:`PersonName`)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Final

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


# --- readings compared -------------------------------------------------------------------

# Small kana as the large ones, and the spellings of one sound (ヂ ジ, ヅ ズ, ヲ オ).
_SAME_SOUND: Final = str.maketrans(
    "ァィゥェォャュョッヮヵヶヂヅヲ", "アイウエオヤユヨツワカケジズオ"
)
# The vowel each kana ends in, for the prolonged sound mark and the long vowels.
_VOWEL_ROWS: Final = {
    "ア": "アカサタナハマヤラワガザダバパ",
    "イ": "イキシチニヒミリギジヂビピ",
    "ウ": "ウクスツヌフムユルグズヅブプヴ",
    "エ": "エケセテネヘメレゲゼデベペ",
    "オ": "オコソトノホモヨロヲゴゾドボポ",
}
_VOWEL_OF: Final = {kana: vowel for vowel, row in _VOWEL_ROWS.items() for kana in row}
# A long o is written オウ, オオ or オー, a long e エイ or エー: サイトウ and サイトー,
# ケイコ and ケーコ.
_LONG_VOWEL: Final = {"オ": "ウ", "エ": "イ"}


def reading_key(*readings: str) -> str:
    """The readings (katakana, as :func:`normalise_kana` stores them), each folded so that
    the spellings of one pronunciation compare equal, joined by a space; for finding the
    same person twice:

    - spaces and middle dots are ignored;
    - small kana are large (キャ and キヤ, ッ and ツ), ヂ is ジ, ヅ is ズ, ヲ is オ;
    - the prolonged sound mark is the vowel before it (イチロー is イチロオ);
    - a long o written with ウ and a long e written with イ are that vowel (イチロウ is
      イチロオ, サイトウ and サイトー are サイトオ, ケイコ and ケーコ are ケエコ).

    Not for display or storage: two different names may share a key (that is the point).
    The long vowels are those of the Cabinet notice on modern kana usage (現代仮名遣い, 1986).
    """
    return " ".join(_fold_reading(reading) for reading in readings)


def _fold_reading(reading: str) -> str:
    text = "".join(reading.split()).replace("・", "").translate(_SAME_SOUND)
    folded: list[str] = []
    for char in text:
        vowel = _VOWEL_OF.get(folded[-1]) if folded else None
        lengthens = vowel is not None and (char == "ー" or _LONG_VOWEL.get(vowel) == char)
        folded.append(vowel if lengthens and vowel else char)
    return "".join(folded)


# --- a name in a letter ------------------------------------------------------------------

# Records keep the family name and the given name apart, as Japanese forms ask (氏・名), and
# hold no romanised name. Japanese writes them family name first and follows with 様
# (山田 花子 様). An English letter puts a name in the Latin alphabet given name first
# (Dear John Smith,); a name in kanji or kana keeps the order it is written in
# (Dear 山田 花子,): reversing it, or guessing a romanisation from the reading (大野 may be
# Ono, Ohno or Oono), would misname the person.

# What a name in the Latin alphabet may hold besides letters: O'Brien, Jean-Luc, St. John.
_LATIN_PUNCTUATION: Final = frozenset(" -'.\u2019")


@dataclass(frozen=True, slots=True)
class PersonName:
    family: str
    given: str

    def __str__(self) -> str:
        """The name in Japanese order, family name first: what 様 follows."""
        return f"{self.family} {self.given}".strip()

    @property
    def english(self) -> str:
        """The name as an English letter writes it: given name first when both parts are
        in the Latin alphabet, else as written."""
        if _latin(self.family) and _latin(self.given):
            return f"{self.given} {self.family}".strip()
        return str(self)


def _latin(text: str) -> bool:
    return all(
        ch in _LATIN_PUNCTUATION or (ch.isalpha() and unicodedata.name(ch, "").startswith("LATIN"))
        for ch in text
    )


def english_name(name: PersonName | str) -> str:
    """``name`` for an English letter (the mail templates' ``english_name`` filter); a
    plain string is taken as already written for its reader."""
    return name.english if isinstance(name, PersonName) else name
