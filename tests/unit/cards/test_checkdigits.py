"""Check-digit schemes: published worked examples, then what each scheme can detect."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from cardservice.cards.checkdigits import CheckScheme, check_character, is_valid

S = CheckScheme
SCHEMES_WITH_CHECK: list[CheckScheme] = [scheme for scheme in CheckScheme if scheme != S.NONE]
DIGITS = "0123456789"
NW7_DATA = "0123456789-$:/.+"
# Every character a check can be under each scheme, for substituting the check itself.
CHECK_ALPHABET: dict[CheckScheme, str] = dict.fromkeys(SCHEMES_WITH_CHECK, DIGITS) | {
    S.MOD16: NW7_DATA
}

payloads = st.text(alphabet=DIGITS, min_size=1, max_size=24)
start_stop = st.sampled_from("ABCDTN*Eabcdtn*e")


def test_scheme_values_are_the_profile_spelling() -> None:
    assert [scheme.value for scheme in CheckScheme] == [
        "none",
        "luhn",
        "mod10w3",
        "mod11w27",
        "7dr",
        "7dsr",
        "mod16",
    ]


@pytest.mark.parametrize(
    ("scheme", "payload", "expected"),
    [
        (S.NONE, "12345678", ""),
        # Luhn, from the right, doubling the rightmost data digit:
        # 8*2=16->7, 7, 6*2=12->3, 5, 4*2=8, 3, 2*2=4, 1 = 38 -> (10 - 8) % 10 = 2.
        (S.LUHN, "12345678", "2"),
        # The Luhn example of ISO/IEC 7812 as quoted everywhere: 7992739871 -> 3.
        (S.LUHN, "7992739871", "3"),
        (S.LUHN, "0", "0"),
        # JAN 4901234567894, weights 3,1 from the rightmost data digit:
        # 9*3 + 8 + 7*3 + 6 + 5*3 + 4 + 3*3 + 2 + 1*3 + 0 + 9*3 + 4 = 126 -> 10 - 6 = 4.
        (S.MOD10W3, "490123456789", "4"),
        # The EAN-13 example of GS1 / Wikipedia: 4006381333931.
        (S.MOD10W3, "400638133393", "1"),
        (S.MOD10W3, "0", "0"),
        # Mod 11 weights 2-7, from the rightmost data digit, cycling after 7:
        # 7*2 + 6*3 + 5*4 + 4*5 + 3*6 + 2*7 + 1*2 = 106; 106 % 11 = 7; 11 - 7 = 4.
        (S.MOD11W27, "1234567", "4"),
        # 5*2 + 4*3 + 3*4 + 2*5 + 1*6 = 50; 50 % 11 = 6; 11 - 6 = 5.
        (S.MOD11W27, "12345", "5"),
        # 6*2 + 5*3 + 4*4 + 3*5 + 2*6 + 1*7 = 77 = 7 * 11; 11 - 0 = 11 -> 0.
        (S.MOD11W27, "123456", "0"),
        # 6*2 = 12; 12 % 11 = 1; 11 - 1 = 10 -> 0 (NW-7 has no X).
        (S.MOD11W27, "6", "0"),
        # 123456 = 7 * 17636 + 4.
        (S.SEVEN_DR, "123456", "4"),
        (S.SEVEN_DR, "7", "0"),
        (S.SEVEN_DSR, "123456", "3"),
        # Remainder 0: standard 7DSR gives 7, never 0.
        (S.SEVEN_DSR, "7", "7"),
        (S.SEVEN_DSR, "14", "7"),
        (S.SEVEN_DSR, "0", "7"),
    ],
)
def test_worked_examples(scheme: CheckScheme, payload: str, expected: str) -> None:
    assert check_character(scheme, payload) == expected
    assert is_valid(scheme, payload + expected)


@pytest.mark.parametrize(
    ("payload", "start", "stop", "expected"),
    [
        # A=16, B=17: 16 + 3 + 7 + 8 + 5 + 9 + 17 = 65; 65 % 16 = 1; 16 - 1 = 15 = '+'.
        ("37859", "A", "B", "+"),
        # The alternate start/stop set names the same bars: T=A, N=B.
        ("37859", "T", "N", "+"),
        ("37859", "a", "b", "+"),
        # 16 + 1 + 2 + 3 + 4 + 16 = 42; 42 % 16 = 10; 16 - 10 = 6.
        ("1234", "A", "A", "6"),
        # 16 + 2+1+0+3+4+5+6+8+9 + 16 = 70; 70 % 16 = 6; 16 - 6 = 10 = '-'.
        ("210345689", "A", "A", "-"),
        # 16 + 16 = 32 with payload 0; 32 % 16 = 0 -> 0.
        ("0", "A", "A", "0"),
        # 18 (C) + 19 (D) + 1 = 38; 38 % 16 = 6; 10 = '-'.
        ("1", "C", "D", "-"),
    ],
)
def test_mod16_worked_examples(payload: str, start: str, stop: str, expected: str) -> None:
    assert check_character(S.MOD16, payload, start=start, stop=stop) == expected
    assert is_valid(S.MOD16, payload + expected, start=start, stop=stop)


def test_mod16_depends_on_start_and_stop() -> None:
    # 16 + 32 + 16 = 64; 64 % 16 = 0 -> 0, where A...B gave '+'.
    assert check_character(S.MOD16, "37859", start="A", stop="A") == "0"
    assert not is_valid(S.MOD16, "37859+", start="A", stop="A")


def test_mod16_counts_nw7_symbols_in_the_payload() -> None:
    # 16 + 1 + 10 ('-') + 2 + 16 = 45; 45 % 16 = 13; 16 - 13 = 3.
    assert check_character(S.MOD16, "1-2") == "3"


def test_mod11_blind_spot_of_the_ten_becomes_zero_convention() -> None:
    # Payload 6 has remainder 1 (check 10 -> 0), payload 0 remainder 0 (check 11 -> 0):
    # both carry check 0, so substituting 6 for 0 goes unseen. The scheme as deployed.
    assert is_valid(S.MOD11W27, "60")
    assert is_valid(S.MOD11W27, "00")


@pytest.mark.parametrize("scheme", list(CheckScheme))
# Full-width, Arabic-Indic and superscript digits all pass str.isdigit; none may pass here.
@pytest.mark.parametrize(
    "payload", ["", "12a4", "\uff11\uff12\uff13", "\u0661\u0662\u0663", "12 3", "\u00b2"]
)
def test_check_character_refuses_payloads_the_scheme_cannot_carry(
    scheme: CheckScheme, payload: str
) -> None:
    with pytest.raises(ValueError, match=r"payload|NW-7"):
        check_character(scheme, payload)


@pytest.mark.parametrize("scheme", list(CheckScheme))
@pytest.mark.parametrize("number", ["", "12a45", "\uff11\uff12\uff13\uff14", "12 34", "X"])
def test_is_valid_says_no_to_malformed_numbers(scheme: CheckScheme, number: str) -> None:
    assert not is_valid(scheme, number)


@pytest.mark.parametrize("scheme", SCHEMES_WITH_CHECK)
def test_a_lone_check_character_is_not_a_number(scheme: CheckScheme) -> None:
    assert not is_valid(scheme, "0")


def test_none_accepts_any_digits_and_adds_nothing() -> None:
    assert is_valid(S.NONE, "0")
    assert is_valid(S.NONE, "1234567890")


@pytest.mark.parametrize("scheme", list(CheckScheme))
@pytest.mark.parametrize(("start", "stop"), [("X", "A"), ("A", "AB"), ("", "A"), ("A", "0")])
def test_unknown_start_or_stop_is_a_configuration_error(
    scheme: CheckScheme, start: str, stop: str
) -> None:
    with pytest.raises(ValueError, match=r"start|stop"):
        check_character(scheme, "123", start=start, stop=stop)
    with pytest.raises(ValueError, match=r"start|stop"):
        is_valid(scheme, "1234", start=start, stop=stop)


def test_unknown_scheme_is_refused() -> None:
    with pytest.raises(ValueError, match="mod97"):
        check_character("mod97", "123")  # type: ignore[arg-type]


def test_a_scheme_may_be_given_by_its_profile_spelling() -> None:
    assert check_character("luhn", "7992739871") == "3"  # type: ignore[arg-type]


# --- properties ------------------------------------------------------------------------


def _substitute(text: str, index: int, char: str) -> str:
    return text[:index] + char + text[index + 1 :]


def _swap(text: str, index: int) -> str:
    return text[:index] + text[index + 1] + text[index] + text[index + 2 :]


@given(
    scheme=st.sampled_from(list(CheckScheme)), payload=payloads, start=start_stop, stop=start_stop
)
def test_compose_then_validate_round_trips(
    scheme: CheckScheme, payload: str, start: str, stop: str
) -> None:
    check = check_character(scheme, payload, start=start, stop=stop)
    assert len(check) == (0 if scheme == S.NONE else 1)
    assert is_valid(scheme, payload + check, start=start, stop=stop)


@given(scheme=st.sampled_from(SCHEMES_WITH_CHECK), payload=payloads, data=st.data())
def test_every_scheme_detects_any_wrong_check_character(
    scheme: CheckScheme, payload: str, data: st.DataObject
) -> None:
    check = check_character(scheme, payload)
    wrong = data.draw(st.sampled_from(CHECK_ALPHABET[scheme]).filter(lambda c: c != check))
    assert not is_valid(scheme, payload + wrong)


@st.composite
def substitutions(draw: st.DrawFn, alphabet: str = DIGITS) -> tuple[str, int, str]:
    """A payload, an index into it and a different character for that index."""
    payload = draw(st.text(alphabet=alphabet, min_size=1, max_size=24))
    index = draw(st.integers(0, len(payload) - 1))
    replacement = draw(st.sampled_from(alphabet).filter(lambda c: c != payload[index]))
    return payload, index, replacement


@st.composite
def transpositions(draw: st.DrawFn) -> tuple[str, int]:
    """A payload and an index i such that characters i and i+1 differ."""
    payload = draw(st.text(alphabet=DIGITS, min_size=2, max_size=24))
    index = draw(st.integers(0, len(payload) - 2))
    if payload[index] == payload[index + 1]:
        other = DIGITS[(int(payload[index]) + draw(st.integers(1, 9))) % 10]
        payload = _substitute(payload, index + 1, other)
    return payload, index


@pytest.mark.parametrize("scheme", [S.LUHN, S.MOD10W3])
@given(case=substitutions())
def test_mod10_schemes_detect_every_single_digit_error(
    scheme: CheckScheme, case: tuple[str, int, str]
) -> None:
    # Doubling-with-digit-sum (Luhn) and tripling mod 10 are both permutations of 0-9, so
    # a single wrong data digit always shows (a wrong check digit: see above).
    payload, index, replacement = case
    number = _substitute(payload, index, replacement) + check_character(scheme, payload)
    assert not is_valid(scheme, number)


@st.composite
def numbers_with_a_swap(draw: st.DrawFn, scheme: CheckScheme) -> tuple[str, str]:
    """A valid number and the same number with two adjacent, different characters swapped.

    The swap may involve the check digit: Luhn and mod 10 weight 3 give the check weight 1
    and continue the alternation through it, so their guarantees cover it too.
    """
    payload = draw(st.text(alphabet=DIGITS, min_size=1, max_size=24))
    number = payload + check_character(scheme, payload)
    index = draw(st.integers(0, len(number) - 2))
    assume(number[index] != number[index + 1])
    return number, _swap(number, index)


def _swapped_pair(number: str, swapped: str) -> tuple[int, int]:
    index = next(i for i, (a, b) in enumerate(zip(number, swapped, strict=True)) if a != b)
    return int(number[index]), int(number[index + 1])


@given(case=numbers_with_a_swap(S.LUHN))
def test_luhn_detects_adjacent_transpositions_except_09(case: tuple[str, str]) -> None:
    # Swapping a and b changes the sum by g(a) - g(b) with g(d) = doubled(d) - d, which is
    # 0,1,2,3,4,-4,-3,-2,-1,0: equal (mod 10) only for 0 and 9.
    number, swapped = case
    blind = set(_swapped_pair(number, swapped)) == {0, 9}
    assert is_valid(S.LUHN, swapped) == blind


@given(case=numbers_with_a_swap(S.MOD10W3))
def test_mod10w3_detects_adjacent_transpositions_except_a_difference_of_5(
    case: tuple[str, str],
) -> None:
    # Swapping a and b changes the sum by 2(a - b), a multiple of 10 only when |a - b| = 5.
    number, swapped = case
    a, b = _swapped_pair(number, swapped)
    assert is_valid(S.MOD10W3, swapped) == (abs(a - b) == 5)


def _mod11_remainder(payload: str) -> int:
    """Weighted sum mod 11, written independently of the module under test."""
    weights = [2, 3, 4, 5, 6, 7]
    total = sum(int(d) * weights[i % 6] for i, d in enumerate(payload[::-1]))
    return total % 11


@given(case=substitutions())
def test_mod11_detects_single_digit_errors_except_between_remainders_0_and_1(
    case: tuple[str, int, str],
) -> None:
    # A weight (2-7) times a digit difference (1-9) is never a multiple of the prime 11,
    # so the remainder always moves. Only remainders 0 (check 11 -> 0) and 1 (check
    # 10 -> 0) share a check digit, so the error hides only when it moves between them.
    payload, index, replacement = case
    wrong = _substitute(payload, index, replacement)
    before, after = _mod11_remainder(payload), _mod11_remainder(wrong)
    assert before != after
    number = wrong + check_character(S.MOD11W27, payload)
    assert is_valid(S.MOD11W27, number) == ({before, after} == {0, 1})


@given(case=transpositions())
def test_mod11_detects_adjacent_data_transpositions_except_between_remainders_0_and_1(
    case: tuple[str, int],
) -> None:
    # Adjacent weights differ by 1 or 5 (7 then 2), neither a multiple of 11.
    payload, index = case
    swapped = _swap(payload, index)
    before, after = _mod11_remainder(payload), _mod11_remainder(swapped)
    assert before != after
    number = swapped + check_character(S.MOD11W27, payload)
    assert is_valid(S.MOD11W27, number) == ({before, after} == {0, 1})


@pytest.mark.parametrize("scheme", [S.SEVEN_DR, S.SEVEN_DSR])
@given(case=substitutions())
def test_mod7_schemes_detect_single_digit_errors_except_a_difference_of_7(
    scheme: CheckScheme, case: tuple[str, int, str]
) -> None:
    # The number changes by (a - b) * 10^k; 10^k is never a multiple of the prime 7.
    payload, index, replacement = case
    number = _substitute(payload, index, replacement) + check_character(scheme, payload)
    blind = abs(int(payload[index]) - int(replacement)) == 7
    assert is_valid(scheme, number) == blind


@pytest.mark.parametrize("scheme", [S.SEVEN_DR, S.SEVEN_DSR])
@given(case=transpositions())
def test_mod7_schemes_detect_adjacent_data_transpositions_except_a_difference_of_7(
    scheme: CheckScheme, case: tuple[str, int]
) -> None:
    # Swapping changes the number by (a - b) * 9 * 10^k, and 9 * 10^k is never a multiple of 7.
    payload, index = case
    number = _swap(payload, index) + check_character(scheme, payload)
    blind = abs(int(payload[index]) - int(payload[index + 1])) == 7
    assert is_valid(scheme, number) == blind


@given(case=substitutions(NW7_DATA), start=start_stop, stop=start_stop)
def test_mod16_detects_every_single_character_substitution(
    case: tuple[str, int, str], start: str, stop: str
) -> None:
    # Data values are 0-15, so any two differ by less than 16.
    payload, index, replacement = case
    check = check_character(S.MOD16, payload, start=start, stop=stop)
    number = _substitute(payload, index, replacement) + check
    assert not is_valid(S.MOD16, number, start=start, stop=stop)


@given(case=transpositions())
def test_mod16_cannot_see_transpositions(case: tuple[str, int]) -> None:
    # A plain sum does not depend on order: documented here so nobody relies on it.
    payload, index = case
    assert is_valid(S.MOD16, _swap(payload, index) + check_character(S.MOD16, payload))
