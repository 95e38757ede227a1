"""The Individual Number's check digit (総務省令第八十五号 第5条) and finding one in a code."""

from __future__ import annotations

import pytest

from cardservice.registration.mynumber import (
    carries_individual_number,
    check_digit,
    is_individual_number,
)


def test_the_weights_of_the_ordinance() -> None:
    # P_n counts from the rightmost of the 11 digits; Q_n = n + 1 (n <= 6), n - 5 (n >= 7).
    # One digit 1 at each place shows its weight: remainder = weight, check = 11 - weight.
    for n in range(1, 12):
        digits = ["0"] * 11
        digits[11 - n] = "1"
        weight = n + 1 if n <= 6 else n - 5
        expected = 0 if weight <= 1 else 11 - weight
        assert check_digit("".join(digits)) == expected, n


def test_remainders_zero_and_one_give_zero() -> None:
    assert check_digit("00000000000") == 0  # remainder 0
    # 6 (weight of the leftmost digit) x 2 = 12, remainder 1
    assert check_digit("20000000000") == 0
    # 6 x 1 = 6: remainder 6, check 5
    assert check_digit("10000000000") == 5


def test_a_worked_example() -> None:
    # 1 2 3 4 5 6 7 8 9 0 1 weigh 6 5 4 3 2 7 6 5 4 3 2:
    # 6 + 10 + 12 + 12 + 10 + 42 + 42 + 40 + 36 + 0 + 2 = 212; 212 mod 11 = 3; 11 - 3 = 8.
    assert check_digit("12345678901") == 8
    assert is_individual_number("123456789018")
    assert not is_individual_number("123456789010")


@pytest.mark.parametrize("text", ["1234567890", "123456789012a", "１２３４５６７８９０１", ""])
def test_check_digit_needs_eleven_ascii_digits(text: str) -> None:
    with pytest.raises(ValueError, match="11 digits"):
        check_digit(text)


def test_every_wrong_check_digit_is_refused() -> None:
    first = "98765432109"
    right = check_digit(first)
    for digit in range(10):
        assert is_individual_number(f"{first}{digit}") == (digit == right)


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        (["123456789018"], True),
        (["NO:123456789018/"], True),
        (["１２３４５６７８９０１８"], True),
        (["hello", "x 123456789018 y"], True),
        (["123456789010"], False),  # wrong check digit
        (["1123456789018"], False),  # 13 digits in a row: not a 12-digit number
        (["12345678901"], False),
        ([], False),
    ],
)
def test_carries_individual_number(texts: list[str], expected: bool) -> None:
    assert carries_individual_number(texts) is expected
