"""Review administration: the rejection templates staff choose from, and the audit log.

Reviewers may read the templates; only administrators change them. The audit log is for
administrators; it shows who did what to which record and when, never an image or a
password (the log never stores them).
"""

from __future__ import annotations

from typing import Annotated, Any, Final
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import msgspec
from litestar import Request, get, post
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER, HTTP_400_BAD_REQUEST

from cardservice.db.base import ID_MAX
from cardservice.errors import DomainError
from cardservice.registration import reasons
from cardservice.registration.form import FormErrors
from cardservice.registration.models import RejectionTemplate
from cardservice.registration.reasons import TemplateTexts
from cardservice.registration.review_routes.actions import (
    action_label,
    action_options,
    actor_label,
    entry_filter,
    staff_options,
    target_label,
)
from cardservice.staff import audit
from cardservice.staff.models import Role, StaffUser
from cardservice.staff.service import list_staff
from cardservice.web.i18n import N_, language, switching_language
from cardservice.web.pages import error_page, render, translate
from cardservice.web.resume import KEEPS_TYPED
from cardservice.web.staff import current_staff
from cardservice.web.state import services

TEMPLATES: Final = "/staff/rejection-templates"
AUDIT: Final = "/staff/audit"
AUDIT_PAGE_SIZE: Final = 50
# Row ids are 32-bit integers on PostgreSQL; a bigger number in a URL is no row at all.

TEMPLATE_NOTICES: Final = {
    "created": N_("The template has been added."),
    "updated": N_("The template has been saved."),
    "deactivated": N_("The template has been deactivated. Staff can no longer choose it."),
    "activated": N_("The template is active again."),
}
TEXT_MAX: Final = 20_000  # the domain's own limit is smaller and says so by the field

AnyRequest = Request[Any, Any, Any]


class TemplateForm(msgspec.Struct):
    code: Annotated[str, msgspec.Meta(max_length=200)] = ""
    text_ja: Annotated[str, msgspec.Meta(max_length=TEXT_MAX)] = ""
    text_en: Annotated[str, msgspec.Meta(max_length=TEXT_MAX)] = ""


def _field_errors(request: AnyRequest, exc: FormErrors) -> dict[str, str]:
    lang = language(request)
    return {e.field: e.ja if lang == "ja" else e.en for e in exc.errors}


async def _templates_page(
    request: AnyRequest,
    staff: StaffUser,
    *,
    status_code: int = 200,
    new_errors: dict[str, str] | None = None,
    new_values: TemplateForm | None = None,
    edit_id: int | None = None,
    edit_errors: dict[str, str] | None = None,
    edit_values: TemplateForm | None = None,
) -> Template:
    async with services(request).db.transaction() as session:
        templates = await reasons.all_templates(session)
    done = request.query_params.get("done", "")
    return render(
        request,
        "pages/staff/rejection_templates.html",
        status_code=status_code,
        staff=staff,
        can_edit=staff.role == Role.ADMIN,
        templates=templates,
        notice=translate(request, TEMPLATE_NOTICES[done]) if done in TEMPLATE_NOTICES else "",
        new_errors=new_errors or {},
        new_values=new_values or TemplateForm(),
        edit_id=edit_id,
        edit_errors=edit_errors or {},
        edit_values=edit_values,
        code_max=reasons.CODE_MAX,
    )


def _after(what: str, template: RejectionTemplate | None = None) -> Redirect:
    anchor = f"#template-{template.id}" if template is not None else ""
    return Redirect(f"{TEMPLATES}?done={what}{anchor}", status_code=HTTP_303_SEE_OTHER)


@get(TEMPLATES, name="staff_rejection_templates")
async def templates_page(request: AnyRequest) -> Template:
    staff = await current_staff(request, Role.REVIEWER)
    return await _templates_page(request, staff)


@post(TEMPLATES, name="staff_rejection_template_create", opt=KEEPS_TYPED)
async def create_template(
    request: AnyRequest, data: URLEncodedBody[TemplateForm]
) -> Redirect | Template:
    staff = await current_staff(request, Role.ADMIN)
    if await switching_language(request):  # the page again, in the new language, as typed
        return await _templates_page(request, staff, new_values=data)
    texts = TemplateTexts(code=data.code, text_ja=data.text_ja, text_en=data.text_en)
    try:
        async with services(request).db.transaction() as session:
            template = await reasons.create_template(session, staff, texts)
    except FormErrors as exc:
        return await _templates_page(
            request,
            staff,
            status_code=HTTP_400_BAD_REQUEST,
            new_errors=_field_errors(request, exc),
            new_values=data,
        )
    return _after("created", template)


@post(f"{TEMPLATES}/{{template_id:int}}", name="staff_rejection_template_update", opt=KEEPS_TYPED)
async def update_template(
    request: AnyRequest, template_id: FromPath[int], data: URLEncodedBody[TemplateForm]
) -> Redirect | Template:
    staff = await current_staff(request, Role.ADMIN)
    if await switching_language(request):  # the page again, in the new language, as typed
        return await _templates_page(request, staff, edit_id=template_id, edit_values=data)
    texts = TemplateTexts(text_ja=data.text_ja, text_en=data.text_en)
    try:
        async with services(request).db.transaction() as session:
            template = await reasons.update_template(session, staff, template_id, texts)
    except FormErrors as exc:
        return await _templates_page(
            request,
            staff,
            status_code=HTTP_400_BAD_REQUEST,
            edit_id=template_id,
            edit_errors=_field_errors(request, exc),
            edit_values=data,
        )
    except DomainError as exc:
        return _not_found(request, exc)
    return _after("updated", template)


async def _set_active(request: AnyRequest, template_id: int, *, active: bool) -> Redirect:
    staff = await current_staff(request, Role.ADMIN)
    async with services(request).db.transaction() as session:
        template = await reasons.set_template_active(session, staff, template_id, active=active)
    return _after("activated" if active else "deactivated", template)


@post(f"{TEMPLATES}/{{template_id:int}}/deactivate", name="staff_rejection_template_deactivate")
async def deactivate_template(
    request: AnyRequest, template_id: FromPath[int]
) -> Redirect | Template:
    try:
        return await _set_active(request, template_id, active=False)
    except reasons.RejectionTemplateNotFound as exc:
        return _not_found(request, exc)


@post(f"{TEMPLATES}/{{template_id:int}}/activate", name="staff_rejection_template_activate")
async def activate_template(request: AnyRequest, template_id: FromPath[int]) -> Redirect | Template:
    try:
        return await _set_active(request, template_id, active=True)
    except reasons.RejectionTemplateNotFound as exc:
        return _not_found(request, exc)


def _not_found(request: AnyRequest, exc: DomainError) -> Template:
    """The template's own message in the page's language; other errors go on."""
    if exc.code not in reasons.MESSAGES:
        raise exc
    text = reasons.MESSAGES[exc.code][language(request)]
    return error_page(request, status_code=404, message=text, code=exc.code)


# ----------------------------------------------------------------------------- audit log


def row_id(value: int) -> int | None:
    """``value`` if a row could have it as its id."""
    return value if 0 < value <= ID_MAX else None


def _before(raw: str) -> int | None:
    """Entries older than this id; anything else (or a number past every id) means none."""
    text = raw.strip()
    if text.isascii() and text.isdigit() and len(text) <= len(str(ID_MAX)):
        return row_id(int(text))
    return None


@get(AUDIT, name="staff_audit")
async def audit_page(request: AnyRequest) -> Template:
    """The audit log, newest first, a page at a time; filtered by action, staff member and
    library dates (a GET form, kept in the page links). A wrong filter field is marked and
    the page shows every entry (400)."""
    staff = await current_staff(request, Role.ADMIN)
    svc = services(request)
    before = _before(request.query_params.get("before", ""))
    async with svc.db.transaction() as session:
        users = await list_staff(session)
        chosen = entry_filter(
            request, request.query_params, users, ZoneInfo(svc.settings.profile.library.timezone)
        )
        # One more than a page tells whether there is an older page at all.
        entries = await audit.recent(
            session, AUDIT_PAGE_SIZE + 1, before=before, chosen=chosen.chosen
        )
    names = {user.id: user.display_name for user in users}
    older = entries[AUDIT_PAGE_SIZE - 1].id if len(entries) > AUDIT_PAGE_SIZE else None
    query = chosen.query
    return render(
        request,
        "pages/staff/audit.html",
        status_code=HTTP_400_BAD_REQUEST if chosen.errors else 200,
        staff=staff,
        entries=entries[:AUDIT_PAGE_SIZE],
        action_label=lambda entry: action_label(request, entry.action),
        actor_label=lambda entry: actor_label(request, entry, names),
        target_label=lambda entry: target_label(request, entry.target_type),
        filter=chosen,
        actions=action_options(request),
        staff_choices=staff_options(request, users),
        filter_url=AUDIT,
        before=before,
        newest_url=f"{AUDIT}?{urlencode(query)}" if query else AUDIT,
        older_url=f"{AUDIT}?{urlencode({**query, 'before': older})}" if older else "",
    )


ROUTES: list[Any] = [
    templates_page,
    create_template,
    update_template,
    deactivate_template,
    activate_template,
    audit_page,
]
