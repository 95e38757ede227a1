"""The desk's search page: the search box (a scanner may type into it) and the patrons
found; a number found leads straight to its patron."""

from __future__ import annotations

from datetime import date

from litestar import get
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER, HTTP_400_BAD_REQUEST

from cardservice.calendar import local_today
from cardservice.cards.numbers import InvalidNumber
from cardservice.patrons.card_view import card_state
from cardservice.patrons.desk.routes.common import (
    DESK,
    AnyRequest,
    field_error,
    page_labels,
    patron_url,
)
from cardservice.patrons.desk.search import (
    SEARCH_MAX,
    SearchEmpty,
    SearchKind,
    SearchResult,
    SearchTooLong,
    parse_query,
    search,
)
from cardservice.patrons.desk.texts import STATE_LABELS
from cardservice.web.pages import render
from cardservice.web.staff import current_staff
from cardservice.web.state import services


@get(DESK, name="staff_desk")
async def desk_page(request: AnyRequest) -> Template | Redirect:
    """The search box (a scanner may type into it) and the patrons found."""
    staff = await current_staff(request)
    svc = services(request)
    raw = request.query_params.get("q")
    result, error = None, ""
    if raw is not None:
        try:
            query = parse_query(raw, svc.policy.number_format)
            async with svc.db.read() as session:
                result = await search(session, query)
        except (SearchEmpty, SearchTooLong, InvalidNumber) as exc:
            error = field_error(request, exc.code)
    # A scanned or typed number leads straight to its patron.
    if result and result.query.kind is SearchKind.NUMBER and len(result.hits) == 1:
        return Redirect(patron_url(result.hits[0].patron.id), status_code=HTTP_303_SEE_OTHER)
    return render(
        request,
        "pages/staff/patrons.html",
        status_code=HTTP_400_BAD_REQUEST if error else 200,
        staff=staff,
        q=raw or "",
        error=error,
        result=result,
        search_max=SEARCH_MAX,
        state_labels=page_labels(request, STATE_LABELS),
        states=_states(result, local_today(svc.policy.timezone)),
    )


def _states(result: SearchResult | None, today: date) -> dict[int, str]:
    """Each listed card's state (valid, expired, suspended, revoked), by card id."""
    if result is None:
        return {}
    return {card.id: card_state(card, today) for hit in result.hits for card in hit.cards}
