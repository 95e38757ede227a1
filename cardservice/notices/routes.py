"""Staff pages for emergency-closure notices (administrators only): write the notice in
Japanese and English, preview it as patrons will get it with the number of recipients, send
it, and follow its progress; the list of past notices.

Sending only creates the notice; the emails are queued by ``closures.deliver_pending_notices``
in batches, started here right after the answer has gone out (and by the scheduled jobs of
every process, which resume any notice left unfinished).
"""

from __future__ import annotations

import logging
from typing import Annotated, Any, Final

import msgspec
from litestar import Request, get, post
from litestar.background_tasks import BackgroundTask
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER, HTTP_400_BAD_REQUEST

from cardservice.db.engine import Database
from cardservice.notices import closures
from cardservice.notices.closures import (
    BODY_MAX,
    SUBJECT_MAX,
    NoticeDraft,
    NoticeInvalid,
    parse_draft,
)
from cardservice.profiles.schema import Profile
from cardservice.staff.models import Role, StaffUser
from cardservice.staff.service import StaffForbidden
from cardservice.web.i18n import N_, switching_language
from cardservice.web.pages import render, translate
from cardservice.web.resume import KEEPS_TYPED, keeps_typed_at
from cardservice.web.staff import current_staff
from cardservice.web.state import services

NOTICES: Final = "/staff/notices"
# While a notice is being queued, its page reloads itself this often (no JavaScript).
REFRESH_SECONDS: Final = 5
# What the browser may send; the domain's own limits are smaller and say so by the field.
FORM_MAX: Final = 20_000

FIELD_ERRORS: Final = {
    ("subject_ja", "required"): N_("Write the subject in Japanese."),
    ("body_ja", "required"): N_("Write the text in Japanese."),
    ("subject_en", "required"): N_("Write the subject in English."),
    ("body_en", "required"): N_("Write the text in English."),
}
CONTROL_CHARACTERS: Final = N_("This contains characters that cannot be used (control characters).")
TOO_LONG: Final = {
    "subject": N_("The subject can be at most %(max)d characters long."),
    "body": N_("The text can be at most %(max)d characters long."),
}
# The errors these pages show, for the catalogs; a test checks they are the errors' own.
ERROR_MESSAGES: Final = (
    N_("Only administrators can send emergency-closure notices."),
    N_("There is no such notice."),
)

log = logging.getLogger(__name__)

AnyRequest = Request[Any, Any, Any]


class NoticesAdminOnly(StaffForbidden):
    """Only administrators can send emergency-closure notices."""


class NoticeForm(msgspec.Struct):
    subject_ja: Annotated[str, msgspec.Meta(max_length=FORM_MAX)] = ""
    body_ja: Annotated[str, msgspec.Meta(max_length=FORM_MAX)] = ""
    subject_en: Annotated[str, msgspec.Meta(max_length=FORM_MAX)] = ""
    body_en: Annotated[str, msgspec.Meta(max_length=FORM_MAX)] = ""

    def raw(self) -> dict[str, str]:
        return msgspec.structs.asdict(self)


async def _admin(request: AnyRequest) -> StaffUser:
    try:
        return await current_staff(request, Role.ADMIN)
    except StaffForbidden:
        raise NoticesAdminOnly(required=[str(Role.ADMIN)]) from None


def _errors(request: AnyRequest, exc: NoticeInvalid) -> dict[str, str]:
    """Each field's problem in the page's language."""
    texts = {}
    for field, problem in exc.problems.items():
        if problem == "too_long":
            kind = "subject" if field.startswith("subject") else "body"
            limit = SUBJECT_MAX if kind == "subject" else BODY_MAX
            texts[field] = translate(request, TOO_LONG[kind]) % {"max": limit}
        elif problem == "control_characters":
            texts[field] = translate(request, CONTROL_CHARACTERS)
        else:
            texts[field] = translate(request, FIELD_ERRORS[(field, "required")])
    return texts


def _compose(
    request: AnyRequest,
    staff: StaffUser,
    values: NoticeForm | None = None,
    errors: dict[str, str] | None = None,
) -> Template:
    return render(
        request,
        "pages/staff/notices_new.html",
        status_code=HTTP_400_BAD_REQUEST if errors else 200,
        staff=staff,
        values=values or NoticeForm(),
        errors=errors or {},
        subject_max=SUBJECT_MAX,
        body_max=BODY_MAX,
    )


@get(NOTICES, name="staff_notices")
async def notice_list(request: AnyRequest) -> Template:
    staff = await _admin(request)
    async with services(request).db.read() as session:
        notices = await closures.recent_notices(session)
    return render(request, "pages/staff/notices.html", staff=staff, notices=notices)


@get(f"{NOTICES}/new", name="staff_notice_new")
async def compose(request: AnyRequest) -> Template:
    return _compose(request, await _admin(request))


@post(f"{NOTICES}/new", name="staff_notice_edit")
async def edit(request: AnyRequest, data: URLEncodedBody[NoticeForm]) -> Template:
    """Back from the preview to the form, with everything as it was typed."""
    return _compose(request, await _admin(request), data)


@post(f"{NOTICES}/preview", name="staff_notice_preview", opt=KEEPS_TYPED)
async def preview(request: AnyRequest, data: URLEncodedBody[NoticeForm]) -> Template:
    staff = await _admin(request)
    if await switching_language(request):  # the form again, in the new language, as typed
        return _compose(request, staff, data)
    try:
        draft = parse_draft(data.raw())
    except NoticeInvalid as exc:
        return _compose(request, staff, data, _errors(request, exc))
    svc = services(request)
    async with svc.db.transaction() as session:
        count = await closures.count_recipients(session)
    return render(
        request,
        "pages/staff/notices_preview.html",
        staff=staff,
        draft=draft,
        mails=closures.preview(draft, svc.settings.profile),
        recipients=count,
    )


async def _deliver(db: Database, profile: Profile) -> None:
    """Queue the notice's emails now, in this process; the scheduled jobs resume it if
    this process stops first."""
    try:
        await closures.deliver_pending_notices(db, profile)
    except Exception:
        log.exception("closure notice delivery stopped; the scheduled jobs will resume it")


@post(NOTICES, name="staff_notice_send", opt=keeps_typed_at(f"{NOTICES}/preview"))
async def send(request: AnyRequest, data: URLEncodedBody[NoticeForm]) -> Template | Redirect:
    staff = await _admin(request)
    try:
        draft: NoticeDraft = parse_draft(data.raw())
    except NoticeInvalid as exc:
        return _compose(request, staff, data, _errors(request, exc))
    svc = services(request)
    async with svc.db.transaction() as session:
        notice, _ = await closures.create_notice(session, draft, staff)
    return Redirect(
        f"{NOTICES}/{notice.id}",
        status_code=HTTP_303_SEE_OTHER,
        background=BackgroundTask(_deliver, svc.db, svc.settings.profile),
    )


@get(f"{NOTICES}/{{notice_id:int}}", name="staff_notice")
async def notice_page(request: AnyRequest, notice_id: FromPath[int]) -> Template:
    staff = await _admin(request)
    async with services(request).db.read() as session:
        notice = await closures.get_notice(session, notice_id)
    page = render(
        request,
        "pages/staff/notices_detail.html",
        staff=staff,
        notice=notice,
        refresh_seconds=REFRESH_SECONDS,
    )
    if notice.finished_at is None:
        # The Refresh header reloads the page as <meta http-equiv="refresh"> would.
        page.headers["Refresh"] = str(REFRESH_SECONDS)
    return page


ROUTES: list[Any] = [notice_list, compose, edit, preview, send, notice_page]
