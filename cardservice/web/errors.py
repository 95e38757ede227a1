"""Domain errors become HTTP here, and only here.

API callers get ``{"error": {"code": ..., "message": ...}}`` with a stable code; pages get the
same status as an HTML page (``web/pages.py``). Two kinds of failure are not the caller's:

- a database short of connections (the pool's wait ran out, PostgreSQL refused a connection
  for its limit, SQLite stayed locked past the busy timeout) answers 503 with ``Retry-After``
  and code ``temporarily_unavailable``, and logs one line;
- anything else unexpected answers 500 with code ``internal_error`` and a request id, and logs
  the traceback under that id, so an operator can find what a caller quotes.

Litestar's own refusals are said in the service's words, never in Litestar's: a parameter or
body that fails validation names the field as the caller sent it (the query parameter's
name, ``body`` for the JSON body as a whole) with a readable message; a body that is not
JSON says so; other HTTP errors carry a fixed message per status, which never repeats the
request (a path, a header).
"""

from __future__ import annotations

import logging
import re
import secrets
import sqlite3
from collections.abc import Iterator
from typing import Any, Final

from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    InternalServerException,
    NotFoundException,
    SerializationException,
    ValidationException,
)
from litestar.status_codes import (
    HTTP_400_BAD_REQUEST,
    HTTP_401_UNAUTHORIZED,
    HTTP_403_FORBIDDEN,
    HTTP_404_NOT_FOUND,
    HTTP_409_CONFLICT,
    HTTP_422_UNPROCESSABLE_ENTITY,
    HTTP_429_TOO_MANY_REQUESTS,
    HTTP_500_INTERNAL_SERVER_ERROR,
    HTTP_503_SERVICE_UNAVAILABLE,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout

from cardservice.errors import DomainError, Kind, Unavailable

log = logging.getLogger("cardservice.web")

STATUS_OF_KIND = {
    Kind.INVALID: HTTP_422_UNPROCESSABLE_ENTITY,
    Kind.MALFORMED: HTTP_400_BAD_REQUEST,
    Kind.NOT_FOUND: HTTP_404_NOT_FOUND,
    Kind.CONFLICT: HTTP_409_CONFLICT,
    Kind.UNAUTHENTICATED: HTTP_401_UNAUTHORIZED,
    Kind.FORBIDDEN: HTTP_403_FORBIDDEN,
    Kind.LIMITED: HTTP_429_TOO_MANY_REQUESTS,
    Kind.UNAVAILABLE: HTTP_503_SERVICE_UNAVAILABLE,
}

INTERNAL_ERROR_CODE: Final = "internal_error"
INTERNAL_ERROR_MESSAGE: Final = "Something went wrong on our side."
UNAVAILABLE_MESSAGE: Final = "The service is busy. Please try again in a moment."
REQUEST_ID_HEADER: Final = "X-Request-ID"
# A short wait: a pool frees a connection within a request's time.
RETRY_AFTER_SECONDS: Final = 5
# PostgreSQL's SQLSTATEs for "no connection for you now": too_many_connections,
# cannot_connect_now (starting or shutting down), and configuration_limit_exceeded.
_PG_SHORT_OF_CONNECTIONS: Final = frozenset({"53300", "57P03", "53400"})
# A proxy's request id is kept if it looks like one; anything else gets a fresh id.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")

AnyRequest = Request[Any, Any, Any]


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **extra}}


def domain_error_handler(_: AnyRequest, exc: DomainError) -> Response[Any]:
    status = STATUS_OF_KIND[exc.kind]
    headers = {"WWW-Authenticate": "Bearer"} if status == HTTP_401_UNAUTHORIZED else None
    if status == HTTP_503_SERVICE_UNAVAILABLE:
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    return Response(error_body(**exc.as_dict()), status_code=status, headers=headers)


BAD_REQUEST_MESSAGE: Final = "The request is not valid."
NOT_JSON_MESSAGE: Final = (
    "The body cannot be read as JSON: UTF-8 text by RFC 8259, with no escaped lone surrogate."
)
BODY_REQUIRED_MESSAGE: Final = "A JSON body is required."
MISSING_MESSAGE: Final = "Required, and missing."
BODY_FIELD: Final = "body"  # how an error names the JSON body as a whole
# Litestar's signature model names the body "data" and reports a missing one as KeyError.
_BODY_KWARG: Final = "data"
_MISSING_PARAMETER = re.compile(r"Missing required (\w+) parameter ")


def _field_name(request: AnyRequest, key: str, source: object) -> str:
    """The field as the caller sent it: a parameter's name in the query, header or cookie
    (the handler's argument may be called otherwise), ``body`` for the whole JSON body, and
    a body member's path (``barcode``) as it is."""
    if key == _BODY_KWARG and source in (None, "body"):
        return BODY_FIELD
    handler = request.scope.get("route_handler")
    parameter = handler.parsed_fn_signature.parameters.get(key) if handler else None
    definition = getattr(parameter, "kwarg_definition", None)
    for attribute in ("name", "query", "header", "cookie"):
        alias = getattr(definition, attribute, None)
        if isinstance(alias, str) and alias:
            return alias
    return key


def _field_message(key: str, message: object) -> str:
    text = str(message or "")
    if text in (repr(key), ""):  # Litestar reports a missing argument as KeyError(key)
        return BODY_REQUIRED_MESSAGE if key == _BODY_KWARG else MISSING_MESSAGE
    return text


def validation_problems(request: AnyRequest, exc: ValidationException) -> list[dict[str, str]]:
    """``[{"field", "message"}, ...]`` for a Litestar validation error: each field named as
    the caller sent it, each message readable (see the module's docstring)."""
    problems = [
        {
            "field": _field_name(request, str(item.get("key", "")), item.get("source")),
            "message": _field_message(str(item.get("key", "")), item.get("message")),
        }
        for item in (exc.extra if isinstance(exc.extra, list) else [])
        if isinstance(item, dict)
    ]
    missing = exc.__cause__
    if not problems and isinstance(missing, KeyError) and missing.args:
        # A required query, header or cookie parameter is absent (named by its alias).
        kind = _MISSING_PARAMETER.match(str(exc.detail))
        where = f"The {kind.group(1)} parameter is" if kind else "It is"
        problems.append({"field": str(missing.args[0]), "message": f"{where} required."})
    return problems


def validation_error_handler(request: AnyRequest, exc: ValidationException) -> Response[Any]:
    return Response(
        error_body("bad_request", BAD_REQUEST_MESSAGE, fields=validation_problems(request, exc)),
        status_code=HTTP_400_BAD_REQUEST,
    )


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}
# Litestar's details may repeat the request (a static file's path, a header's value): the
# JSON answer says the service's own words instead.
_HTTP_MESSAGES = {
    400: BAD_REQUEST_MESSAGE,
    401: "Authentication is required.",
    403: "This is not allowed.",
    404: "There is nothing at this address.",
    405: "This method is not allowed here; the Allow header lists the methods that are.",
    413: "The body is larger than this address accepts.",
    415: "The body's content type is not accepted here.",
    429: "Too many requests; try again later.",
}


def http_error_message(exc: HTTPException) -> str:
    """The service's message for a Litestar HTTP error (4xx): fixed per status, and for a
    body that could not be decoded, that it is not JSON."""
    if isinstance(exc.__cause__, SerializationException):
        return NOT_JSON_MESSAGE
    return _HTTP_MESSAGES.get(exc.status_code, "The request could not be handled.")


def http_error_handler(request: AnyRequest, exc: HTTPException) -> Response[Any]:
    if exc.status_code >= HTTP_500_INTERNAL_SERVER_ERROR:
        return internal_error_handler(request, exc)
    code = (
        "not_found"
        if isinstance(exc, NotFoundException)
        else _HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
    )
    message = http_error_message(exc)
    extra = (
        {"fields": [{"field": BODY_FIELD, "message": message}]}
        if message is NOT_JSON_MESSAGE
        else {}
    )
    return Response(
        error_body(code, message, **extra), status_code=exc.status_code, headers=exc.headers
    )


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what it wraps: ``__cause__``/``__context__`` and a DBAPI error's ``orig``."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        orig = getattr(current, "orig", None)
        current = (
            orig if isinstance(orig, BaseException) else (current.__cause__ or current.__context__)
        )


def short_of_connections(exc: BaseException) -> bool:
    """Whether ``exc`` means the database has no connection for this request right now.

    True for SQLAlchemy's pool timeout (``QueuePool limit ... reached``), PostgreSQL refusing a
    connection for its limit (SQLSTATE 53300, 53400, 57P03, from SQLAlchemy or from asyncpg
    directly) and SQLite's "database is locked" after the busy timeout.
    """
    for cause in _causes(exc):
        if isinstance(cause, PoolTimeout):
            return True
        if getattr(cause, "sqlstate", None) in _PG_SHORT_OF_CONNECTIONS:
            return True
        if isinstance(cause, sqlite3.OperationalError) and "locked" in str(cause):
            return True
    return False


def request_id(request: AnyRequest) -> str:
    """The id an operator finds this request by in the log: the proxy's ``X-Request-ID`` if it
    sent a plausible one (8–64 of ``A-Za-z0-9._-``), else 16 fresh hex digits."""
    offered = request.headers.get(REQUEST_ID_HEADER, "")
    return offered if _REQUEST_ID.fullmatch(offered) else secrets.token_hex(8)


def _route(request: AnyRequest) -> str:
    # The route's template, not the path: paths carry one-time link tokens.
    template = request.scope.get("path_template")
    return f"{request.scope.get('method', '-')} {template or '(no route)'}"


def unavailable(request: AnyRequest, exc: BaseException) -> tuple[Unavailable, str]:
    """The 503 error for a database short of connections, and the logged request id."""
    rid = request_id(request)
    log.warning(
        "database short of connections: %s answered 503, retry after %d s (request %s): %s",
        _route(request),
        RETRY_AFTER_SECONDS,
        rid,
        type(exc).__name__,
    )
    return Unavailable(UNAVAILABLE_MESSAGE, request_id=rid), rid


# Litestar's words when the body's sender hangs up before the body is complete.
_CLIENT_GONE: Final = "client disconnected prematurely"


def client_went_away(exc: BaseException) -> bool:
    """Whether ``exc`` only says the client hung up mid-body (an aborted upload, a closed
    tab): nothing failed here, and nobody is left to read the answer."""
    return isinstance(exc, InternalServerException) and exc.detail == _CLIENT_GONE


def log_internal_error(request: AnyRequest, exc: BaseException) -> str:
    """Log ``exc`` with its traceback under a request id; the id is returned for the answer.
    A client that went away mid-body is one INFO line, no traceback (see
    :func:`client_went_away`), so aborted uploads neither flood the log nor raise alerts."""
    rid = request_id(request)
    if client_went_away(exc):
        log.info("request %s: the client went away while sending %s", rid, _route(request))
    else:
        log.error("request %s failed: %s", rid, _route(request), exc_info=exc)
    return rid


def internal_error_handler(request: AnyRequest, exc: Exception) -> Response[Any]:
    """Any exception nobody else handles: 503 if the database is short of connections, else
    500 with a request id; both logged (see the module's docstring)."""
    if short_of_connections(exc):
        error, rid = unavailable(request, exc)
        response = domain_error_handler(request, error)
    else:
        rid = log_internal_error(request, exc)
        response = Response(
            error_body(INTERNAL_ERROR_CODE, INTERNAL_ERROR_MESSAGE, request_id=rid),
            status_code=HTTP_500_INTERNAL_SERVER_ERROR,
        )
    response.headers[REQUEST_ID_HEADER] = rid
    return response
