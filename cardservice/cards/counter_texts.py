"""The words of a verdict, for the counter station and the SIP2 kiosks' screen messages.

The verdicts' status and reason codes are the verify API's (``cards/verification.py``); here
each gets the words a person reads, marked for the page catalogs. A code not listed falls
back to its status's general words, so a new reason never shows a bare code.
"""

from __future__ import annotations

from typing import Final

from cardservice.cards.counter import SCAN_TOO_LONG
from cardservice.cards.verification import Status, Verdict
from cardservice.i18n import N_

STATUS_TITLES: Final = {
    Status.VALID: N_("Valid"),
    Status.EXPIRED: N_("Expired"),
    Status.REVOKED: N_("Revoked"),
    Status.SUSPENDED: N_("Suspended"),
    Status.UNKNOWN: N_("Unknown card"),
    Status.INVALID: N_("Not a card number"),
}

# What the holder or staff should do, or why the card does not work.
STATUS_WORDS: Final = {
    Status.VALID: N_("The card may be used."),
    Status.EXPIRED: N_("The card has expired. It can be renewed at the counter."),
    Status.REVOKED: N_("This card number is no longer valid."),
    Status.SUSPENDED: N_("The card is suspended. Please ask at the counter."),
    Status.UNKNOWN: N_("No card has this number."),
    Status.INVALID: N_("This is not a valid card number or card QR code. Please scan again."),
}

REASON_WORDS: Final = {
    "reissued": N_("A new card with a new number was issued; this number is revoked."),
    "lost": N_("The card was reported lost and has been revoked."),
    "name_changed": N_("Reissued after a change of name; this number is revoked."),
    "withdrawn": N_("The holder has withdrawn from the library."),
    "staff": N_("By decision of the library staff."),
    "reported_lost": N_("The card has been reported lost."),
    "ils": N_("Suspended in the library system."),
    "token_revoked": N_("This QR code has been replaced by a newer one."),
    "token_expired": N_("The QR code has expired."),
    "number_bad_check_digit": N_("The check digit is wrong: the number was misread or mistyped."),
    "number_empty": N_("Nothing was scanned."),
    SCAN_TOO_LONG: N_("The scan is far too long to be a card."),
    # The changing code of the card page (cards.device_proof).
    "device_proof_stale": N_(
        "This changing code is too old. Please ask to see the card page again."
    ),
    "device_proof_replayed": N_("This changing code was already shown once: it may be a copy."),
    "device_proof_bad_signature": N_("This code was not made on the holder's own phone."),
    "device_proof_required": N_("Please ask for the changing code on the card page."),
}


def title_of(verdict: Verdict) -> str:
    """The headline of ``verdict`` (a catalog msgid)."""
    return STATUS_TITLES[verdict.status]


def words_of(verdict: Verdict) -> str:
    """Why, in words (a catalog msgid): the reason's own words, else the status's."""
    if verdict.reason is not None and verdict.reason in REASON_WORDS:
        return REASON_WORDS[verdict.reason]
    return STATUS_WORDS[verdict.status]
