"""SIP2 messages as text: parsing requests, writing responses, checksums and sequence numbers.

The 3M Standard Interchange Protocol 2.00 (the "SIP2 Developers Guide"): a message is a
two-digit identifier, fixed-length fields, then variable fields each a two-letter code, the
value and ``|``; with error detection on, ``AY`` (a sequence number, one digit) and ``AZ``
(the checksum, four hex digits) end it, and a carriage return ends the line.

The checksum is the binary sum of the message's bytes up to and including ``AZ``, negated
and kept to 16 bits, as four upper-case hex digits (the guide's example ``990 402.00AY1AZFCB4``
is in the tests). A kiosk that sends no checksum gets answers without one.

No well-kept SIP2 library fits: the PyPI ``sip2`` package is a client, unmaintained since
2021, and ``pysip2`` has one 0.1 release and brings its own AnyIO server; the protocol is
small enough to write here, tested against the guide's examples.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

# Fixed-field lengths of the requests answered (after the two-digit identifier).
FIXED_LENGTHS: Final = {
    "93": 2,  # Login: UID algorithm, PWD algorithm
    "99": 8,  # SC Status: status code, max print width (3), protocol version (4)
    "23": 21,  # Patron Status: language (3), transaction date (18)
    "63": 31,  # Patron Information: language, transaction date, summary (10)
    "35": 18,  # End Patron Session: transaction date
    "97": 0,  # Request ACS Resend
}
# What the fixed fields must look like where a misread would shift the variable fields: a
# transaction date is YYYYMMDDZZZZHHMMSS (the zone four characters, often blank), the
# language three digits, Patron Information's summary ten blanks or Y. A 63 without its
# summary would otherwise read its AO and AA as the summary and answer for nobody.
_DATE: Final = r"[0-9]{8}[^|]{4}[0-9]{6}"
_FIXED_FORMS: Final = {
    "23": re.compile(rf"[0-9]{{3}}{_DATE}"),
    "63": re.compile(rf"[0-9]{{3}}{_DATE}[ Y]{{10}}"),
    "35": re.compile(_DATE),
}
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # C0 and C1 (CR and LF already cut)
MAX_LINE: Final = 4096  # bytes; far above any request here
_TRAILER: Final = re.compile(rb"(?:AY(?P<seq>[0-9]))?AZ(?P<sum>[0-9A-Fa-f]{4})$")


class Malformed(ValueError):
    """The line is not a SIP2 message that can be read (too short fixed fields, bad bytes)."""


class BadChecksum(ValueError):
    """The line ends with ``AZ`` and a checksum that does not match its bytes."""


class UnknownMessage(ValueError):
    """The identifier is not one this server answers."""

    def __init__(self, ident: str) -> None:
        super().__init__(ident)
        self.ident = ident


@dataclass(frozen=True, slots=True)
class Request:
    """A parsed request: ``ident`` (e.g. "23"), its fixed-field text, the variable fields
    by code (the first of a repeated code wins), and the error-detection state: ``sequence``
    is the AY digit, ``checked`` whether it carried a checksum (then answers carry one)."""

    ident: str
    fixed: str
    fields: dict[str, str] = field(default_factory=dict)
    sequence: str | None = None
    checked: bool = False

    def get(self, code: str) -> str:
        return self.fields.get(code, "")


def checksum(data: bytes) -> str:
    """The SIP2 checksum of ``data`` (everything up to and including ``AZ``): four hex digits."""
    return f"{-sum(data) & 0xFFFF:04X}"


def parse(line: bytes) -> Request:
    """Read one request line (without its carriage return; a leading line feed from a
    CR LF client is dropped). Raises :class:`BadChecksum`, :class:`UnknownMessage` (a
    well-formed line with another identifier) or :class:`Malformed` (also for a control
    character anywhere, and fixed fields cut short, holding a ``|``, or not in the guide's
    form: ``_FIXED_FORMS``)."""
    line = line.lstrip(b"\n").rstrip(b"\r\n")
    sequence: str | None = None
    checked = False
    trailer = _TRAILER.search(line)
    if trailer is not None:
        upto_az = line[: trailer.end() - 4]
        if checksum(upto_az) != trailer.group("sum").decode().upper():
            raise BadChecksum
        seq = trailer.group("seq")
        sequence = seq.decode() if seq is not None else None
        checked = True
        line = line[: trailer.start()]
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as error:
        raise Malformed("not UTF-8") from error
    if _CONTROL.search(text):  # no field holds one; PostgreSQL refuses NUL in text
        raise Malformed("a control character")
    if len(text) < 2 or not text[:2].isdigit():
        raise Malformed("no message identifier")
    ident = text[:2]
    if ident not in FIXED_LENGTHS:
        raise UnknownMessage(ident)
    size = FIXED_LENGTHS[ident]
    fixed, rest = text[2 : 2 + size], text[2 + size :]
    if len(fixed) < size or not fixed.isprintable() or "|" in fixed:
        raise Malformed(f"fixed fields of {ident} too short")
    form = _FIXED_FORMS.get(ident)
    if form is not None and not form.fullmatch(fixed):
        raise Malformed(f"fixed fields of {ident} not as the guide sets them")
    return Request(ident, fixed, _fields(rest), sequence, checked)


def _fields(text: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for part in text.split("|"):
        if len(part) >= 2:
            found.setdefault(part[:2], part[2:])
    return found


def clean(value: str) -> str:
    """A value fit for a variable field: no ``|``, carriage return or other control."""
    return "".join(ch for ch in value if ch != "|" and ch.isprintable())


def response(text: str, request: Request | None = None) -> bytes:
    """``text`` (identifier, fixed and variable fields) as a line to send: with the
    request's AY and a checksum when the request had error detection, and the CR."""
    body = text.encode("utf-8")
    if request is not None and request.checked:
        if request.sequence is not None:
            body += b"AY" + request.sequence.encode()
        body += b"AZ"
        body += checksum(body).encode()
    return body + b"\r"


def resend() -> bytes:
    """96, Request SC Resend: the answer to a request whose checksum is wrong."""
    body = b"96AZ"
    return body + checksum(body).encode() + b"\r"


def sip_date(moment: datetime) -> str:
    """A transaction date (18 characters, YYYYMMDDZZZZHHMMSS): local time, the zone
    field blank as the guide allows for the library's local time."""
    return moment.strftime("%Y%m%d    %H%M%S")


def yes_no(flag: bool) -> str:  # a SIP2 Y/N field
    return "Y" if flag else "N"
