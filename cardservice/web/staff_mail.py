"""Staff pages for email: the dev mail catcher's inbox, and the outbox's failed messages.

A caught message's HTML is never put into our page. It is served by its own route under a
``sandbox`` Content-Security-Policy (no scripts, no forms, a unique origin, no remote
loads) and shown in an ``<iframe sandbox>``: the page is safe even if the mail is not.
"""

from __future__ import annotations

import re
from typing import Any, Final

from litestar import Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER

from cardservice.mail.catcher import extract_links, get_caught, list_caught, uses_catcher
from cardservice.mail.models import CaughtMail
from cardservice.mail.outbox import failed_messages, retry_failed
from cardservice.staff import audit
from cardservice.staff.models import Role, StaffUser
from cardservice.web.i18n import N_
from cardservice.web.pages import render
from cardservice.web.staff import current_staff
from cardservice.web.state import services

FAILED_MAIL: Final = "/staff/outbox/failed"
# Mail holds applicants' links and personal data: for reviewers and admins, not the counter.
MAIL_ROLES: Final = (Role.REVIEWER,)
# Inline styles are what HTML mail uses; images only if embedded; nothing else at all.
CAUGHT_HTML_POLICY: Final = (
    "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'; object-src 'none'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
)

# The mail errors these pages show, for the catalogs; a test checks they are the errors' own.
ERROR_MESSAGES: Final = (
    N_("There is no such email."),
    N_("Only an email that failed can be retried."),
)

AnyRequest = Request[Any, Any, Any]


def linkify(text: str, links: list[str]) -> list[tuple[str, bool]]:
    """``text`` cut into (piece, is_link) pairs, so a template can make the links clickable."""
    if not links:
        return [(text, False)]
    # Longest first, so a link that extends another is matched whole.
    pattern = re.compile("|".join(re.escape(link) for link in sorted(links, key=len, reverse=True)))
    pieces: list[tuple[str, bool]] = []
    position = 0
    for match in pattern.finditer(text):
        if match.start() > position:
            pieces.append((text[position : match.start()], False))
        pieces.append((match.group(), True))
        position = match.end()
    if position < len(text):
        pieces.append((text[position:], False))
    return pieces


def _require_catcher(request: AnyRequest) -> None:
    if not uses_catcher(services(request).settings):
        raise NotFoundException  # production, or dev with a real mail server


async def _caught(request: AnyRequest, mail_id: int) -> tuple[StaffUser, CaughtMail]:
    staff = await current_staff(request, *MAIL_ROLES)
    _require_catcher(request)
    async with services(request).db.read() as session:
        return staff, await get_caught(session, mail_id)


@get("/staff/mail", name="staff_mail")
async def caught_list(request: AnyRequest) -> Template:
    staff = await current_staff(request, *MAIL_ROLES)
    _require_catcher(request)
    async with services(request).db.read() as session:
        messages = await list_caught(session, limit=100)
    return render(request, "pages/staff/mail_list.html", staff=staff, messages=messages)


@get("/staff/mail/{mail_id:int}", name="staff_mail_detail")
async def caught_detail(request: AnyRequest, mail_id: FromPath[int]) -> Template:
    staff, mail = await _caught(request, mail_id)
    links = extract_links(mail)
    return render(
        request,
        "pages/staff/mail_detail.html",
        staff=staff,
        mail=mail,
        links=links,
        text_pieces=linkify(mail.body_text, links),
    )


@get("/staff/mail/{mail_id:int}/html", name="staff_mail_html")
async def caught_html(request: AnyRequest, mail_id: FromPath[int]) -> Response[str]:
    _, mail = await _caught(request, mail_id)
    if mail.body_cleared_at is not None:
        raise NotFoundException  # the text is gone; the detail page says when it was cleared
    return Response(
        mail.body_html,
        media_type="text/html",  # Litestar adds "; charset=utf-8"
        headers={
            "Content-Security-Policy": CAUGHT_HTML_POLICY,
            "X-Frame-Options": "SAMEORIGIN",
        },
    )


@get(FAILED_MAIL, name="staff_failed_mail")
async def failed_list(request: AnyRequest) -> Template:
    staff = await current_staff(request, *MAIL_ROLES)
    async with services(request).db.read() as session:
        messages = await failed_messages(session)
    retried = request.query_params.get("retried", "")
    return render(
        request,
        "pages/staff/failed_mail.html",
        staff=staff,
        messages=messages,
        retried=retried if retried.isdigit() else "",
    )


@post("/staff/outbox/{mail_id:int}/retry", name="staff_retry_mail")
async def retry(request: AnyRequest, mail_id: FromPath[int]) -> Redirect:
    staff = await current_staff(request, *MAIL_ROLES)
    async with services(request).db.transaction() as session:
        row = await retry_failed(session, mail_id)
        await audit.record(
            session,
            staff_id=staff.id,
            action="mail.retry",
            target_type="outbox",
            target_id=row.id,
            detail={"template": row.template},
        )
    return Redirect(f"{FAILED_MAIL}?retried={row.id}", status_code=HTTP_303_SEE_OTHER)


ROUTES = [caught_list, caught_detail, caught_html, failed_list, retry]
