"""What the review pages say after a decision and when one cannot be made, each marked for
the page catalog."""

from __future__ import annotations

from typing import Final

from cardservice.web.i18n import N_

DONE_NOTICES: Final = {
    "approved": N_("Approved. The card is issued and the applicant has been emailed."),
    "rejected": N_("Rejected. The applicant has been emailed the reason."),
    "inquiry": N_("Your question has been emailed to the applicant."),
    "linked": N_("The application is now linked to the patron you chose."),
}
# What approving a procedure on an existing card did (a new registration: "approved").
APPROVED_NOTICES: Final = {
    "reissue": N_(
        "Approved. A new user number is issued, the old number is revoked, and the "
        "applicant has been emailed."
    ),
    "renewal": N_("Approved. The card is renewed and the applicant has been emailed."),
    "change": N_("Approved. The patron's details are updated and the applicant has been emailed."),
}
NOT_CONFIRMED: Final = N_("Tick the box to confirm the approval. Nothing has been approved.")
CARD_CHANGED: Final = N_(
    "The patron's card no longer allows this procedure (it was revoked, suspended or "
    "reissued meanwhile). Nothing has been approved; reject the application or ask the "
    "applicant."
)
# The domain's own messages (their docstrings), marked here for the page catalog.
ERROR_MESSAGES: Final = (
    N_("Choose the patron this application is for before approving it."),
    N_("Choose one of the patrons listed."),
    N_("No card has this user number; check it and try again."),
    N_("The patron was logged in when the application was made; it cannot be changed."),
    N_("Another reviewer chose the patron meanwhile; reload the page to see the choice."),
    N_("A new registration creates its patron when it is approved."),
    N_("The patron has no card that this procedure can act on."),
)
