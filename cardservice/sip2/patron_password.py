"""The patron's password a kiosk sends (AD) checked for the answer's CQ (valid patron password).

A self-check machine that asks patrons for their password sends it in AD of Patron Status
(23) or Patron Information (63); the answer then carries CQ, Y or N. The password is the one
the patron set for My Library, checked by the patron login's own function
(``patrons.login.verify_current_password``): the same Argon2id verification, run on the
hashing threads off the event loop, a stronger hash stored when today's parameters are
stronger, and the same rate limits. A wrong password from a kiosk is a failed login of that
patron's account, so guesses at a kiosk and on the web share the per-account limit; the
kiosk (its SIP2 login name) is the client of the per-client limit, as an IP address is on
the web: patrons at one kiosk do not share a count with the library's public Wi-Fi.

What is answered (the SIP2 2.00 guide makes CQ optional; it claims validity only when a
password was checked):

- no AD field at all: no CQ; nothing is checked;
- AD present and empty (a kiosk that asks no password sends ``AD|`` in a 23, where the guide
  requires the field): CQ N, as no patron's password is empty; nothing is hashed or counted;
- a card that is not one of ours, or revoked, or not a card number: CQ N; nothing is hashed
  (BL N already says the patron is not valid, so the answer's timing tells nothing more);
- a card in use (valid, expired or suspended, as for BL Y): its holder's password checked:
  CQ Y when it matches, CQ N when it does not or the patron never set one (the same Argon2
  work against a dummy hash, as patron login does);
- over the login limits: CQ N without hashing, and the screen message says to wait.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from sqlalchemy import select

from cardservice.cards.models import Card, CardStatus
from cardservice.cards.verification import Status, Verdict
from cardservice.db.engine import Database
from cardservice.patrons.login import (
    LoginLimits,
    PatronBadCredentials,
    PatronLoginLimited,
    verify_current_password,
)
from cardservice.patrons.models import Patron

# The verdicts whose card is in use (BL Y): only their holder's password is checked.
_IN_USE: Final = frozenset({Status.VALID, Status.EXPIRED, Status.SUSPENDED})


class PatronPassword(StrEnum):
    VALID = "valid"  # CQ Y
    WRONG = "wrong"  # CQ N: wrong, none set, empty, or no card in use
    LIMITED = "limited"  # CQ N: too many wrong passwords; the screen says to wait


def kiosk_client(kiosk: str) -> str:
    """The per-client rate-limit key of a kiosk (its SIP2 login name)."""
    return f"sip2 kiosk {kiosk}"


async def check_patron_password(
    db: Database,
    verdict: Verdict,
    password: str,
    *,
    kiosk: str,
    secret: bytes = b"",
    limits: LoginLimits | None = None,
) -> PatronPassword:
    """Whether ``password`` (AD, present) is the password of the holder of the card the
    verdict is about (module docstring). ``secret`` keys the rate-limit counters' HMACs."""
    if not password or verdict.user_number is None or verdict.status not in _IN_USE:
        return PatronPassword.WRONG
    async with db.read() as session:
        patron = await session.scalar(
            select(Patron)
            .join(Card, Card.patron_id == Patron.id)
            .where(Card.user_number == verdict.user_number, Card.status != CardStatus.REVOKED)
        )
    if patron is None:
        return PatronPassword.WRONG
    try:
        await verify_current_password(
            db, patron, password, client=kiosk_client(kiosk), limits=limits, secret=secret
        )
    except PatronLoginLimited:
        return PatronPassword.LIMITED
    except PatronBadCredentials:
        return PatronPassword.WRONG
    return PatronPassword.VALID
