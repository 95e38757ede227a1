"""Staff review pages: the queue, one application, its ID images, and the decisions on it.

Each decision (approve, reject, ask) and the pick of the patron an application is for is one
transaction around the domain function, then a 303 back to the application with a notice.
Approving asks for a ticked confirmation. A decision the application's state no longer
allows is a 409 page; a missing confirmation, a reason, question or patron that is not valid
comes back on the application page (400, or 409 for a patron still to pick) with the
message next to its field, in the page's language, the text kept. The rejection templates
and the audit log are in ``review_admin.py``.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Final
from zoneinfo import ZoneInfo

import msgspec
from litestar import Request, Response, get, post
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER, HTTP_400_BAD_REQUEST, HTTP_409_CONFLICT

from cardservice.calendar import local_today
from cardservice.cards.lifecycle import CardNotRenewable
from cardservice.cards.service import CardAlreadyRevoked
from cardservice.profiles.schema import Profile
from cardservice.registration import candidates, errors, inquiries, review, waiting
from cardservice.registration.applicant import get_application
from cardservice.registration.checks import procedure_checks
from cardservice.registration.decisions import ApplicationNoCard
from cardservice.registration.japan import format_phone
from cardservice.registration.models import ApplicationStatus
from cardservice.registration.queue import ApplicationDetail
from cardservice.staff import audit
from cardservice.staff.models import Role, StaffUser
from cardservice.staff.service import list_staff
from cardservice.web.i18n import N_, language
from cardservice.web.pages import domain_error_text, render, translate
from cardservice.web.review_admin import ROUTES as ADMIN_ROUTES
from cardservice.web.review_admin import STAFF_NOT_KNOWN, SYSTEM_ACTOR, row_id
from cardservice.web.review_view import (
    DocumentView,
    applicant_language,
    approve_texts,
    card_state,
    comparison_label,
    decision_reason,
    document_label,
    facts,
    match_labels,
    procedure_label,
    renewal_basis,
    status_label,
    status_labels,
)
from cardservice.web.staff import current_staff
from cardservice.web.state import secrets, services

QUEUE: Final = "/staff/queue"
APPLICATIONS: Final = "/staff/applications"
ID_DIGITS_MAX: Final = 9
TEXT_FIELD_MAX: Final = 20_000  # the domain's own limits are smaller and say so by the field

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
_CONFIRMED: Final = frozenset({"1", "on", "yes", "true"})

AnyRequest = Request[Any, Any, Any]


class RejectForm(msgspec.Struct):
    template_id: Annotated[str, msgspec.Meta(max_length=16)] = ""
    text: Annotated[str, msgspec.Meta(max_length=TEXT_FIELD_MAX)] = ""


class InquiryForm(msgspec.Struct):
    question: Annotated[str, msgspec.Meta(max_length=TEXT_FIELD_MAX)] = ""


class ApproveForm(msgspec.Struct):
    confirm: Annotated[str, msgspec.Meta(max_length=16)] = ""


class PatronForm(msgspec.Struct):
    patron_id: Annotated[str, msgspec.Meta(max_length=16)] = ""
    user_number: Annotated[str, msgspec.Meta(max_length=64)] = ""


def _today(profile: Profile) -> date:
    return local_today(ZoneInfo(profile.library.timezone))


def application_url(public_id: str) -> str:
    return f"{APPLICATIONS}/{public_id}"


# ----------------------------------------------------------------------------------- queue


@get(QUEUE, name="staff_queue")
async def queue_page(request: AnyRequest) -> Template:
    staff = await current_staff(request, Role.REVIEWER)
    profile = services(request).settings.profile
    today = _today(profile)
    async with services(request).db.transaction() as session:
        items = await review.queue(session, today, profile=profile)
        waiting_items = await waiting.awaiting_answer(session, today)
    labels = {i.public_id: procedure_label(request, i.procedure, i.reissue_reason) for i in items}
    return render(
        request,
        "pages/staff/queue.html",
        staff=staff,
        items=items,
        procedure_labels=labels,
        waiting=waiting_items,
        today=today,
        overdue_count=sum(1 for item in items if item.overdue),
    )


# ----------------------------------------------------------------------------- application


async def _application_page(
    request: AnyRequest,
    staff: StaffUser,
    public_id: str,
    *,
    status_code: int = 200,
    field_errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> Template:
    profile = services(request).settings.profile
    today = _today(profile)
    async with services(request).db.transaction() as session:
        detail: ApplicationDetail = await review.application_detail(session, public_id)
        checks = await procedure_checks(session, detail.application, profile=profile, today=today)
        templates = await review.rejection_templates(session)
        number = await waiting.issued_number(session, detail.application)
        history = await audit.for_target(session, review.TARGET, public_id)
        staff_names = {user.id: user.display_name for user in await list_staff(session)}
    app = detail.application
    done = request.query_params.get("done", "")
    notices = {
        **DONE_NOTICES,
        "approved": APPROVED_NOTICES.get(app.procedure, DONE_NOTICES["approved"]),
    }
    documents = [
        DocumentView(
            info=info,
            url=f"{application_url(public_id)}/documents/{info.id}",
            label=document_label(request, profile, info),
        )
        for info in detail.documents
    ]
    return render(
        request,
        "pages/staff/application.html",
        status_code=status_code,
        staff=staff,
        app=app,
        url=application_url(public_id),
        facts=facts(request, app),
        status_label=status_label(request, app),
        status_labels=status_labels(request),
        documents=documents,
        inquiries=detail.inquiries,
        duplicates=detail.duplicates,
        templates=templates,
        user_number=number,
        decision_reason=decision_reason(request, app),
        history=history,
        staff_names=staff_names,
        system_actor=translate(request, SYSTEM_ACTOR),
        unknown_actor=translate(request, STAFF_NOT_KNOWN),
        notice=translate(request, notices[done]) if done in notices else "",
        can_decide=app.status == ApplicationStatus.SUBMITTED,
        can_reject=app.status in (ApplicationStatus.SUBMITTED, ApplicationStatus.INQUIRY),
        errors=field_errors or {},
        values={"template_id": "", "text": "", "question": "", "user_number": "", **(values or {})},
        today=today,
        procedure=procedure_label(request, app.procedure, app.reissue_reason),
        approve_texts=approve_texts(request, app.procedure),
        phone_display=lambda number: format_phone(number) if number else "",
        checks=checks,
        # Only this library's own rule sends registered people to the counter (Yokohama).
        registered_to_counter=profile.procedures.registered_to_counter,
        eloan_notice=profile.procedures.eloan_notice.get(language(request)),
        renewal_basis=renewal_basis(request, checks, profile),
        card_state=lambda card: card_state(request, card, today),
        comparison_label=lambda field: comparison_label(request, field),
        match_labels=lambda matched: match_labels(request, matched),
        can_pick=app.status in (ApplicationStatus.SUBMITTED, ApplicationStatus.INQUIRY)
        and app.procedure != "new"
        and (app.patron_id is None or app.patron_linked_by is not None),
        applicant_language=applicant_language(request, app),
        question_max=inquiries.QUESTION_MAX,
        reason_max=review.REASON_MAX,
    )


@get(f"{APPLICATIONS}/{{public_id:str}}", name="staff_application")
async def application_page(request: AnyRequest, public_id: FromPath[str]) -> Template:
    staff = await current_staff(request, Role.REVIEWER)
    return await _application_page(request, staff, public_id)


@get(
    f"{APPLICATIONS}/{{public_id:str}}/documents/{{document_id:int}}",
    name="staff_application_document",
)
async def document_image(
    request: AnyRequest, public_id: FromPath[str], document_id: FromPath[int]
) -> Response[bytes] | Template:
    staff = await current_staff(request, Role.REVIEWER)
    if row_id(document_id) is None:
        raise errors.DocumentNotFound(document_id=document_id)
    async with services(request).db.transaction() as session:
        app = await get_application(session, public_id)
        content_type, image = await review.document_image(
            session, app, document_id, staff=staff, document_key=secrets(request).document_key
        )
    return Response(
        image,
        media_type=content_type,
        headers={"Cache-Control": "no-store", "Content-Disposition": "inline"},
    )


# ------------------------------------------------------------------------------- decisions


def _done(public_id: str, what: str) -> Redirect:
    return Redirect(f"{application_url(public_id)}?done={what}", status_code=HTTP_303_SEE_OTHER)


@post(f"{APPLICATIONS}/{{public_id:str}}/approve", name="staff_application_approve")
async def approve(
    request: AnyRequest, public_id: FromPath[str], data: URLEncodedBody[ApproveForm]
) -> Redirect | Template:
    staff = await current_staff(request, Role.REVIEWER)
    svc = services(request)
    if data.confirm.strip().lower() not in _CONFIRMED:
        return await _application_page(
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
    except candidates.ApplicationPatronRequired as exc:
        message = domain_error_text(request, exc)
        return await _application_page(
            request,
            staff,
            public_id,
            status_code=HTTP_409_CONFLICT,
            field_errors={"patron_id": message},
        )
    except (CardAlreadyRevoked, CardNotRenewable, ApplicationNoCard):
        message = translate(request, CARD_CHANGED)
        return await _application_page(
            request,
            staff,
            public_id,
            status_code=HTTP_409_CONFLICT,
            field_errors={"confirm": message},
        )
    return _done(public_id, "approved")


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
        return await _application_page(
            request,
            staff,
            public_id,
            status_code=HTTP_400_BAD_REQUEST,
            field_errors={field: domain_error_text(request, exc)},
            values={"user_number": data.user_number},
        )
    return _done(public_id, "linked")


def _patron_id(raw: str) -> int:
    text = raw.strip()
    if not text.isascii() or not text.isdigit() or len(text) > ID_DIGITS_MAX:
        raise candidates.PatronChoiceInvalid(field="patron_id")
    return int(text)


def _template_id(raw: str) -> int | None:
    """The chosen template's id; None when the reason is written instead."""
    text = raw.strip()
    if not text:
        return None
    # Longer than any id can be (and than a PostgreSQL integer holds): no such template.
    if not text.isascii() or not text.isdigit() or len(text) > ID_DIGITS_MAX:
        raise errors.RejectionReasonInvalid(field="template_id")
    return int(text)


@post(f"{APPLICATIONS}/{{public_id:str}}/reject", name="staff_application_reject")
async def reject(
    request: AnyRequest, public_id: FromPath[str], data: URLEncodedBody[RejectForm]
) -> Redirect | Template:
    staff = await current_staff(request, Role.REVIEWER)
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
    except errors.RejectionReasonInvalid as exc:
        field = str(exc.detail.get("field", "text"))
        return await _application_page(
            request,
            staff,
            public_id,
            status_code=HTTP_400_BAD_REQUEST,
            field_errors={field: domain_error_text(request, exc)},
            values={"template_id": data.template_id, "text": data.text},
        )
    return _done(public_id, "rejected")


@post(f"{APPLICATIONS}/{{public_id:str}}/inquiry", name="staff_application_inquiry")
async def inquiry(
    request: AnyRequest, public_id: FromPath[str], data: URLEncodedBody[InquiryForm]
) -> Redirect | Template:
    staff = await current_staff(request, Role.REVIEWER)
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
    except errors.InquiryTextInvalid as exc:
        return await _application_page(
            request,
            staff,
            public_id,
            status_code=HTTP_400_BAD_REQUEST,
            field_errors={"question": domain_error_text(request, exc)},
            values={"question": data.question},
        )
    return _done(public_id, "inquiry")


ROUTES: list[Any] = [
    queue_page,
    application_page,
    document_image,
    approve,
    link_patron,
    reject,
    inquiry,
    *ADMIN_ROUTES,
]
