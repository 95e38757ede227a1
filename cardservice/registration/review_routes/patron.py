"""The reviewer's pick of the patron an application is for: one of the candidates, or a
user number typed or scanned."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import post
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_400_BAD_REQUEST

from cardservice.registration import candidates
from cardservice.registration.applicant import get_application
from cardservice.registration.review_routes.application import show_application
from cardservice.registration.review_routes.common import (
    APPLICATIONS,
    ID_DIGITS_MAX,
    AnyRequest,
    back_to_application,
)
from cardservice.staff.models import Role
from cardservice.web.pages import domain_error_text
from cardservice.web.staff import current_staff
from cardservice.web.state import services


class PatronForm(msgspec.Struct):
    patron_id: Annotated[str, msgspec.Meta(max_length=16)] = ""
    user_number: Annotated[str, msgspec.Meta(max_length=64)] = ""


@post(f"{APPLICATIONS}/{{public_id:str}}/patron", name="staff_application_patron")
async def link_patron(
    request: AnyRequest, public_id: FromPath[str], data: URLEncodedBody[PatronForm]
) -> Redirect | Template:
    """The reviewer's pick of the patron: one of the candidates, or a user number."""
    staff = await current_staff(request, Role.REVIEWER)
    svc = services(request)
    try:
        async with svc.db.transaction() as session:
            app = await get_application(session, public_id)
            if data.user_number.strip():
                patron_id = await candidates.patron_of_number(
                    session, data.user_number, svc.policy.number_format
                )
            else:
                patron_id = _patron_id(data.patron_id)
            await candidates.link_patron(session, app, patron_id, staff)
    except (candidates.PatronChoiceInvalid, candidates.PatronNumberUnknown) as exc:
        field = str(exc.detail.get("field", "patron_id"))
        return await show_application(
            request,
            staff,
            public_id,
            status_code=HTTP_400_BAD_REQUEST,
            field_errors={field: domain_error_text(request, exc)},
            values={"user_number": data.user_number},
        )
    return back_to_application(public_id, "linked")


def _patron_id(raw: str) -> int:
    text = raw.strip()
    if not text.isascii() or not text.isdigit() or len(text) > ID_DIGITS_MAX:
        raise candidates.PatronChoiceInvalid(field="patron_id")
    return int(text)
