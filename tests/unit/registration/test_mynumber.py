"""The Individual Number's check digit (総務省令第八十五号 第5条) and finding one in a code:
in a text, and in the codes of a generated phone photo (QR and Data Matrix, turned in a
corner of a 4032 x 3024 image), whichever way the number is written."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from cardservice.profiles import Profile
from cardservice.registration.documents import DocumentRejected, check_and_reencode
from cardservice.registration.mynumber import (
    carries_individual_number,
    check_digit,
    is_individual_number,
)
from tests.id_images import datamatrix_photo, phone_photo


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


@pytest.mark.parametrize(
    "text",
    [
        "1234 5678 9018",  # spaces, as the number is printed
        "1234-5678-9018",  # hyphens, as it is often typed
        "1234\u30005678\u30009018",  # full-width spaces (an IME)
        "1234\uff0d5678\uff0d9018",  # full-width hyphens
        "１２３４　５６７８　９０１８",  # full-width digits and spaces
        "1234\u22125678\u22129018",  # minus signs
        "1234ー5678ー9018",  # the long vowel mark a Japanese IME gives for a hyphen
        "1234-5678 9018",  # mixed gaps
        "MN:1234 5678 9018;DOB:19900401",
        "番号 1234-5678-9018 氏名",
    ],
)
def test_grouped_numbers_are_found(text: str) -> None:
    assert carries_individual_number([text])


@pytest.mark.parametrize(
    "text",
    [
        "1234 5678 9010",  # wrong check digit, grouped
        "1234-5678-9017",
        "1234 5678 9018 7777",  # four groups: a card or account number
        "7777 1234 5678 9018",
        "7777-1234-5678-9018",
        "1234 5678 90181",  # the last group longer
        "11234 5678 9018",  # the first group longer
        "1234  5678  9018",  # two spaces: not how the number is written
        "1234 5678",
        "Tel 045-123-4567, order 1234-5678",
        "ISBN 978-4-10-109205-8 1234567890123",
    ],
)
def test_ordinary_text_with_numbers_is_not_refused(text: str) -> None:
    assert not carries_individual_number([text])


def test_a_grouped_number_is_checked_by_its_check_digit() -> None:
    # Every check digit but the right one, in each way of writing the groups.
    first = "98765432109"
    right = check_digit(first)
    for gap in (" ", "-", "\u3000", "\uff0d"):
        for digit in range(10):
            text = f"{first[:4]}{gap}{first[4:8]}{gap}{first[8:]}{digit}"
            assert carries_individual_number([text]) == (digit == right), text


@pytest.mark.parametrize(
    ("photo", "refused"),
    [
        pytest.param(lambda: datamatrix_photo("123456789018", angle=20), True, id="datamatrix"),
        pytest.param(lambda: datamatrix_photo("123456789010", angle=20), False, id="dm-wrong"),
        pytest.param(lambda: phone_photo("1234 5678 9018", angle=30), True, id="qr-spaces"),
        pytest.param(lambda: phone_photo("1234-5678-9018", angle=30), True, id="qr-hyphens"),
        pytest.param(
            lambda: phone_photo("1234\u30005678\u30009018", angle=30), True, id="qr-wide-spaces"
        ),
        pytest.param(
            lambda: phone_photo("１２３４－５６７８－９０１８", angle=30),
            True,
            id="qr-wide-hyphens",
        ),
        pytest.param(lambda: phone_photo("1234 5678 9010", angle=30), False, id="qr-wrong"),
        pytest.param(
            lambda: phone_photo("1234 5678 9018 7777", angle=30), False, id="qr-longer-number"
        ),
    ],
)
def test_a_photo_with_the_number_in_a_code_is_refused(
    yokohama: Profile, photo: Callable[[], bytes], refused: bool
) -> None:
    def check() -> None:
        check_and_reencode(photo(), profile_documents=yokohama.documents, filename="card.jpg")

    if not refused:
        check()  # stored: no code holds a valid Individual Number
        return
    with pytest.raises(DocumentRejected) as caught:
        check()
    assert caught.value.code == "document_my_number"
