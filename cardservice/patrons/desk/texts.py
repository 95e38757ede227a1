"""The words of the staff card desk: labels for the stored codes (card states and reasons,
card events, where a patron came from), the actions, their notices and refusals, and form
errors, each marked for the page catalogs (``desk.po``)."""

from __future__ import annotations

from typing import Final

from cardservice.cards.lifecycle import REPORTED_LOST, CardNotSuspended, ReissueReason
from cardservice.cards.models import CardEventKind, RevocationReason
from cardservice.cards.service import CardAlreadyRevoked, CardNotFound
from cardservice.i18n import N_
from cardservice.patrons.desk.actions import (
    REVOKE_REASONS,
    STAFF_SUSPENSION,
    CardAlreadySuspended,
    DeskAction,
)
from cardservice.patrons.desk.record import PatronNotFound
from cardservice.patrons.desk.search import SearchEmpty, SearchTooLong
from cardservice.patrons.importer import ILS_SUSPENSION
from cardservice.patrons.models import PatronSource

# Why a card is suspended or revoked, in words (the stored codes are the verify API's).
REASON_LABELS: Final = {
    RevocationReason.REISSUED: N_("Reissued with a new number"),
    RevocationReason.LOST: N_("Lost"),
    RevocationReason.NAME_CHANGED: N_("Name changed"),
    RevocationReason.WITHDRAWN: N_("Withdrawn from the library"),
    RevocationReason.STAFF: N_("Staff decision"),
    REPORTED_LOST: N_("Reported lost"),
    ILS_SUSPENSION: N_("Suspended in the library system"),
}
STATE_LABELS: Final = {
    "active": N_("Valid"),
    "expired": N_("Expired"),
    "suspended": N_("Suspended"),
    "revoked": N_("Revoked"),
}
EVENT_LABELS: Final = {
    CardEventKind.ISSUED: N_("Card issued"),
    CardEventKind.REISSUED: N_("Reissued with a new number"),
    CardEventKind.RENEWED: N_("Renewed"),
    CardEventKind.DETAILS_CHANGED: N_("Details changed"),
    CardEventKind.SUSPENDED: N_("Card suspended"),
    CardEventKind.REINSTATED: N_("Card reinstated"),
    CardEventKind.REVOKED: N_("Card revoked"),
    CardEventKind.IMPORTED: N_("Loaded from the library system"),
}
SOURCE_LABELS: Final[dict[str, str]] = {
    PatronSource.ONLINE: N_("Online registration"),
    PatronSource.ILS: N_("Library system (plastic card)"),
    PatronSource.COUNTER: N_("Registered by staff"),
}
ACTION_LABELS: Final = {
    DeskAction.SUSPEND: N_("Suspend"),
    DeskAction.REINSTATE: N_("Reinstate"),
    DeskAction.REVOKE: N_("Revoke"),
    DeskAction.REISSUE: N_("Reissue with a new number"),
}
DONE_NOTICES: Final = {
    DeskAction.SUSPEND: N_("The card has been suspended."),
    DeskAction.REINSTATE: N_("The card is valid again."),
    DeskAction.REVOKE: N_("The card has been revoked. Its number will never be used again."),
    DeskAction.REISSUE: N_("A new card has been issued and the old number is revoked."),
}
REISSUE_REASONS: Final = {
    ReissueReason.LOST: N_("Lost card"),
    ReissueReason.NAME_CHANGED: N_("Name changed (check a document showing the new name)"),
}
SUSPEND_REASON_LABELS: Final = {
    REPORTED_LOST: N_("Reported lost (reinstate it if the card is found)"),
    STAFF_SUSPENSION: N_("Staff decision"),
}
REVOKE_REASON_LABELS: Final = {reason: REASON_LABELS[reason] for reason in REVOKE_REASONS}

# Why an action was refused, or a search could not run; each keyed by its error code.
REFUSALS: Final = {
    CardAlreadyRevoked.code: N_("This card is already revoked. Nothing was changed."),
    CardAlreadySuspended.code: N_("This card is already suspended. Nothing was changed."),
    CardNotSuspended.code: N_("This card is not suspended, so there is nothing to reinstate."),
    CardNotFound.code: N_("This patron has no such card."),
    PatronNotFound.code: N_("No patron has this record number."),
}
FIELD_ERRORS: Final = {
    "required": N_("Fill in this field."),
    "too_long": N_("This is too long (at most 64 characters)."),
    "control_characters": N_("This contains characters that cannot be stored."),
    "kana_invalid": N_("Write the reading in katakana or hiragana."),
    "desk_reason_invalid": N_("Choose a reason from the list."),
    "confirm": N_("Tick the box to confirm."),
    SearchEmpty.code: N_("Type a user number, a name or an email address."),
    SearchTooLong.code: N_("The search text is too long."),
    "number_bad_check_digit": N_(
        "The check digit of this number does not match: it was mistyped or misread."
    ),
    "number_bad_format": N_("This is not a user number of this library (length or first digits)."),
    "number_empty": N_("Type a user number, a name or an email address."),
}
BACK_TO_DESK: Final = N_("Back to the card desk")
BACK_TO_PATRON: Final = N_("Back to the patron")
