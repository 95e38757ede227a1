"""Check-digit schemes used on Japanese library cards.

A library's integrated library system (ILS) already prints cards with one of these schemes,
and the counter scanners and the ILS validate it. A digital card must therefore carry
exactly the check character the library's existing cards would carry, so each scheme
follows its published definition to the letter.

Everything here is pure arithmetic on strings. Misuse by the caller (an empty payload,
letters in a numeric payload, an unknown start/stop character) raises ``ValueError``:
that is a programming or configuration error, not something a patron typed. Patron input
is checked by :mod:`cardservice.cards.numbers` before it gets here.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum


class CheckScheme(StrEnum):
    """The check-digit schemes a library profile may name (values are the profile spelling)."""

    NONE = "none"
    LUHN = "luhn"  # modulus 10, weights 2-1 (the doubled-digit scheme of payment cards)
    MOD10W3 = "mod10w3"  # modulus 10, weights 3-1 (the JAN/EAN scheme)
    MOD11W27 = "mod11w27"  # modulus 11, weights 2-7 cycling
    SEVEN_DR = "7dr"  # the number modulo 7
    SEVEN_DSR = "7dsr"  # 7 minus (the number modulo 7)
    MOD16 = "mod16"  # modulus 16 over every NW-7 (Codabar) character


DIGITS = "0123456789"

# NW-7 (Codabar) character values for modulus 16. The data characters are the digits and
# six symbols; the start/stop characters A-D carry 16-19. The alternate start/stop set
# T, N, *, E is the same four bars under other names (T=A, N=B, *=C, E=D), so they carry
# the same values: a scanner configured either way must agree on the check character.
_NW7_DATA_VALUES: dict[str, int] = {
    **{digit: value for value, digit in enumerate(DIGITS)},
    "-": 10,
    "$": 11,
    ":": 12,
    "/": 13,
    ".": 14,
    "+": 15,
}
_NW7_DATA_BY_VALUE: dict[int, str] = {value: char for char, value in _NW7_DATA_VALUES.items()}
_NW7_START_STOP_VALUES: dict[str, int] = {
    "A": 16,
    "B": 17,
    "C": 18,
    "D": 19,
    "T": 16,
    "N": 17,
    "*": 18,
    "E": 19,
}

#: Characters that may stand at either end of an NW-7 symbol (upper case; scanners may
#: send lower case, which callers fold with ``str.upper``).
START_STOP_CHARACTERS = frozenset(_NW7_START_STOP_VALUES)
#: Characters that may appear in the data of an NW-7 symbol, and so may be a mod 16 check.
NW7_DATA_CHARACTERS = frozenset(_NW7_DATA_VALUES)

# Luhn doubles every second digit and adds the digits of the product: 2*d - 9 when 2*d > 9.
_LUHN_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)


# Digit characters to their values, and to their Luhn-doubled values, as byte tables: the
# weighted sums below run in C over every other digit (the counter scans through them).
_DIGIT_VALUE = bytes.maketrans(DIGITS.encode(), bytes(range(10)))
_LUHN_DOUBLED_VALUE = bytes.maketrans(DIGITS.encode(), bytes(_LUHN_DOUBLED))


def _ascii_digits(payload: str) -> bytes:
    """Return the payload as ASCII bytes, refusing anything but ASCII 0-9.

    ``str.isdigit`` alone is not enough: it accepts superscripts and other scripts' digits,
    which no scanner would encode and which would silently compute a check for a different
    number. Among ASCII characters it accepts exactly 0-9.
    """
    if not (payload.isascii() and payload.isdigit()):
        raise ValueError(f"a check digit needs a payload of ASCII digits, got {payload!r}")
    return payload.encode("ascii")


def _digit_values(payload: str) -> bytes:
    """The payload's digit values (a ``bytes`` of 0-9), refusing anything but ASCII 0-9."""
    return _ascii_digits(payload).translate(_DIGIT_VALUE)


def _luhn(payload: str) -> str:
    """Modulus 10 weights 2-1: the rightmost data digit is doubled, then every second one."""
    digits = _ascii_digits(payload)[::-1]  # from the rightmost
    total = sum(digits[0::2].translate(_LUHN_DOUBLED_VALUE)) + sum(
        digits[1::2].translate(_DIGIT_VALUE)
    )
    return str((10 - total % 10) % 10)


def _mod10w3(payload: str) -> str:
    """Modulus 10 weights 3-1: weight 3 on the rightmost data digit, then 1, 3, 1, ..."""
    values = _digit_values(payload)[::-1]  # from the rightmost
    total = 3 * sum(values[0::2]) + sum(values[1::2])
    return str((10 - total % 10) % 10)


def _mod11w27(payload: str) -> str:
    """Modulus 11 weights 2-7: weights 2, 3, 4, 5, 6, 7, 2, 3, ... from the rightmost digit."""
    total = 0
    for position, digit in enumerate(reversed(_digit_values(payload))):
        total += digit * (2 + position % 6)
    check = 11 - total % 11
    # Convention: 11 (remainder 0) becomes 0, as everywhere. 10 (remainder 1) has no digit;
    # ISBN-10 writes it as X, but NW-7 has no X and the libraries' systems print 0 instead.
    # So 10 also becomes 0, and the scheme cannot tell remainders 0 and 1 apart: a few
    # single-digit errors go undetected. That is the scheme as deployed, not a choice here.
    return "0" if check >= 10 else str(check)


def _remainder7(payload: str) -> int:
    """The payload read as a decimal number, modulo 7.

    Computed digit by digit so that long payloads neither build a big integer nor hit
    Python's limit on converting long digit strings to ``int``.
    """
    remainder = 0
    for digit in _digit_values(payload):
        remainder = (remainder * 10 + digit) % 7
    return remainder


def _seven_dr(payload: str) -> str:
    """7DR (divide, remainder): the check is the number modulo 7, so 0-6."""
    return str(_remainder7(payload))


def _seven_dsr(payload: str) -> str:
    """7DSR (divide, subtract remainder): the check is 7 minus (the number modulo 7).

    A remainder of 0 gives 7, not 0: standard 7DSR keeps the plain subtraction, so its
    check digits run 1-7 and the digit 0 never appears as a 7DSR check.
    """
    return str(7 - _remainder7(payload))


def _start_stop_value(char: str, role: str) -> int:
    """The mod 16 value of a start or stop character, folding the lower case scanners send."""
    value = _NW7_START_STOP_VALUES.get(char.upper()) if len(char) == 1 else None
    if value is None:
        raise ValueError(f"{role} must be one of A B C D T N * E, got {char!r}")
    return value


def _mod16(payload: str, start: str, stop: str) -> str:
    """Modulus 16 over the whole NW-7 symbol, start and stop characters included.

    The check character stands just before the stop character, and is chosen so that the
    values of all characters of the symbol add up to a multiple of 16.
    """
    if not payload or any(char not in _NW7_DATA_VALUES for char in payload):
        raise ValueError(f"a mod 16 check needs NW-7 data characters, got {payload!r}")
    total = _start_stop_value(start, "start") + _start_stop_value(stop, "stop")
    total += sum(_NW7_DATA_VALUES[char] for char in payload)
    return _NW7_DATA_BY_VALUE[(16 - total % 16) % 16]


def _none(payload: str) -> str:
    """No check character; the payload must still be digits so every scheme agrees on input."""
    _digit_values(payload)
    return ""


_DIGIT_SCHEMES: dict[CheckScheme, Callable[[str], str]] = {
    CheckScheme.NONE: _none,
    CheckScheme.LUHN: _luhn,
    CheckScheme.MOD10W3: _mod10w3,
    CheckScheme.MOD11W27: _mod11w27,
    CheckScheme.SEVEN_DR: _seven_dr,
    CheckScheme.SEVEN_DSR: _seven_dsr,
}


def check_length(scheme: CheckScheme) -> int:
    """How many characters the scheme appends: 0 for ``none``, 1 for every other scheme."""
    return 0 if scheme == CheckScheme.NONE else 1


def _require_start_stop(start: str, stop: str) -> None:
    """Refuse unknown start/stop characters under every scheme, not only under mod16.

    Only mod16 counts them, but a misconfigured profile should fail the same way whatever
    its scheme, and before any card is printed with an unscannable symbol.
    """
    if start.upper() in START_STOP_CHARACTERS and stop.upper() in START_STOP_CHARACTERS:
        return  # the usual case: both are known (the set holds single characters only)
    _start_stop_value(start, "start")
    _start_stop_value(stop, "stop")


def _compute(scheme: CheckScheme, payload: str, start: str, stop: str) -> str:
    if scheme == CheckScheme.MOD16:
        return _mod16(payload, start, stop)
    return _DIGIT_SCHEMES[scheme](payload)


def check_character(scheme: CheckScheme, payload: str, *, start: str = "A", stop: str = "A") -> str:
    """Return the check character for ``payload`` under ``scheme`` ("" for ``none``).

    ``start`` and ``stop`` are the NW-7 start/stop characters the number is printed between
    (any case); only ``mod16`` counts them. Raises ``ValueError`` on an unknown scheme, an
    unknown start/stop character, or a payload the scheme cannot carry.
    """
    scheme = CheckScheme(scheme)
    _require_start_stop(start, stop)
    return _compute(scheme, payload, start, stop)


def is_valid(
    scheme: CheckScheme, number_with_check: str, *, start: str = "A", stop: str = "A"
) -> bool:
    """Tell whether ``number_with_check`` ends in the right check character.

    Malformed input (empty, a character the scheme cannot carry, no data before the check)
    is simply not valid: this answers a question about possibly bad input, so it returns
    ``False`` rather than raising. An unknown scheme or start/stop character still raises
    ``ValueError``, because that is configuration, not input.
    """
    if type(scheme) is not CheckScheme:
        scheme = CheckScheme(scheme)
    _require_start_stop(start, stop)
    payload = number_with_check[: len(number_with_check) - check_length(scheme)]
    given = number_with_check[len(payload) :]
    try:
        return _compute(scheme, payload, start, stop) == given
    except ValueError:
        return False
