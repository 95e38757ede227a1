"""The SIP2 codec against the 3M SIP2 Developers Guide (version 2.00): checksums, sequence
numbers, fixed and variable fields, and what it refuses."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cardservice.sip2.codec import (
    FIXED_LENGTHS,
    BadChecksum,
    Malformed,
    Request,
    UnknownMessage,
    checksum,
    parse,
    resend,
    response,
    sip_date,
)

# The guide's own example of error detection (SC Status with AY1 and its checksum).
GUIDE_SC_STATUS = b"990 402.00AY1AZFCB4"
# The guide's login example; its printed checksum, EC78, is a misprint of the sum EC7B.
GUIDE_LOGIN = b"9300CNLoginUserID|COLoginPassword|CPLocationCode|AY5AZ"


def test_the_guides_checksum_example() -> None:
    assert checksum(b"990 402.00AY1AZ") == "FCB4"
    request = parse(GUIDE_SC_STATUS)
    assert request == Request("99", "0 402.00", {}, sequence="1", checked=True)


def test_the_guides_login_example_fields() -> None:
    request = parse(GUIDE_LOGIN + checksum(GUIDE_LOGIN).encode())
    assert checksum(GUIDE_LOGIN) == "EC7B"
    assert request.ident == "93"
    assert request.fixed == "00"
    assert request.fields == {"CN": "LoginUserID", "CO": "LoginPassword", "CP": "LocationCode"}
    assert request.sequence == "5"


def test_a_patron_status_request() -> None:
    line = b"2300120261130    101500AOminato|AA2000000014|AC|ADsecret|AY2AZ"
    request = parse(line + checksum(line).encode() + b"\r")
    assert request.fixed == "00120261130    101500"
    assert request.get("AA") == "2000000014"
    assert request.get("AC") == ""
    assert request.get("XX") == ""


def test_lower_case_checksum_and_crlf_are_read() -> None:
    line = b"990 402.00AY1AZ"
    assert parse(b"\n" + line + checksum(line).lower().encode() + b"\r\n").checked


def test_without_error_detection() -> None:
    request = parse(b"2300120261130    101500AOx|AA1|")
    assert not request.checked
    assert request.sequence is None
    answer = response("24" + " " * 14, request)
    assert answer == b"24" + b" " * 14 + b"\r"


def test_a_wrong_checksum_is_refused() -> None:
    with pytest.raises(BadChecksum):
        parse(b"990 402.00AY1AZFCB5")


@pytest.mark.parametrize(
    "line",
    [b"", b"x", b"9", b"93", b"230012026", b"63abc", b"\xff\xfe99", b"99\x00\x01\x02\x03\x04\x05"],
)
def test_unreadable_lines_are_malformed(line: bytes) -> None:
    with pytest.raises(Malformed):
        parse(line)


@pytest.mark.parametrize(
    "line",
    [
        b"6300120261130    101500AOminato|AA2000000014|",  # no summary: AO would be read as one
        b"23001AOminato|AA2000000014|",  # no transaction date
        b"2300120261130101500AOminato|AA2000000014|",  # a date without its zone (14 digits)
        b"23en 20261130    101500AOminato|AA2000000014|",  # a language that is no code
        b"35AOminato|AA2000000014|AAAAAAAAAA",  # a date that is a field
        b"93|CNkiosk|COpw|",  # a separator among the algorithms
    ],
)
def test_fixed_fields_not_in_the_guides_form_are_malformed(line: bytes) -> None:
    with pytest.raises(Malformed):
        parse(line)


def test_a_zone_in_the_transaction_date_is_read() -> None:
    for zone in (b"    ", b"   Z", b" JST"):
        request = parse(b"6300120261130" + zone + b"101500Y         AOminato|AA2000000014|")
        assert request.get("AA") == "2000000014"


def test_an_unknown_identifier_is_named() -> None:
    with pytest.raises(UnknownMessage) as caught:
        parse(b"11YN20261130    101500")
    assert caught.value.ident == "11"


def test_answers_echo_the_sequence_number_with_a_checksum() -> None:
    request = parse(GUIDE_SC_STATUS)
    answer = response("941", request)
    assert answer.endswith(b"\r")
    body = answer[:-1]
    assert body.startswith(b"941AY1AZ")
    assert checksum(body[:-4]) == body[-4:].decode()


def test_resend_is_96_with_its_checksum() -> None:
    assert resend() == b"96AZ" + checksum(b"96AZ").encode() + b"\r"


def test_transaction_date_is_18_characters() -> None:
    assert sip_date(datetime(2026, 11, 30, 9, 5, 7)) == "20261130    090507"


@given(st.binary(max_size=200))
def test_any_bytes_parse_or_raise_one_of_the_codecs_errors(data: bytes) -> None:
    try:
        request = parse(data)
    except (BadChecksum, Malformed, UnknownMessage):
        return
    assert request.ident in FIXED_LENGTHS
    assert len(request.fixed) == FIXED_LENGTHS[request.ident]


@given(
    st.text(
        alphabet=st.characters(blacklist_characters="|", blacklist_categories=("Cs", "Cc")),
        max_size=40,
    ),
    st.integers(0, 9),
)
def test_round_trip_of_a_field_value(value: str, sequence: int) -> None:
    line = f"9300CN{value}|COpw|AY{sequence}AZ".encode()
    request = parse(line + checksum(line).encode())
    assert request.get("CN") == value
    assert request.sequence == str(sequence)
