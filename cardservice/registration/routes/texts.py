"""What the applicant's pages say about a procedure: the domain raises codes, this picks the
words from the page catalog (``apply_procedures.po``). The older registration codes still
carry their own Japanese and English texts (``registration.steps.PAGE_MESSAGES``).
"""

from __future__ import annotations

from typing import Final

from cardservice.registration.procedures import Closed
from cardservice.web.i18n import N_, Lang, gettext

# Form errors of the procedures (procedure_details, applicant.save_form); %(name)s
# placeholders come from the error's params.
FIELD_TEXTS: Final[dict[str, str]] = {
    "reissue_reason_invalid": N_("Choose why the card is to be reissued."),
    "eloan_notice_required": N_("Please read this notice and tick the box to confirm it."),
    "name_unchanged": N_(
        "The new name is the same as the registered one. If your name has not changed, "
        "choose \u201cI lost my card\u201d as the reason."
    ),
    "new_name_without_name_change": N_(
        "You entered a new name, but the reason is a lost card. Choose \u201cMy name has "
        "changed\u201d, or leave the new name empty."
    ),
    "change_nothing": N_(
        "Nothing would change: the address, phone number and reason for registering are the "
        "same as registered. Enter what has changed."
    ),
    "already_registered": N_(
        "You are already registered with the library, so you cannot register again online. "
        "Please ask at a library counter, or have your user number sent to your registered "
        "email address with \u201cForgotten user number\u201d."
    ),
}

# Why a procedure cannot be started (registration.procedures.Closed).
CLOSED_TEXTS: Final[dict[str, str]] = {
    Closed.NOT_ONLINE: N_(
        "The library does not take this procedure online. Please apply at a library counter."
    ),
    Closed.ALREADY_REGISTERED: N_(
        "You are already registered with the library, so you cannot register again online. "
        "Please ask at a library counter, or have your user number sent to your registered "
        "email address with \u201cForgotten user number\u201d."
    ),
    Closed.NO_CARD: N_(
        "You have no card that this procedure could apply to. Please ask at a library counter."
    ),
    Closed.CARD_SUSPENDED: N_(
        "Your card is suspended, so this procedure cannot be done online. Please ask at a "
        "library counter."
    ),
    Closed.APPLICATION_OPEN: N_(
        "You have already applied for this procedure, and the application is waiting for the "
        "library's review. You can apply again once it has been decided."
    ),
    Closed.RENEWAL_NOT_YET: N_("Renewal can be applied for from %(date)s."),
}


def field_words(lang: Lang) -> dict[str, str]:
    """The form errors' texts in ``lang``, for ``steps.field_errors``."""
    return {code: gettext(lang, text) for code, text in FIELD_TEXTS.items()}


def closed_text(lang: Lang, closed: str, opens_on: str = "") -> str:
    """Why the procedure is closed, with the day renewal opens (already written for
    ``lang``) where that is the reason."""
    text = CLOSED_TEXTS.get(closed, CLOSED_TEXTS[Closed.NOT_ONLINE])
    return gettext(lang, text) % {"date": opens_on}
