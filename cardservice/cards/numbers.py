"""User numbers: composing new ones and normalising what a scanner or a clerk enters.

A user number is ``prefix + zero-padded serial + check character``, always exactly
``NumberFormat.length`` characters. The prefix and serial are ASCII digits: every scheme
except mod16 computes over digits, and NW-7 (Codabar), the symbology most Japanese library
cards use, cannot encode letters in its data. Under mod16 the check character alone may be
one of the NW-7 symbols ``- $ : / . +``.

The start/stop characters of the NW-7 symbol are not part of the stored number; they live
in the format because mod16 counts them and because :func:`barcode_text` prints them.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any, Final, Literal

from cardservice.cards.barcodes.symbols import Symbology
from cardservice.cards.checkdigits import (
    DIGITS,
    NW7_DATA_CHARACTERS,
    START_STOP_CHARACTERS,
    CheckScheme,
    check_character,
    check_length,
    is_valid,
)
from cardservice.errors import InvalidInput
from cardservice.text import INVISIBLE_CATEGORIES

NumberErrorCode = Literal["number_empty", "number_bad_format", "number_bad_check_digit"]

# Longer input is refused before any Unicode work: no card number is anywhere near this,
# and it keeps a pasted page of text from costing normalisation time or being echoed back.
_MAX_INPUT_LENGTH = 256

# Dashes a clerk or patron may type for a hyphen, after NFKC (which already folds the
# full-width hyphen-minus). A Japanese IME in full-width mode readily produces the
# katakana prolonged sound mark for "-"; NFKC turns the half-width one into it.
_DASHES = str.maketrans(
    dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fc\ufe63", "-")
)

# The kana a Japanese IME makes of a scanner's NW-7 start/stop keys (a scanner is a keyboard:
# it sends key presses, and the IME interprets them). Romaji input: a -> あ, e -> え, and n
# -> ん once the next key is not a vowel; b, c, d, t stay letters (full-width, which NFKC
# folds). JIS kana input (kana lock): the A key is ち, B こ, C そ, D し, E い, T か, N み.
# Katakana mode gives the katakana, half-width katakana mode the half-width ones (NFKC makes
# them full-width first). At either end of a number with ASCII or full-width digits a kana
# can only be such a key; あ and え, the 3 and 5 keys under kana lock, are A and E there
# because kana lock would have turned the digits into kana too.
_KANA_START_STOP: Final = {
    kana: letter
    for letters, letter in (
        ("あアちチ", "A"),
        ("こコ", "B"),
        ("そソ", "C"),
        ("しシ", "D"),
        ("えエいイ", "E"),
        ("かカ", "T"),
        ("んンみミ", "N"),
    )
    for kana in letters
}
# Under kana lock the digit keys type kana as well: 1 ぬ, 2 ふ, 3 あ, 4 う, 5 え, 6 お,
# 7 や, 8 ゆ, 9 よ, 0 わ (JIS X 6002). Applied only to a number made wholly of them.
_KANA_LOCK_DIGITS: Final = str.maketrans(
    "ぬふあうえおやゆよわヌフアウエオヤユヨワ", "1234567890" * 2
)


class InvalidNumber(InvalidInput):
    """The card number is not valid.

    Every instance carries one of the codes of ``NumberErrorCode``; the class code is the
    generic one for a caller that only looks at the class.
    """

    code = "number_bad_format"

    def __init__(self, message: str, *, code: NumberErrorCode, **detail: Any) -> None:
        super().__init__(message, code=code, **detail)


@dataclass(frozen=True, slots=True)
class NumberFormat:
    """How a library's user numbers look.

    ``length`` counts every character of the stored number: prefix, serial digits and the
    check character. ``start``/``stop`` are the NW-7 start/stop characters printed around
    it (upper case, one of A B C D T N * E). An invalid format raises ``ValueError`` so the
    profile loader can name the offending key.
    """

    prefix: str
    length: int
    scheme: CheckScheme
    start: str = "A"
    stop: str = "A"

    def __post_init__(self) -> None:
        object.__setattr__(self, "scheme", CheckScheme(self.scheme))
        if any(char not in DIGITS for char in self.prefix):
            raise ValueError(f"prefix must be ASCII digits, got {self.prefix!r}")
        if self.serial_digits < 1:
            raise ValueError(
                f"length {self.length} leaves no room for a serial after prefix "
                f"{self.prefix!r} and the check character"
            )
        for role, char in (("start", self.start), ("stop", self.stop)):
            if char not in START_STOP_CHARACTERS:
                raise ValueError(f"{role} must be one of A B C D T N * E, got {char!r}")

    @property
    def serial_digits(self) -> int:
        """How many digits the zero-padded serial occupies."""
        return self.length - len(self.prefix) - check_length(self.scheme)


def capacity(fmt: NumberFormat) -> int:
    """How many serials the format holds: ``compose`` accepts ``0 <= serial < capacity``."""
    return int(10**fmt.serial_digits)  # int(): typeshed types int ** int as Any


def compose(fmt: NumberFormat, serial: int) -> str:
    """Build the user number for ``serial``: prefix, zero-padded serial, check character.

    Raises ``ValueError`` when the serial does not fit, so the allocator learns that the
    number space has run out instead of issuing a number of the wrong length.
    """
    if not 0 <= serial < capacity(fmt):
        raise ValueError(
            f"serial {serial} does not fit in {fmt.serial_digits} digits (capacity {capacity(fmt)})"
        )
    payload = fmt.prefix + str(serial).zfill(fmt.serial_digits)
    return payload + check_character(fmt.scheme, payload, start=fmt.start, stop=fmt.stop)


def normalise(fmt: NumberFormat, raw: str) -> str:
    """Turn scanned or typed input into the canonical user number, or raise InvalidNumber.

    Accepts what real counters produce: full-width characters from a Japanese IME, the
    NW-7 start/stop characters a scanner may pass through (in either case, either set, or
    as the kana an IME makes of their keys: ``あ2000000014あ`` is ``a2000000014a``), and
    spaces or hyphens a person adds for readability, and invisible characters around or
    inside typed input (a zero-width space, a direction mark).
    """
    if len(raw) > _MAX_INPUT_LENGTH:
        raise InvalidNumber(_length_message(fmt), code="number_bad_format")
    # Scanners send ASCII; only typed input needs the Unicode work (it is the slow part).
    if not raw.isascii():
        # A zero-width space or a direction mark pasted or typed with the number is not
        # part of it (control, format and surrogate code points: ``text.INVISIBLE_CATEGORIES``).
        visible = "".join(ch for ch in raw if unicodedata.category(ch) not in INVISIBLE_CATEGORIES)
        raw = _from_kana_keys(unicodedata.normalize("NFKC", visible).translate(_DASHES).strip())
    text = _strip_start_stop(raw.strip())
    if not text:
        raise InvalidNumber("The card number is empty.", code="number_empty")
    number = _remove_separators(fmt, text)
    _require_format(fmt, number)
    if not is_valid(fmt.scheme, number, start=fmt.start, stop=fmt.stop):
        raise InvalidNumber(
            "The card number's check digit does not match; it may be mistyped or misread.",
            code="number_bad_check_digit",
            number=number,
        )
    return number


def barcode_text(fmt: NumberFormat, number: str) -> str:
    """What an NW-7 (Codabar) symbol encodes: start character, number, stop character.

    The number must already be canonical; anything else is a programming error (it would
    print a card no scanner accepts), so it raises ``ValueError``. Code 128 encodes the
    bare number and needs no help from here.
    """
    try:
        canonical = normalise(fmt, number)
    except InvalidNumber as error:
        raise ValueError(f"not a valid user number: {number!r} ({error.code})") from error
    if canonical != number:
        raise ValueError(f"not a canonical user number: {number!r}")
    return fmt.start + number + fmt.stop


def barcode_value(symbology: Symbology | str, fmt: NumberFormat, number: str) -> str:
    """What a card's barcode encodes: NW-7 adds its start/stop characters, Code 128 and QR
    carry the bare number."""
    if Symbology(symbology) is Symbology.CODABAR:
        return barcode_text(fmt, number)
    return number


def may_be_number(raw: str) -> bool:
    """Whether ``raw`` (stripped) begins as a user number does when scanned or typed: a
    digit, after at most one NW-7 start character (a letter, full-width or not, or the kana
    an IME makes of its key). Names never begin so; a search box uses this to choose."""
    text = unicodedata.normalize("NFKC", raw[:8]).lstrip()
    if text[:1].upper() in START_STOP_CHARACTERS or text[:1] in _KANA_START_STOP:
        text = text[1:].lstrip()
    return text[:1].isascii() and text[:1].isdigit()


def _from_kana_keys(text: str) -> str:
    """``text`` with a start/stop key typed through an IME (see ``_KANA_START_STOP``) as its
    letter, and a number typed wholly under kana lock as its digits."""
    if len(text) < 3:
        return text
    first, body, last = text[0], text[1:-1], text[-1]
    if first in _KANA_START_STOP and last in _KANA_START_STOP:
        kana_lock = body.translate(_KANA_LOCK_DIGITS)
        if kana_lock.isascii() and kana_lock.isdigit():
            body = kana_lock
    return _KANA_START_STOP.get(first, first) + body + _KANA_START_STOP.get(last, last)


def _strip_start_stop(text: str) -> str:
    """Drop one NW-7 start character and one stop character, when present.

    User numbers never contain letters or ``*``, and a mod16 check character is never one
    of them either, so a start/stop character at an end cannot be part of the number.
    """
    if text[:1].upper() in START_STOP_CHARACTERS:
        text = text[1:]
    if text[-1:].upper() in START_STOP_CHARACTERS:
        text = text[:-1]
    return text.strip()


def _remove_separators(fmt: NumberFormat, text: str) -> str:
    """Remove spaces and hyphens people type between digits.

    Under mod16 the last character is the check character, and it may itself be ``-``;
    it is kept as it is, and separators are removed only from the characters before it.
    """
    if text.isdigit():  # the usual case: nothing to remove
        return text
    keep_last = fmt.scheme == CheckScheme.MOD16
    body, last = (text[:-1], text[-1]) if keep_last else (text, "")
    return "".join(char for char in body if char != "-" and not char.isspace()) + last


def _require_format(fmt: NumberFormat, number: str) -> None:
    """Check characters, length and prefix; all three are ``number_bad_format``."""
    data = number[:-1] if fmt.scheme == CheckScheme.MOD16 else number
    check = number[-1:] if fmt.scheme == CheckScheme.MOD16 else ""
    ascii_digits = data.isascii() and data.isdigit()
    if not ascii_digits or (check and check not in NW7_DATA_CHARACTERS):
        raise InvalidNumber(
            "The card number contains a character that is not allowed.",
            code="number_bad_format",
            number=number,
        )
    if len(number) != fmt.length:
        raise InvalidNumber(_length_message(fmt), code="number_bad_format", number=number)
    if not number.startswith(fmt.prefix):
        raise InvalidNumber(
            f"The card number must start with {fmt.prefix}.",
            code="number_bad_format",
            number=number,
        )


def _length_message(fmt: NumberFormat) -> str:
    return f"The card number must be {fmt.length} characters long."
