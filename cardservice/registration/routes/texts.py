"""What the applicant's pages say about a procedure: the domain raises codes, this picks the
words from the page catalog (``apply_procedures.po``). The older registration codes still
carry their own Japanese and English texts (``registration.steps.PAGE_MESSAGES``).
"""

from __future__ import annotations

from typing import Final

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


def field_words(lang: Lang) -> dict[str, str]:
    """The form errors' texts in ``lang``, for ``steps.field_errors``."""
    return {code: gettext(lang, text) for code, text in FIELD_TEXTS.items()}
