"""The Individual Number (個人番号, "My Number"): recognising one in a code read off an image.

The law forbids the library to collect it, and the back of a My Number Card carries it in a
QR code. :func:`carries_individual_number` says whether a code's text holds one, so that an
image showing it is refused whatever slot it was uploaded in (``documents``).

The number is 12 digits: 11 digits and a check digit. The check digit is defined in
総務省令第八十五号 (平成26年) 第5条, the formula that 行政手続における特定の個人を識別するため
の番号の利用等に関する法律施行令 第8条 refers to::

    check = 11 - (Σ_{n=1..11} P_n × Q_n) mod 11, and 0 when that remainder is 0 or 1
    P_n: the n-th digit of the first 11, counting from the rightmost (n = 1)
    Q_n: n + 1 for 1 ≤ n ≤ 6, n - 5 for 7 ≤ n ≤ 11

so, read left to right, the 11 digits weigh 6 5 4 3 2 7 6 5 4 3 2.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

INDIVIDUAL_NUMBER_DIGITS = 12
# Q_n for n = 11 .. 1, i.e. the weights of the 11 digits read from the left.
_WEIGHTS = tuple((n + 1) if n <= 6 else (n - 5) for n in range(11, 0, -1))
# A run of digits not touching another digit: "MN:123456789018;" holds one, a 13-digit
# EAN does not hold the 12-digit strings inside it.
_DIGIT_RUN = re.compile(r"(?<!\d)\d+(?!\d)", re.ASCII)
# The number as it is printed and typed: three groups of four digits, each gap one space or
# one hyphen (after NFKC, the full-width space and hyphen are these). The groups must not be
# part of a longer grouped number ("1234 5678 9018 7777", a card or account number): no
# digit, or separator and digit, on either side.
_GROUPED = re.compile(r"(?<!\d)(?<!\d[ -])(\d{4})[ -](\d{4})[ -](\d{4})(?![ -]?\d)", re.ASCII)
# Dashes people and keyboards type for a hyphen (as ``registration.japan.DASHES``, which
# NFKC leaves alone): the hyphen, figure and other dashes, the minus sign, the long vowel
# mark of a Japanese IME.
_DASHES = re.compile("[\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fc]")


def check_digit(first_eleven: str) -> int:
    """The check digit (0-9) of an Individual Number's first 11 digits (ASCII).

    Raises ValueError unless ``first_eleven`` is exactly 11 ASCII digits.
    """
    if len(first_eleven) != 11 or not first_eleven.isascii() or not first_eleven.isdigit():
        raise ValueError("an Individual Number starts with 11 digits")
    remainder = sum(int(d) * w for d, w in zip(first_eleven, _WEIGHTS, strict=True)) % 11
    return 0 if remainder <= 1 else 11 - remainder


def is_individual_number(digits: str) -> bool:
    """True for 12 ASCII digits whose last is the check digit of the first 11."""
    if len(digits) != INDIVIDUAL_NUMBER_DIGITS or not digits.isascii() or not digits.isdigit():
        return False
    return check_digit(digits[:11]) == int(digits[11])


def carries_individual_number(texts: Iterable[str]) -> bool:
    """True when any text holds an Individual Number whose check digit is right: a run of
    exactly 12 digits, or three groups of four separated by a space, a hyphen, a full-width
    space or a full-width hyphen (``1234 5678 9018``, ``1234-5678-9018``); full-width digits
    count, and so do the digits of a payload with other text around them. Longer numbers
    (13 digits in a row, four groups of four) are not one. Never returns or logs the
    number itself."""
    for text in texts:
        folded = _DASHES.sub("-", unicodedata.normalize("NFKC", text))
        if any(is_individual_number(run) for run in _DIGIT_RUN.findall(folded)):
            return True
        if any(is_individual_number("".join(groups)) for groups in _GROUPED.findall(folded)):
            return True
    return False
