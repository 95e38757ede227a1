"""Domain errors become HTTP here, and only here.

API callers get ``{"error": {"code": ..., "message": ...}}`` with a stable code.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, NotFoundException, ValidationException
from litestar.status_codes import (
    HTTP_400_BAD_REQUEST,
    HTTP_401_UNAUTHORIZED,
    HTTP_403_FORBIDDEN,
    HTTP_404_NOT_FOUND,
    HTTP_409_CONFLICT,
    HTTP_422_UNPROCESSABLE_ENTITY,
    HTTP_429_TOO_MANY_REQUESTS,
    HTTP_503_SERVICE_UNAVAILABLE,
)

from cardservice.errors import DomainError, Kind

STATUS_OF_KIND = {
    Kind.INVALID: HTTP_422_UNPROCESSABLE_ENTITY,
    Kind.NOT_FOUND: HTTP_404_NOT_FOUND,
    Kind.CONFLICT: HTTP_409_CONFLICT,
    Kind.UNAUTHENTICATED: HTTP_401_UNAUTHORIZED,
    Kind.FORBIDDEN: HTTP_403_FORBIDDEN,
    Kind.LIMITED: HTTP_429_TOO_MANY_REQUESTS,
    Kind.UNAVAILABLE: HTTP_503_SERVICE_UNAVAILABLE,
}


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **extra}}


def domain_error_handler(_: Request[Any, Any, Any], exc: DomainError) -> Response[Any]:
    status = STATUS_OF_KIND[exc.kind]
    headers = {"WWW-Authenticate": "Bearer"} if status == HTTP_401_UNAUTHORIZED else None
    return Response(error_body(**exc.as_dict()), status_code=status, headers=headers)


def validation_error_handler(_: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    fields = [
        {"field": item.get("key"), "message": item.get("message")}
        for item in (exc.extra if isinstance(exc.extra, list) else [])
        if isinstance(item, dict)
    ]
    return Response(
        error_body("bad_request", "The request is not valid.", fields=fields),
        status_code=HTTP_400_BAD_REQUEST,
    )


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def http_error_handler(_: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    code = (
        "not_found"
        if isinstance(exc, NotFoundException)
        else _HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
    )
    return Response(
        error_body(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers
    )


EXCEPTION_HANDLERS = {
    DomainError: domain_error_handler,
    ValidationException: validation_error_handler,
    HTTPException: http_error_handler,
}
