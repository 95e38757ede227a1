"""A scan at the counter or a self-check kiosk: the verify verdict plus the holder's name.

The counter station (``cards/counter_routes.py``) and the SIP2 server (``sip2/``) answer with
the same verdicts as ``POST /api/v1/verify`` (``cards/verification.py``): this module only
decides whether the scanned text is a card token from the QR code or a typed or scanned
barcode, and adds the name that staff compare with the person in front of them. A valid
scan records the card's last use through the verifier, as the API does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from cardservice.cards.verification import Status, Verdict, Verifier
from cardservice.db.fastread import FastReader

# The longest scan looked at: a card token is a few hundred characters, well under the
# verify API's limit for tokens (``cards/routes.py`` TOKEN_MAX_LENGTH).
SCAN_MAX_LENGTH: Final = 4096
# A compact JWS: three base64url parts, the header starting with ``{"`` (eyJ); then, for the
# card page's changing code (``cards.device_proof``), ``~step~signature`` (judged there, so a
# code cut short gets the device proof's reason, not "not a card number").
_TOKEN_SHAPE: Final = re.compile(
    r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*(?:~[0-9]*(?:~[A-Za-z0-9_-]*)?)?"
)
SCAN_TOO_LONG: Final = "scan_too_long"
# One indexed point read through the fast reader, as the verdict's own (both engines).
_HOLDER = (
    "SELECT p.family_name, p.given_name FROM cards c JOIN patrons p ON p.id = c.patron_id "
    "WHERE c.user_number = $1"
)


@dataclass(frozen=True, slots=True)
class CounterScan:
    """A verdict and, when the number is one of ours (revoked ones included: staff see whose
    old card it is), the holder's name (family name, a space, given name) for the visual
    check; else ``holder`` is None."""

    verdict: Verdict
    holder: str | None = None


def is_card_token(scanned: str) -> bool:
    """Whether ``scanned`` has the shape of a card token (a compact JWS) or of the changing
    code made from one (``token~step~signature``), not a number."""
    return _TOKEN_SHAPE.fullmatch(scanned) is not None


async def scan(verifier: Verifier, reader: FastReader, scanned: str) -> CounterScan:
    """The verdict on ``scanned`` (any text a scanner or a person typed) and the holder.

    Never raises for bad input: text longer than :data:`SCAN_MAX_LENGTH` is ``invalid``
    with reason ``scan_too_long``; anything else is judged by the verifier (``invalid``
    with the number's or the token's reason code when malformed)."""
    text = scanned.strip()
    if len(text) > SCAN_MAX_LENGTH:
        return CounterScan(Verdict(Status.INVALID, SCAN_TOO_LONG))
    if is_card_token(text):
        verdict = await verifier.by_token(text)
    else:
        verdict = await verifier.by_barcode(text)
    if verdict.user_number is None or verdict.status in {Status.UNKNOWN, Status.INVALID}:
        return CounterScan(verdict)
    return CounterScan(verdict, await holder_name(reader, verdict.user_number))


async def holder_name(reader: FastReader, user_number: str) -> str | None:
    """The name of the patron holding card ``user_number`` (``家族名 名``), or None."""
    row = await reader.fetchrow(_HOLDER, user_number)
    return None if row is None else f"{row[0]} {row[1]}"
