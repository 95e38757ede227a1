"""The staff page that finds any application, decided ones included: a search form over
``registration.history`` and one page of results at a time."""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import urlencode

from litestar import Request, get
from litestar.response import Template
from litestar.status_codes import HTTP_400_BAD_REQUEST

from cardservice.registration import history
from cardservice.registration.history import PAGE_SIZE, FilterInvalid
from cardservice.registration.review_routes.view import PROCEDURE_LABELS, STATUS_LABELS
from cardservice.staff.models import Role
from cardservice.staff.service import list_staff
from cardservice.web.i18n import N_
from cardservice.web.pages import render, translate
from cardservice.web.staff import current_staff
from cardservice.web.state import services

SEARCH: Final = "/staff/applications/search"
FIELDS: Final = ("q", "status", "procedure", "dates", "from", "to", "staff")
FIELD_ERRORS: Final = {
    "status_invalid": N_("Choose a status from the list."),
    "procedure_invalid": N_("Choose a procedure from the list."),
    "dates_invalid": N_("Choose which date the range applies to."),
    "date_invalid": N_("Write the date as YYYY-MM-DD."),
    "date_out_of_range": N_("Choose a date from the year 1900 to 2999."),
    "date_range_invalid": N_("The end of the range is before its start."),
    "too_long": N_("The search text is too long."),
    "staff_invalid": N_("Choose a staff member from the list."),
}
DATE_FIELD_LABELS: Final = {
    history.DateField.SUBMITTED: N_("Submitted"),
    history.DateField.DECIDED: N_("Decided"),
}

AnyRequest = Request[Any, Any, Any]


def _options(request: AnyRequest, labels: dict[Any, str]) -> list[tuple[str, str]]:
    return [(str(value), translate(request, text)) for value, text in labels.items()]


@get(SEARCH, name="staff_applications_search")
async def search_page(request: AnyRequest) -> Template:
    staff = await current_staff(request, Role.REVIEWER)
    svc = services(request)
    values = {name: request.query_params.get(name, "") for name in FIELDS}
    errors: dict[str, str] = {}
    found = None
    async with svc.db.transaction() as session:
        users = await list_staff(session)
    try:
        chosen = history.parse_filter(request.query_params, [user.id for user in users])
        async with svc.db.transaction() as session:
            found = await history.search(session, chosen, svc.policy.timezone)
    except FilterInvalid as exc:
        errors = {
            field: translate(request, FIELD_ERRORS.get(code, FIELD_ERRORS["date_invalid"]))
            for field, code in exc.fields.items()
        }
    query = {name: value for name, value in values.items() if value}

    def page_url(page: int) -> str:
        return f"{SEARCH}?{urlencode({**query, 'page': page})}"

    return render(
        request,
        "pages/staff/applications_search.html",
        status_code=HTTP_400_BAD_REQUEST if errors else 200,
        staff=staff,
        values=values,
        errors=errors,
        found=found,
        page_size=PAGE_SIZE,
        text_max=history.TEXT_MAX,
        previous_url=page_url(found.page - 1) if found and found.page > 1 else "",
        next_url=page_url(found.page + 1) if found and found.page < found.pages else "",
        statuses=_options(request, STATUS_LABELS),
        procedures=_options(request, PROCEDURE_LABELS),
        date_fields=_options(request, DATE_FIELD_LABELS),
        status_labels=dict(_options(request, STATUS_LABELS)),
        procedure_labels=dict(_options(request, PROCEDURE_LABELS)),
        staff_choices=[(str(user.id), user.display_name) for user in users],
        staff_names={user.id: user.display_name for user in users},
    )


ROUTES: list[Any] = [search_page]
