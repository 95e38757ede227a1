"""The decisions on an application: approve (with a ticked confirmation), reject (a
template or a written reason), ask the applicant a question. After each the reviewer lands
on the next application in the queue, or on the queue when none is left (``after``)."""

from __future__ import annotations

from typing import Annotated, Final

import msgspec
from litestar import post
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_400_BAD_REQUEST, HTTP_409_CONFLICT

from cardservice.cards.lifecycle import CardNotRenewable
from cardservice.cards.service import CardAlreadyRevoked
from cardservice.registration import candidates, errors, inquiries, review
from cardservice.registration.applicant import get_application
from cardservice.registration.decisions import ApplicationNoCard
from cardservice.registration.review_routes.after import after_decision
from cardservice.registration.review_routes.application import show_application
from cardservice.registration.review_routes.common import (
    APPLICATIONS,
    ID_DIGITS_MAX,
    TEXT_FIELD_MAX,
    AnyRequest,
)
from cardservice.registration.review_routes.texts import CARD_CHANGED, NOT_CONFIRMED
from cardservice.staff.models import Role
from cardservice.web.i18n import switching_language
from cardservice.web.pages import domain_error_text, translate
from cardservice.web.resume import KEEPS_TYPED
from cardservice.web.staff import current_staff
from cardservice.web.state import services

_CONFIRMED: Final = frozenset({"1", "on", "yes", "true"})


class RejectForm(msgspec.Struct):
    template_id: Annotated[str, msgspec.Meta(max_length=16)] = ""
    text: Annotated[str, msgspec.Meta(max_length=TEXT_FIELD_MAX)] = ""


class InquiryForm(msgspec.Struct):
    question: Annotated[str, msgspec.Meta(max_length=TEXT_FIELD_MAX)] = ""


class ApproveForm(msgspec.Struct):
    confirm: Annotated[str, msgspec.Meta(max_length=16)] = ""


@post(f"{APPLICATIONS}/{{public_id:str}}/approve", name="staff_application_approve")
async def approve(
    request: AnyRequest, public_id: FromPath[str], data: URLEncodedBody[ApproveForm]
) -> Redirect | Template:
    staff = await current_staff(request, Role.REVIEWER)
    svc = services(request)
    if data.confirm.strip().lower() not in _CONFIRMED:
        return await show_application(
            request,
            staff,
            public_id,
            status_code=HTTP_400_BAD_REQUEST,
            field_errors={"confirm": translate(request, NOT_CONFIRMED)},
        )
    try:
        async with svc.db.transaction() as session:
            app = await get_application(session, public_id)
            await review.approve(
                session,
                app,
                staff,
                svc.policy,
                profile=svc.settings.profile,
                base_url=svc.settings.base_url,
            )
            landing = await after_decision(session, public_id, "approved")
    except candidates.ApplicationPatronRequired as exc:
        message = domain_error_text(request, exc)
        return await show_application(
            request,
            staff,
            public_id,
            status_code=HTTP_409_CONFLICT,
            field_errors={"patron_id": message},
        )
    except (CardAlreadyRevoked, CardNotRenewable, ApplicationNoCard):
        message = translate(request, CARD_CHANGED)
        return await show_application(
            request,
            staff,
            public_id,
            status_code=HTTP_409_CONFLICT,
            field_errors={"confirm": message},
        )
    return landing


def _template_id(raw: str) -> int | None:
    """The chosen template's id; None when the reason is written instead."""
    text = raw.strip()
    if not text:
        return None
    # Longer than any id can be (and than a PostgreSQL integer holds): no such template.
    if not text.isascii() or not text.isdigit() or len(text) > ID_DIGITS_MAX:
        raise errors.RejectionReasonInvalid(field="template_id")
    return int(text)


@post(f"{APPLICATIONS}/{{public_id:str}}/reject", name="staff_application_reject", opt=KEEPS_TYPED)
async def reject(
    request: AnyRequest, public_id: FromPath[str], data: URLEncodedBody[RejectForm]
) -> Redirect | Template:
    staff = await current_staff(request, Role.REVIEWER)
    if await switching_language(request):  # the page again, in the new language, as typed
        values = {"template_id": data.template_id, "text": data.text}
        return await show_application(request, staff, public_id, values=values)
    svc = services(request)
    try:
        template_id = _template_id(data.template_id)
        async with svc.db.transaction() as session:
            app = await get_application(session, public_id)
            await review.reject(
                session,
                app,
                staff,
                profile=svc.settings.profile,
                template_id=template_id,
                text=None if template_id is not None else data.text,
            )
            landing = await after_decision(session, public_id, "rejected")
    except errors.RejectionReasonInvalid as exc:
        field = str(exc.detail.get("field", "text"))
        return await show_application(
            request,
            staff,
            public_id,
            status_code=HTTP_400_BAD_REQUEST,
            field_errors={field: domain_error_text(request, exc)},
            values={"template_id": data.template_id, "text": data.text},
        )
    return landing


@post(
    f"{APPLICATIONS}/{{public_id:str}}/inquiry", name="staff_application_inquiry", opt=KEEPS_TYPED
)
async def inquiry(
    request: AnyRequest, public_id: FromPath[str], data: URLEncodedBody[InquiryForm]
) -> Redirect | Template:
    staff = await current_staff(request, Role.REVIEWER)
    if await switching_language(request):  # the page again, in the new language, as typed
        return await show_application(request, staff, public_id, values={"question": data.question})
    svc = services(request)
    try:
        async with svc.db.transaction() as session:
            app = await get_application(session, public_id)
            await inquiries.ask(
                session,
                app,
                staff,
                data.question,
                profile=svc.settings.profile,
                base_url=svc.settings.base_url,
            )
            landing = await after_decision(session, public_id, "inquiry")
    except errors.InquiryTextInvalid as exc:
        return await show_application(
            request,
            staff,
            public_id,
            status_code=HTTP_400_BAD_REQUEST,
            field_errors={"question": domain_error_text(request, exc)},
            values={"question": data.question},
        )
    return landing
