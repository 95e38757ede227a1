"""User numbers: composing, normalising scanner and keyboard input, barcode text."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cardservice.cards.checkdigits import CheckScheme
from cardservice.cards.numbers import (
    InvalidNumber,
    NumberFormat,
    barcode_text,
    capacity,
    compose,
    normalise,
)
from cardservice.errors import InvalidInput, Kind

S = CheckScheme

# Prefix 21, ten characters in all. Checks worked by hand over payload 210345678:
#   luhn     8*2->7, 7, 6*2->3, 5, 4*2=8, 3, 0, 1, 2*2=4 = 38 -> 2
#   mod10w3  8*3 + 7 + 6*3 + 5 + 4*3 + 3 + 0 + 1 + 2*3 = 76 -> 4
#   mod11w27 8*2 + 7*3 + 6*4 + 5*5 + 4*6 + 3*7 + 0*2 + 1*3 + 2*4 = 142; 142 % 11 = 10 -> 1
#   7dr      210345678 = 7 * 30049382 + 4 -> 4;  7dsr 7 - 4 -> 3
#   mod16 over A210345689A: 16 + 38 + 16 = 70; 70 % 16 = 6; 16 - 6 = 10 -> '-'
#     (chosen so the check character is a hyphen, the case normalisation must not eat)
EXAMPLES: dict[CheckScheme, tuple[int, str]] = {
    S.NONE: (345678, "2100345678"),
    S.LUHN: (345678, "2103456782"),
    S.MOD10W3: (345678, "2103456784"),
    S.MOD11W27: (345678, "2103456781"),
    S.SEVEN_DR: (345678, "2103456784"),
    S.SEVEN_DSR: (345678, "2103456783"),
    S.MOD16: (345689, "210345689-"),
}
ALL_SCHEMES = list(CheckScheme)
SCHEMES_WITH_CHECK = [scheme for scheme in CheckScheme if scheme != S.NONE]


def _fmt(scheme: CheckScheme) -> NumberFormat:
    return NumberFormat(prefix="21", length=10, scheme=scheme)


def _number(scheme: CheckScheme) -> str:
    return EXAMPLES[scheme][1]


def _full_width(text: str) -> str:
    """What a Japanese IME in full-width mode types: U+FF01-U+FF5E for ASCII ! to ~."""
    return "".join(chr(ord(char) + 0xFEE0) if "!" <= char <= "~" else char for char in text)


def _rejects(fmt: NumberFormat, raw: str, code: str) -> InvalidNumber:
    with pytest.raises(InvalidNumber) as caught:
        normalise(fmt, raw)
    assert caught.value.code == code
    assert caught.value.message.endswith(".")
    return caught.value


# --- compose and capacity --------------------------------------------------------------


@pytest.mark.parametrize("scheme", ALL_SCHEMES)
def test_compose_gives_the_worked_example(scheme: CheckScheme) -> None:
    serial, number = EXAMPLES[scheme]
    assert compose(_fmt(scheme), serial) == number


def test_compose_pads_the_serial_with_zeros() -> None:
    # Luhn over 210000000: the 2 is doubled (4), the 1 is not: 5 -> check 5.
    assert compose(_fmt(S.LUHN), 0) == "2100000005"
    # Luhn over 210000007: 7*2=14 -> 5, plus 1, plus 4 = 10 -> check 0.
    assert compose(_fmt(S.LUHN), 7) == "2100000070"
    assert compose(_fmt(S.NONE), 7) == "2100000007"


def test_capacity_counts_the_serial_digits_left_by_prefix_and_check() -> None:
    assert capacity(_fmt(S.LUHN)) == 10**7
    assert capacity(_fmt(S.NONE)) == 10**8
    assert capacity(NumberFormat(prefix="", length=2, scheme=S.MOD16)) == 10


@pytest.mark.parametrize("scheme", ALL_SCHEMES)
def test_compose_fills_the_last_serial_and_refuses_the_next(scheme: CheckScheme) -> None:
    fmt = _fmt(scheme)
    last = compose(fmt, capacity(fmt) - 1)
    assert len(last) == 10
    assert last.startswith("21999")
    with pytest.raises(ValueError, match="does not fit"):
        compose(fmt, capacity(fmt))
    with pytest.raises(ValueError, match="does not fit"):
        compose(fmt, -1)


# --- the format itself -----------------------------------------------------------------


def test_format_takes_the_scheme_by_its_profile_spelling() -> None:
    fmt = NumberFormat(prefix="21", length=10, scheme="luhn")  # type: ignore[arg-type]
    assert fmt.scheme is S.LUHN


@pytest.mark.parametrize(
    ("prefix", "length", "scheme", "start", "stop", "problem"),
    [
        ("2A", 10, "luhn", "A", "A", "prefix"),
        ("\uff12\uff11", 10, "luhn", "A", "A", "prefix"),  # full-width 21
        ("21", 3, "luhn", "A", "A", "no room"),
        ("", 1, "luhn", "A", "A", "no room"),
        ("", 0, "none", "A", "A", "no room"),
        ("21", 10, "luhn", "a", "A", "start"),
        ("21", 10, "luhn", "A", "X", "stop"),
        ("21", 10, "mod97", "A", "A", "mod97"),
    ],
)
def test_format_refuses_what_no_card_could_carry(
    *, prefix: str, length: int, scheme: str, start: str, stop: str, problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        NumberFormat(prefix, length, scheme, start, stop)  # type: ignore[arg-type]


def test_format_is_frozen() -> None:
    fmt = _fmt(S.LUHN)
    with pytest.raises(AttributeError):
        fmt.prefix = "22"  # type: ignore[misc]


# --- normalise: what is accepted -------------------------------------------------------


def _accepted_renderings(number: str) -> list[str]:
    head, middle, tail = number[:2], number[2:6], number[6:]
    return [
        number,
        f"  {number}\r\n",
        _full_width(number),
        f"A{number}A",
        f"B{number}D",
        f"a{number}a",
        f"c{number}b",
        f"T{number}N",
        f"*{number}E",
        f"t{number}e",
        _full_width(f"a{number}b"),
        f"A {number} A",
        f"{head} {middle} {tail}",
        f"{head}-{middle}-{tail}",
        f"{head}\u3000{middle}\u30fc{tail}",  # ideographic space, katakana long-vowel mark
        f"{head}\u2212{middle}\u2010{tail}",  # minus sign, hyphen
        _full_width(f"{head}-{middle} {tail}"),
        f" a{head}-{middle} {tail}b\n",
    ]


@pytest.mark.parametrize("scheme", ALL_SCHEMES)
def test_normalise_accepts_every_rendering_of_the_number(scheme: CheckScheme) -> None:
    number = _number(scheme)
    for raw in _accepted_renderings(number):
        assert normalise(_fmt(scheme), raw) == number, raw


def test_normalise_keeps_a_hyphen_that_is_the_mod16_check_character() -> None:
    fmt = _fmt(S.MOD16)
    assert normalise(fmt, "210345689-") == "210345689-"
    assert normalise(fmt, "2103-4568-9-") == "210345689-"
    assert normalise(fmt, "21034 5689 -") == "210345689-"
    assert normalise(fmt, "a210345689-b") == "210345689-"
    assert normalise(fmt, "210345689\uff0d") == "210345689-"  # full-width hyphen-minus
    assert normalise(fmt, "210345689\u30fc") == "210345689-"  # what an IME gives for "-"
    # Before the last character a hyphen is only ever a separator: this reads 2103456890.
    _rejects(fmt, "210345689-0", "number_bad_check_digit")


@pytest.mark.parametrize("check", ["$", ":", "/", ".", "+"])
def test_normalise_keeps_every_mod16_symbol_check(check: str) -> None:
    fmt = _fmt(S.MOD16)
    number = next(n for n in (compose(fmt, serial) for serial in range(100)) if n.endswith(check))
    assert normalise(fmt, number) == number
    assert normalise(fmt, _full_width(f"a{number[:4]}-{number[4:]}b")) == number


# --- normalise: what is refused --------------------------------------------------------


@pytest.mark.parametrize("scheme", ALL_SCHEMES)
@pytest.mark.parametrize("raw", ["", "   ", "\u3000", "\r\n", "A", "AB", "a a", "\uff21\uff22"])
def test_normalise_calls_nothing_empty(scheme: CheckScheme, raw: str) -> None:
    error = _rejects(_fmt(scheme), raw, "number_empty")
    assert "number" not in error.detail


@pytest.mark.parametrize("scheme", SCHEMES_WITH_CHECK)
def test_normalise_rejects_a_changed_last_data_digit(scheme: CheckScheme) -> None:
    number = _number(scheme)
    changed = number[:-2] + str((int(number[-2]) + 1) % 10) + number[-1]
    error = _rejects(_fmt(scheme), changed, "number_bad_check_digit")
    assert error.detail == {"number": changed}


@pytest.mark.parametrize("scheme", SCHEMES_WITH_CHECK)
def test_normalise_rejects_a_changed_check_digit(scheme: CheckScheme) -> None:
    number = _number(scheme)
    changed = number[:-1] + ("5" if number[-1] != "5" else "6")
    _rejects(_fmt(scheme), f"A{changed}A", "number_bad_check_digit")


def test_mod16_check_depends_on_the_configured_start_and_stop() -> None:
    other = NumberFormat(prefix="21", length=10, scheme=S.MOD16, start="B", stop="D")
    _rejects(other, _number(S.MOD16), "number_bad_check_digit")


@pytest.mark.parametrize("scheme", ALL_SCHEMES)
def test_normalise_rejects_a_wrong_length(scheme: CheckScheme) -> None:
    number = _number(scheme)
    fmt = _fmt(scheme)
    too_short = number[:-2] + number[-1]
    too_long = number[:3] + "5" + number[3:]
    for raw in (too_short, too_long, "21", number[:-1]):
        error = _rejects(fmt, raw, "number_bad_format")
        assert error.message == "The card number must be 10 characters long."
        assert error.detail["number"] == raw


@pytest.mark.parametrize("scheme", ALL_SCHEMES)
def test_normalise_rejects_a_wrong_prefix(scheme: CheckScheme) -> None:
    number = "31" + _number(scheme)[2:]
    error = _rejects(_fmt(scheme), number, "number_bad_format")
    assert error.message == "The card number must start with 21."


@pytest.mark.parametrize("scheme", ALL_SCHEMES)
@pytest.mark.parametrize("bad", ["O", "#", "_", "\u0663", "\u00bd", "A"])
def test_normalise_rejects_characters_a_number_cannot_hold(scheme: CheckScheme, bad: str) -> None:
    number = _number(scheme)
    raw = number[:3] + bad + number[4:]
    error = _rejects(_fmt(scheme), raw, "number_bad_format")
    assert error.message == "The card number contains a character that is not allowed."


def test_under_mod16_only_the_check_may_be_a_symbol() -> None:
    fmt = _fmt(S.MOD16)
    _rejects(fmt, "2103+5689-", "number_bad_format")
    _rejects(fmt, "21034568#", "number_bad_format")


@pytest.mark.parametrize("scheme", [S.LUHN, S.NONE])
def test_a_symbol_is_no_check_outside_mod16(scheme: CheckScheme) -> None:
    _rejects(_fmt(scheme), _number(scheme)[:-1] + "+", "number_bad_format")


def test_normalise_does_not_echo_or_process_a_flood() -> None:
    error = _rejects(_fmt(S.LUHN), "2" * 300, "number_bad_format")
    assert "number" not in error.detail


def test_the_error_is_an_invalid_input_with_a_stable_shape() -> None:
    error = _rejects(_fmt(S.LUHN), "2103456783", "number_bad_check_digit")
    assert isinstance(error, InvalidInput)
    assert error.kind is Kind.INVALID
    assert error.as_dict() == {
        "code": "number_bad_check_digit",
        "message": "The card number's check digit does not match; it may be mistyped or misread.",
        "number": "2103456783",
    }


# --- barcode text ----------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ALL_SCHEMES)
def test_barcode_text_wraps_the_number_in_start_and_stop(scheme: CheckScheme) -> None:
    assert barcode_text(_fmt(scheme), _number(scheme)) == f"A{_number(scheme)}A"


def test_barcode_text_uses_the_configured_start_and_stop() -> None:
    fmt = NumberFormat(prefix="21", length=10, scheme=S.MOD16, start="B", stop="D")
    number = compose(fmt, 345689)
    # 17 (B) + 38 + 19 (D) = 74; 74 % 16 = 10; 16 - 10 = 6.
    assert number == "2103456896"
    assert barcode_text(fmt, number) == "B2103456896D"


@pytest.mark.parametrize("number", ["21-03456782", "A2103456782A", "2103456783", ""])
def test_barcode_text_refuses_anything_but_a_canonical_number(number: str) -> None:
    with pytest.raises(ValueError, match="user number"):
        barcode_text(_fmt(S.LUHN), number)


# --- properties ------------------------------------------------------------------------


@st.composite
def formats(draw: st.DrawFn) -> NumberFormat:
    scheme = draw(st.sampled_from(ALL_SCHEMES))
    prefix = draw(st.text(alphabet="0123456789", max_size=4))
    serial_digits = draw(st.integers(1, 9))
    check = 0 if scheme == S.NONE else 1
    start, stop = draw(st.sampled_from("ABCDTN*E")), draw(st.sampled_from("ABCDTN*E"))
    return NumberFormat(prefix, len(prefix) + serial_digits + check, scheme, start, stop)


@st.composite
def formats_and_numbers(draw: st.DrawFn) -> tuple[NumberFormat, str]:
    fmt = draw(formats())
    serial = draw(st.integers(0, capacity(fmt) - 1))
    return fmt, compose(fmt, serial)


@given(case=formats_and_numbers())
def test_a_composed_number_is_already_canonical(case: tuple[NumberFormat, str]) -> None:
    fmt, number = case
    assert len(number) == fmt.length
    assert number.startswith(fmt.prefix)
    assert normalise(fmt, number) == number


@given(case=formats_and_numbers())
def test_the_codabar_text_normalises_back_to_the_number(case: tuple[NumberFormat, str]) -> None:
    fmt, number = case
    text = barcode_text(fmt, number)
    assert text == fmt.start + number + fmt.stop
    assert normalise(fmt, text) == number
    assert normalise(fmt, text.lower()) == number


@given(case=formats_and_numbers(), data=st.data())
def test_any_human_rendering_normalises_back_to_the_number(
    case: tuple[NumberFormat, str], data: st.DataObject
) -> None:
    fmt, number = case
    pieces = []
    for index, char in enumerate(number):
        pieces.append(_full_width(char) if data.draw(st.booleans()) else char)
        if index < len(number) - 1:
            pieces.append(data.draw(st.sampled_from(["", "", " ", "-", "\u3000", "\uff0d"])))
    start = data.draw(st.sampled_from(["", fmt.start, fmt.start.lower(), "a", "T"]))
    stop = data.draw(st.sampled_from(["", fmt.stop, fmt.stop.lower(), "d", "E"]))
    raw = f" {start}{''.join(pieces)}{stop}\n"
    assert normalise(fmt, raw) == number
