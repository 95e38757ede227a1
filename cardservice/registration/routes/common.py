"""What the applicant's pages share: the draft in the session, uploads, redirects."""

from __future__ import annotations

from typing import Annotated, Any, Final

import msgspec
from litestar import Request, Response
from litestar.response import Redirect, Template
from litestar.status_codes import (
    HTTP_303_SEE_OTHER,
    HTTP_400_BAD_REQUEST,
    HTTP_413_REQUEST_ENTITY_TOO_LARGE,
)
from litestar.types import ExceptionHandlersMap
from sqlalchemy.ext.asyncio import AsyncSession

from cardservice.errors import InvalidInput
from cardservice.registration import applicant, steps
from cardservice.registration.errors import (
    ApplicationNotFound,
)
from cardservice.registration.models import Application, ApplicationStatus
from cardservice.security.links import LinkInvalid
from cardservice.web.i18n import language
from cardservice.web.pages import render
from cardservice.web.state import services

SESSION_KEY: Final = "apply"
START: Final = "/apply"
SESSION_ENDED: Final = "/apply?session=ended"
# The multipart body limit of the upload routes. It is fixed when the routes are made, so
# it covers the largest ``documents.max_bytes`` a profile may set (50 MB) plus the form
# around the file; the profile's own limit is checked on the file itself, with a clear
# "too large" message, and anything past this one gets the same message as a 413 page.
UPLOAD_BODY_LIMIT: Final = 50_000_000 + 1_000_000
TEXT_MAX: Final = 256

AnyRequest = Request[Any, Any, Any]
Text = Annotated[str, msgspec.Meta(max_length=TEXT_MAX)]
Flag = Annotated[str, msgspec.Meta(max_length=8)]


class NoApplication(Exception):  # a signal to redirect, not a failure
    """This session has no application (no link followed yet, or the session ended)."""


class NotDraft(Exception):
    """The application was submitted: its editing pages give way to the "received" page."""


def see_other(path: str) -> Redirect:
    return Redirect(path, status_code=HTTP_303_SEE_OTHER)


def to_start(_: AnyRequest, __: Exception) -> Response[Any]:
    return see_other(SESSION_ENDED)


def to_done(_: AnyRequest, __: Exception) -> Response[Any]:
    return see_other("/apply/done")


def upload_too_large(request: AnyRequest, _: Exception) -> Response[Any]:
    """A body past ``UPLOAD_BODY_LIMIT``: the "too large" message, not a bare 413."""
    lang = language(request)
    max_bytes = services(request).settings.profile.documents.max_bytes
    return render(
        request,
        "pages/apply/upload_refused.html",
        status_code=HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        message=steps.text("request_too_large", lang, max_mb=megabytes(max_bytes)),
        code="document_too_large",
        back=request.url.path,
    )


UPLOAD_ERRORS: Final[ExceptionHandlersMap] = {HTTP_413_REQUEST_ENTITY_TOO_LARGE: upload_too_large}


def megabytes(size: int) -> str:
    return f"{size / 1_000_000:g}"


def form_field(value: object) -> str:
    """A text field of a multipart form ("" when absent or a file)."""
    return value if isinstance(value, str) else ""


async def current_application(request: AnyRequest, session: AsyncSession) -> Application:
    public_id = request.session.get(SESSION_KEY)
    if not isinstance(public_id, str) or not public_id:
        raise NoApplication
    try:
        return await applicant.get_application(session, public_id)
    except ApplicationNotFound:
        raise NoApplication from None


async def draft_application(request: AnyRequest, session: AsyncSession) -> Application:
    app = await current_application(request, session)
    if app.status != ApplicationStatus.DRAFT:
        raise NotDraft
    return app


def link_refused(request: AnyRequest, exc: LinkInvalid, *, start_again: bool) -> Template:
    return render(
        request,
        "pages/apply/link_invalid.html",
        status_code=HTTP_400_BAD_REQUEST,
        message=steps.error_text(exc, language(request)),
        code=exc.code,
        start_again=start_again,
    )


def upload_field(exc: InvalidInput) -> str:
    field = steps.error_field(exc, "file")
    return "file" if field == "document" else field
