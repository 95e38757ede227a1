"""Administrators' pages for the library system's events: webhook endpoints (add one and
see its secret once, send a test message, enable or disable it, its delivery log with each
message's last error, send a failed message again) and the patrons-and-cards CSV export.

Every change is written to the audit log in the same transaction. The secret is shown on
the answer to the form that created the endpoint, with ``Cache-Control: no-store``, and
never again: it is stored only encrypted (``service.create_endpoint``). A new secret is
made the same way, with an overlap the administrator chooses (24 hours unless told) during
which the replaced one signs too; the endpoint's page says until when.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Final

import msgspec
from litestar import Request, get, post
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Redirect, Stream, Template
from litestar.status_codes import HTTP_303_SEE_OTHER, HTTP_400_BAD_REQUEST

from cardservice.events import export, service
from cardservice.events.delivery import MAX_ATTEMPTS, TIMEOUT_SECONDS
from cardservice.events.messages import EVENT_TYPES, TEST_TYPE
from cardservice.staff import audit
from cardservice.staff.models import Role, StaffUser
from cardservice.staff.service import StaffForbidden
from cardservice.web.i18n import N_, switching_language
from cardservice.web.pages import render, translate
from cardservice.web.resume import KEEPS_TYPED
from cardservice.web.staff import current_staff
from cardservice.web.state import is_head, secrets, services

WEBHOOKS: Final = "/staff/webhooks"
EXPORT: Final = "/staff/exports/patrons.csv"
FORM_MAX: Final = 2000

# The errors these pages show, for the catalogs; a test checks they are the errors' own.
ERROR_MESSAGES: Final = (
    N_("Only administrators can manage webhooks and export patrons."),
    N_("The endpoint must be an http:// or https:// address with a host name."),
    N_("There is already an endpoint with this address."),
    N_("There is no such webhook endpoint."),
    N_("There is no such webhook message."),
    N_("Only a message that failed can be sent again."),
    N_("Choose how long the current secret is still accepted: one of the choices offered."),
)

AnyRequest = Request[Any, Any, Any]


class WebhooksAdminOnly(StaffForbidden):
    """Only administrators can manage webhooks and export patrons."""


# How long a replaced secret still signs beside the new one, as offered on the endpoint's
# page (hours; 0: it stops at once, for a secret that leaked).
OVERLAP_CHOICES: Final = (
    (0, N_("No overlap: the current secret stops at once (choose this if it leaked)")),
    (1, N_("1 hour")),
    (24, N_("24 hours")),
    (72, N_("3 days")),
    (168, N_("7 days")),
)
DEFAULT_OVERLAP_HOURS: Final = 24


class RotateForm(msgspec.Struct):
    overlap_hours: Annotated[str, msgspec.Meta(max_length=FORM_MAX)] = ""


class EndpointForm(msgspec.Struct):
    url: Annotated[str, msgspec.Meta(max_length=FORM_MAX)] = ""
    description: Annotated[str, msgspec.Meta(max_length=FORM_MAX)] = ""


async def _admin(request: AnyRequest) -> StaffUser:
    try:
        return await current_staff(request, Role.ADMIN)
    except StaffForbidden:
        raise WebhooksAdminOnly(required=[str(Role.ADMIN)]) from None


async def _list_page(
    request: AnyRequest,
    staff: StaffUser,
    values: EndpointForm | None = None,
    error: str = "",
) -> Template:
    async with services(request).db.read() as session:
        summaries = await service.endpoint_summaries(session)
    return render(
        request,
        "pages/staff/webhooks.html",
        status_code=HTTP_400_BAD_REQUEST if error else 200,
        staff=staff,
        summaries=summaries,
        values=values or EndpointForm(),
        error=error,
        event_types=[*EVENT_TYPES.values(), TEST_TYPE],
        max_attempts=MAX_ATTEMPTS,
        timeout=int(TIMEOUT_SECONDS),
        url_max=service.URL_MAX,
        export_path=EXPORT,
    )


@get(WEBHOOKS, name="staff_webhooks")
async def endpoint_list(request: AnyRequest) -> Template:
    return await _list_page(request, await _admin(request))


@post(WEBHOOKS, name="staff_webhook_create", opt=KEEPS_TYPED)
async def create(request: AnyRequest, data: URLEncodedBody[EndpointForm]) -> Template:
    staff = await _admin(request)
    if await switching_language(request):  # the form again, in the new language, as typed
        return await _list_page(request, staff, data)
    try:
        async with services(request).db.transaction() as session:
            created = await service.create_endpoint(
                session,
                data.url,
                key=secrets(request).document_key,
                description=data.description,
                staff_id=staff.id,
            )
            await audit.record(
                session,
                staff_id=staff.id,
                action="webhook.create",
                target_type="webhook_endpoint",
                target_id=created.endpoint.id,
                detail={"url": created.endpoint.url},
            )
    except (service.WebhookUrlInvalid, service.WebhookUrlTaken) as exc:
        message = translate(request, exc.message)
        return await _list_page(request, staff, data, message)
    return _secret_page(request, staff, created, renewed=False)


@post(f"{WEBHOOKS}/{{endpoint_id:int}}/secret", name="staff_webhook_secret")
async def new_secret(
    request: AnyRequest, endpoint_id: FromPath[int], data: URLEncodedBody[RotateForm]
) -> Template:
    """A new signing secret, shown once on this answer like the first; the replaced one
    signs beside it for the overlap chosen (``service.replace_secret``)."""
    staff = await _admin(request)
    hours = _overlap_hours(data.overlap_hours)
    if hours is None:
        message = translate(request, service.OverlapInvalid().message)
        return await _detail_page(request, staff, endpoint_id, error=message)
    async with services(request).db.transaction() as session:
        renewed = await service.replace_secret(
            session,
            endpoint_id,
            key=secrets(request).document_key,
            overlap=timedelta(hours=hours),
        )
        await audit.record(
            session,
            staff_id=staff.id,
            action="webhook.new_key",
            target_type="webhook_endpoint",
            target_id=endpoint_id,
            detail={"overlap_hours": hours},
        )
    return _secret_page(request, staff, renewed, renewed=True)


def _overlap_hours(value: str) -> int | None:
    """The overlap chosen, in hours: one of :data:`OVERLAP_CHOICES`, the default when the
    form sent none (a form from before the choice existed); None for anything else."""
    text = value.strip()
    if not text:
        return DEFAULT_OVERLAP_HOURS
    choices = {str(hours): hours for hours, _ in OVERLAP_CHOICES}
    return choices.get(text)


def _secret_page(
    request: AnyRequest, staff: StaffUser, shown: service.NewEndpoint, *, renewed: bool
) -> Template:
    page = render(
        request,
        "pages/staff/webhook_created.html",
        staff=staff,
        endpoint=shown.endpoint,
        signing_secret=shown.secret,
        renewed=renewed,
        previous_until=shown.previous_until,
    )
    page.headers["Cache-Control"] = "no-store"
    return page


@get(f"{WEBHOOKS}/{{endpoint_id:int}}", name="staff_webhook")
async def endpoint_detail(request: AnyRequest, endpoint_id: FromPath[int]) -> Template:
    staff = await _admin(request)
    done = request.query_params.get("done", "")
    return await _detail_page(
        request,
        staff,
        endpoint_id,
        done=done if done in ("test", "retry", "enabled", "disabled") else "",
    )


async def _detail_page(
    request: AnyRequest, staff: StaffUser, endpoint_id: int, *, done: str = "", error: str = ""
) -> Template:
    async with services(request).db.read() as session:
        endpoint = await service.get_endpoint(session, endpoint_id)
        deliveries = await service.recent_deliveries(session, endpoint_id)
    return render(
        request,
        "pages/staff/webhook_detail.html",
        status_code=HTTP_400_BAD_REQUEST if error else 200,
        staff=staff,
        endpoint=endpoint,
        deliveries=deliveries,
        done=done,
        error=error,
        max_attempts=MAX_ATTEMPTS,
        previous_until=service.overlap_until(endpoint, datetime.now(UTC)),
        overlap_choices=[(hours, translate(request, label)) for hours, label in OVERLAP_CHOICES],
        default_overlap=DEFAULT_OVERLAP_HOURS,
    )


def _back(endpoint_id: int, done: str) -> Redirect:
    return Redirect(f"{WEBHOOKS}/{endpoint_id}?done={done}", status_code=HTTP_303_SEE_OTHER)


@post(f"{WEBHOOKS}/{{endpoint_id:int}}/test", name="staff_webhook_test")
async def send_test(request: AnyRequest, endpoint_id: FromPath[int]) -> Redirect:
    staff = await _admin(request)
    async with services(request).db.transaction() as session:
        row = await service.queue_test(session, endpoint_id)
        await audit.record(
            session,
            staff_id=staff.id,
            action="webhook.test",
            target_type="webhook_endpoint",
            target_id=endpoint_id,
            detail={"message_id": row.message_id},
        )
    return _back(endpoint_id, "test")


@post(f"{WEBHOOKS}/{{endpoint_id:int}}/enable", name="staff_webhook_enable")
async def enable(request: AnyRequest, endpoint_id: FromPath[int]) -> Redirect:
    return await _set_enabled(request, endpoint_id, enabled=True)


@post(f"{WEBHOOKS}/{{endpoint_id:int}}/disable", name="staff_webhook_disable")
async def disable(request: AnyRequest, endpoint_id: FromPath[int]) -> Redirect:
    return await _set_enabled(request, endpoint_id, enabled=False)


async def _set_enabled(request: AnyRequest, endpoint_id: int, *, enabled: bool) -> Redirect:
    staff = await _admin(request)
    async with services(request).db.transaction() as session:
        await service.set_enabled(session, endpoint_id, enabled)
        await audit.record(
            session,
            staff_id=staff.id,
            action="webhook.enable" if enabled else "webhook.disable",
            target_type="webhook_endpoint",
            target_id=endpoint_id,
        )
    return _back(endpoint_id, "enabled" if enabled else "disabled")


@post(f"{WEBHOOKS}/deliveries/{{delivery_id:int}}/retry", name="staff_webhook_retry")
async def retry(request: AnyRequest, delivery_id: FromPath[int]) -> Redirect:
    staff = await _admin(request)
    async with services(request).db.transaction() as session:
        row = await service.retry_failed(session, delivery_id)
        await audit.record(
            session,
            staff_id=staff.id,
            action="webhook.retry",
            target_type="webhook_delivery",
            target_id=row.id,
            detail={"endpoint_id": row.endpoint_id, "event_type": row.event_type},
        )
    return _back(row.endpoint_id, "retry")


@get(EXPORT, name="staff_export_patrons")
async def export_patrons(request: AnyRequest) -> Stream:
    """The CSV, streamed as it is read (``export.patron_card_csv``); the export is audited.
    HEAD (a link checker, a download manager's probe) answers the same headers, exports
    nothing and is not audited as an export."""
    staff = await _admin(request)
    svc = services(request)
    if is_head(request):
        return Stream(iter(()), media_type="text/csv", headers=_EXPORT_HEADERS)
    async with svc.db.transaction() as session:
        await audit.record(
            session,
            staff_id=staff.id,
            action="export.patrons_csv",
            target_type="patrons",
            target_id="all",
        )
    return Stream(
        export.patron_card_csv(svc.db, svc.policy.timezone),
        media_type="text/csv",  # Litestar adds "; charset=utf-8"
        headers=_EXPORT_HEADERS,
    )


_EXPORT_HEADERS: Final = {
    "Content-Disposition": f'attachment; filename="{export.FILENAME}"',
    "Cache-Control": "no-store",
}


ROUTES = [
    endpoint_list,
    create,
    endpoint_detail,
    send_test,
    new_secret,
    enable,
    disable,
    retry,
    export_patrons,
]
