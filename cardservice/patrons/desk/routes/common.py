"""What the desk pages share: their addresses, labels and form errors in the page's
language, and the page that refuses an action."""

from __future__ import annotations

from typing import Any, Final

from litestar import Request
from litestar.response import Template
from litestar.status_codes import HTTP_404_NOT_FOUND, HTTP_409_CONFLICT

from cardservice.cards.models import Card
from cardservice.cards.service import CardNotFound
from cardservice.errors import DomainError
from cardservice.patrons.desk.actions import DeskAction
from cardservice.patrons.desk.record import PatronNotFound
from cardservice.patrons.desk.texts import BACK_TO_DESK, BACK_TO_PATRON, FIELD_ERRORS, REFUSALS
from cardservice.staff.models import StaffUser
from cardservice.web.pages import render, translate

DESK: Final = "/staff/patrons"

AnyRequest = Request[Any, Any, Any]


def patron_url(patron_id: int) -> str:
    return f"{DESK}/{patron_id}"


def action_url(card: Card, action: DeskAction) -> str:
    return f"{DESK}/{card.patron_id}/cards/{card.id}/{action}"


def page_labels(request: AnyRequest, texts: dict[Any, str]) -> dict[str, str]:
    """Each label in the page's language, by its stored code as a string."""
    return {str(key): translate(request, text) for key, text in texts.items()}


def field_error(request: AnyRequest, code: str) -> str:
    return translate(request, FIELD_ERRORS.get(code, FIELD_ERRORS["required"]))


def refused(
    request: AnyRequest, staff: StaffUser, exc: DomainError, patron_id: int | None
) -> Template:
    """A 409 (404 for a card or patron that is not there) page that says why, with the way
    back to the patron, or to the desk when there is no patron to go back to."""
    missing = exc.code in {CardNotFound.code, PatronNotFound.code}
    back = DESK if patron_id is None or exc.code == PatronNotFound.code else patron_url(patron_id)
    return render(
        request,
        "pages/staff/patrons_refused.html",
        status_code=HTTP_404_NOT_FOUND if missing else HTTP_409_CONFLICT,
        staff=staff,
        message=translate(request, REFUSALS[exc.code]),
        code=exc.code,
        back=back,
        back_label=translate(request, BACK_TO_DESK if back == DESK else BACK_TO_PATRON),
    )
