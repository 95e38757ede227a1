"""HTML pages: the template engine, the ``render`` helper, and error pages.

Every page is rendered through :func:`render`, which adds what the base layout needs (the
language, the library's name and contact, the language switch) and remembers a language
chosen with ``?lang=`` in a cookie.

Errors on pages become HTML pages with the same status the API would give; API paths and
clients that do not ask for HTML keep the JSON errors of ``web/errors.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, Final, TypeVar
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from litestar import Request, Response
from litestar.datastructures import Cookie
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from litestar.status_codes import (
    HTTP_303_SEE_OTHER,
    HTTP_400_BAD_REQUEST,
    HTTP_500_INTERNAL_SERVER_ERROR,
)

from cardservice.calendar import written_date
from cardservice.datefilters import install_date_filters
from cardservice.errors import DomainError, Kind
from cardservice.mail.letterhead import letterhead
from cardservice.registration.steps import PAGE_MESSAGES, error_text
from cardservice.web.errors import (
    REQUEST_ID_HEADER,
    RETRY_AFTER_SECONDS,
    STATUS_OF_KIND,
    domain_error_handler,
    http_error_handler,
    internal_error_handler,
    log_internal_error,
    short_of_connections,
    unavailable,
    validation_error_handler,
)
from cardservice.web.i18n import (
    LANG_COOKIE,
    LANG_QUERY,
    LANGUAGES,
    N_,
    Lang,
    gettext,
    install,
    language,
    requested_language,
)
from cardservice.web.labels import install_label_filters
from cardservice.web.state import services

# Route handlers (or routers) with this ``opt`` are pages: their errors are HTML pages.
PAGE_OPT: Final = {"page": True}
LANG_COOKIE_MAX_AGE: Final = 365 * 24 * 60 * 60
CSRF_FAILED_DETAIL: Final = "CSRF token verification failed"  # Litestar's message

NOT_FOUND_MESSAGE: Final = N_("This page does not exist.")
HTTP_ERROR_MESSAGE: Final = N_("The request could not be handled.")
MALFORMED_TITLE: Final = N_("What was sent could not be read")
INTERNAL_ERROR_TITLE: Final = N_("Something went wrong")
INTERNAL_ERROR_PAGE_MESSAGE: Final = N_(
    "Something went wrong on our side. If you were sending a form, it has not been saved: "
    "go back and send it again. If it happens again, tell the library the request number below."
)
UNAVAILABLE_TITLE: Final = N_("The service is busy")
UNAVAILABLE_PAGE_MESSAGE: Final = N_(
    "Please try again in a moment. If you were sending a form, it has not been saved: "
    "go back and send it again."
)

AnyRequest = Request[Any, Any, Any]


def page_environment(root: Path) -> Environment:
    """Autoescaped, and strict: a value a template uses but nobody passed is an error."""
    env = Environment(
        loader=FileSystemLoader(root),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    install(env)
    install_date_filters(env)  # longdate, shortday, localtime: the same as in emails
    install_label_filters(env)  # label, parens, joined: 「状態：」「（おもて）」「、」
    return env


def template_engine(root: Path) -> JinjaTemplateEngine:
    return JinjaTemplateEngine.from_environment(page_environment(root))


def switch_language_url(request: AnyRequest, lang: Lang) -> str:
    """This page in ``lang``: the same path and query (tokens included), ``lang`` replaced."""
    query = [(k, v) for k, v in request.query_params.multi_items() if k != LANG_QUERY]
    return f"{request.url.path}?{urlencode([*query, (LANG_QUERY, lang)])}"


def page_context(request: AnyRequest) -> dict[str, Any]:
    """What the base layout needs, for the language of this request."""
    lang = language(request)
    library = services(request).settings.profile.library
    other: Lang = next(code for code in LANGUAGES if code != lang)
    return {
        "lang": lang,
        "library_name": library.name.get(lang),
        "library_phone": library.phone,
        "library_email": library.sender_email,
        # The office, address and web site the emails' signature prints too.
        "letterhead": letterhead(services(request).settings.profile, lang),
        "timezone": library.timezone,
        "japanese_era": services(request).settings.profile.display.japanese_era,
        "other_lang": other,
        "other_lang_url": switch_language_url(request, other),
    }


def render(
    request: AnyRequest,
    template_name: str,
    *,
    status_code: int = 200,
    **context: Any,
) -> Template:
    """Render ``templates/{template_name}`` as a page in the request's language."""
    cookies = []
    chosen = requested_language(request)
    if chosen is not None:
        cookies.append(
            Cookie(
                key=LANG_COOKIE,
                value=chosen,
                max_age=LANG_COOKIE_MAX_AGE,
                httponly=True,
                samesite="lax",
                secure=services(request).settings.production,
            )
        )
    return Template(
        template_name=template_name,
        context={**page_context(request), **context},
        status_code=status_code,
        cookies=cookies,
    )


def date_text(request: AnyRequest, day: date, *, weekday: bool = False) -> str:
    """``day`` as the page's language writes it, as the templates' ``longdate`` filter does:
    2029年11月30日 (with ``weekday`` 2029年11月30日（金）), the era first when the profile's
    ``display.japanese_era`` asks (令和11年（2029年）11月30日); 30 November 2029 in English."""
    era = services(request).settings.profile.display.japanese_era
    return written_date(day, language(request), weekday=weekday, era=era)


def translate(request: AnyRequest, message: str) -> str:
    """``message`` in the request's language (for text made in Python, such as errors)."""
    return gettext(language(request), message)


def this_page(request: AnyRequest) -> str:
    """The path and query of this request: where to come back to after logging in."""
    query = request.url.query
    return f"{request.url.path}?{query}" if query else request.url.path


class LoginRequired(NotAuthorizedException):
    """A page guard found nobody logged in: pages redirect to ``login_path``, or answer with
    ``login_page`` when there is one (the login page carrying a form sent after the login
    ended, ``web/resume.py``)."""

    def __init__(
        self, login_path: str, next_path: str, *, login_page: Template | None = None
    ) -> None:
        super().__init__(detail="Please log in.")
        self.login_path = login_path
        self.next_path = next_path
        self.login_page = login_page


def wants_html(request: AnyRequest) -> bool:
    """Pages and browsers get HTML errors; the API and other clients get JSON."""
    if request.scope.get("path", "").startswith("/api/"):
        return False
    handler = request.scope.get("route_handler")
    if handler is not None and handler.opt.get("page"):
        return True
    return "text/html" in request.headers.get("accept", "")


def error_page(
    request: AnyRequest,
    *,
    status_code: int,
    message: str,
    code: str,
    title: str = "",
    request_id: str = "",
) -> Template:
    """``pages/error.html`` with this status; a request id is shown for the library to quote,
    and sent as ``X-Request-ID``; a 503 says when to come back (``Retry-After``)."""
    page = render(
        request,
        "pages/error.html",
        status_code=status_code,
        title=title or message,
        message=message,
        code=code,
        csrf_failed=False,
        request_id=request_id,
        staff_page=is_staff_page(request),
    )
    if request_id:
        page.headers[REQUEST_ID_HEADER] = request_id
    if status_code == STATUS_OF_KIND[Kind.UNAVAILABLE]:
        page.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return page


def is_staff_page(request: AnyRequest) -> bool:
    """Whether ``request`` is for a staff page: its error page leads back to the staff
    home, not to the patrons' home page."""
    path = request.url.path
    return path == "/staff" or path.startswith("/staff/")


def domain_error_text(request: AnyRequest, exc: DomainError) -> str:
    """A domain error's message in the page's language: the registration codes carry their
    own Japanese and English texts; other errors' messages are in the page catalogs."""
    if exc.code in PAGE_MESSAGES:
        return error_text(exc, language(request))
    return translate(request, exc.message)


def _domain_error_page(request: AnyRequest, exc: DomainError) -> Response[Any]:
    if exc.kind is Kind.UNAVAILABLE:
        return _unavailable_page(request, str(exc.detail.get("request_id", "")))
    return error_page(
        request,
        status_code=STATUS_OF_KIND[exc.kind],
        title=translate(request, MALFORMED_TITLE) if exc.kind is Kind.MALFORMED else "",
        message=domain_error_text(request, exc),
        code=exc.code,
    )


def _validation_error_page(request: AnyRequest, _: ValidationException) -> Response[Any]:
    return error_page(
        request,
        status_code=HTTP_400_BAD_REQUEST,
        message=translate(request, "The request is not valid."),
        code="bad_request",
    )


def _unavailable_page(request: AnyRequest, rid: str) -> Template:
    return error_page(
        request,
        status_code=STATUS_OF_KIND[Kind.UNAVAILABLE],
        title=translate(request, UNAVAILABLE_TITLE),
        message=translate(request, UNAVAILABLE_PAGE_MESSAGE),
        code="temporarily_unavailable",
        request_id=rid,
    )


def _internal_error_page(request: AnyRequest, exc: Exception) -> Response[Any]:
    if short_of_connections(exc):
        _, rid = unavailable(request, exc)
        return _unavailable_page(request, rid)
    rid = log_internal_error(request, exc)
    return error_page(
        request,
        status_code=HTTP_500_INTERNAL_SERVER_ERROR,
        title=translate(request, INTERNAL_ERROR_TITLE),
        message=translate(request, INTERNAL_ERROR_PAGE_MESSAGE),
        code="internal_error",
        request_id=rid,
    )


def _http_error_page(request: AnyRequest, exc: HTTPException) -> Response[Any]:
    if exc.status_code >= HTTP_500_INTERNAL_SERVER_ERROR:
        return _internal_error_page(request, exc)
    if isinstance(exc, LoginRequired):
        if exc.login_page is not None:
            return exc.login_page
        query = urlencode({"next": exc.next_path})
        return Redirect(f"{exc.login_path}?{query}", status_code=HTTP_303_SEE_OTHER)
    if isinstance(exc, PermissionDeniedException) and exc.detail == CSRF_FAILED_DETAIL:
        return render(
            request,
            "pages/error.html",
            status_code=exc.status_code,
            title=translate(request, "The form has expired"),
            message=translate(
                request, "Please reload the form and try again. Nothing has been sent."
            ),
            code="csrf_failed",
            csrf_failed=True,
            request_id="",
            staff_page=is_staff_page(request),
        )
    if isinstance(exc, NotFoundException):
        message, code = NOT_FOUND_MESSAGE, "not_found"
    else:
        message, code = HTTP_ERROR_MESSAGE, f"http_{exc.status_code}"
    return error_page(
        request, status_code=exc.status_code, message=translate(request, message), code=code
    )


E = TypeVar("E", bound=Exception)
Handler = Callable[[AnyRequest, E], Response[Any]]


def _either(json: Handler[E], html: Handler[E]) -> Handler[E]:
    def handle(request: AnyRequest, exc: E) -> Response[Any]:
        return html(request, exc) if wants_html(request) else json(request, exc)

    return handle


EXCEPTION_HANDLERS: Final[dict[type[Exception], Handler[Any]]] = {
    DomainError: _either(domain_error_handler, _domain_error_page),
    ValidationException: _either(validation_error_handler, _validation_error_page),
    HTTPException: _either(http_error_handler, _http_error_page),
    # Everything else: a database short of connections (503) or a bug (500, logged).
    Exception: _either(internal_error_handler, _internal_error_page),
}
