"""The review queue and one application's page, with its checks, documents, inquiries,
history and the forms of the decisions; the decisions show it again with their errors."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from litestar import get
from litestar.params import FromPath
from litestar.response import Template
from litestar.status_codes import HTTP_200_OK, HTTP_400_BAD_REQUEST

from cardservice.registration import inquiries, review, waiting
from cardservice.registration.checks import procedure_checks
from cardservice.registration.japan import format_phone
from cardservice.registration.models import ApplicationStatus
from cardservice.registration.queue import ApplicationDetail
from cardservice.registration.review_routes.actions import (
    STAFF_NOT_KNOWN,
    action_label,
    action_options,
    actor_label,
    entry_filter,
    staff_options,
)
from cardservice.registration.review_routes.after import decided_notice, done_text
from cardservice.registration.review_routes.common import (
    APPLICATIONS,
    QUEUE,
    AnyRequest,
    application_url,
    library_today,
)
from cardservice.registration.review_routes.view import (
    DocumentView,
    answer_documents,
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
from cardservice.staff import audit
from cardservice.staff.models import Role, StaffUser
from cardservice.staff.service import list_staff
from cardservice.web.i18n import language
from cardservice.web.pages import render, translate
from cardservice.web.staff import current_staff
from cardservice.web.state import services


@get(QUEUE, name="staff_queue")
async def queue_page(request: AnyRequest) -> Template:
    staff = await current_staff(request, Role.REVIEWER)
    profile = services(request).settings.profile
    today = library_today(profile)
    async with services(request).db.transaction() as session:
        items = await review.queue(session, today, profile=profile)
        waiting_items = await waiting.awaiting_answer(session, today)
        decided = await decided_notice(request, session, None)
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
        decided=decided,
    )


async def show_application(
    request: AnyRequest,
    staff: StaffUser,
    public_id: str,
    *,
    status_code: int = HTTP_200_OK,
    field_errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> Template:
    """The application's page; a refused decision shows it again with ``status_code``, the
    error next to its field (``field_errors``) and what was typed (``values``)."""
    svc = services(request)
    profile = svc.settings.profile
    today = library_today(profile)
    async with svc.db.transaction() as session:
        detail: ApplicationDetail = await review.application_detail(session, public_id)
        app = detail.application
        checks = await procedure_checks(session, app, profile=profile, today=today)
        templates = await review.rejection_templates(session)
        number = await waiting.issued_number(session, app)
        users = await list_staff(session)
        # The history's filter (action, who, dates) is in the query, as on the audit log.
        chosen = entry_filter(
            request, request.query_params, users, ZoneInfo(profile.library.timezone)
        )
        everything = await audit.for_target(session, review.TARGET, public_id)
        history = (
            await audit.for_target(session, review.TARGET, public_id, chosen=chosen.chosen)
            if chosen.query and not chosen.errors
            else everything
        )
        decided = await decided_notice(request, session, app)
    staff_names = {user.id: user.display_name for user in users}
    done = request.query_params.get("done", "")
    documents = [
        DocumentView(
            info=info,
            url=f"{application_url(public_id)}/documents/{info.id}",
            label=document_label(request, profile, info),
        )
        for info in detail.documents
    ]
    if chosen.errors and status_code == HTTP_200_OK:
        status_code = HTTP_400_BAD_REQUEST
    return render(
        request,
        "pages/staff/application.html",
        status_code=status_code,
        staff=staff,
        app=app,
        url=application_url(public_id),
        facts=facts(request, app, today),
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
        unknown_actor=translate(request, STAFF_NOT_KNOWN),
        action_label=lambda entry: action_label(request, entry.action),
        actor_label=lambda entry: actor_label(request, entry, staff_names),
        filter=chosen,
        actions=action_options(request),
        staff_choices=staff_options(request, users),
        filter_url=f"{application_url(public_id)}#history",
        answer_documents=answer_documents(request, profile, everything),
        decided=decided,
        # The notice of a decision on this application itself (no ``decided`` for another).
        notice=done_text(request, app, done)
        if request.query_params.get("decided", public_id) == public_id
        else "",
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
    return await show_application(request, staff, public_id)
