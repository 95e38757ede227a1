"""The published API description (``/api/docs/openapi.json``) and its Swagger UI page.

The document says what the service really answers: every error is the ``Error`` body of
``web/errors.py`` (a stable code, a message, a request id on 500 and 503), the counter API
names its API key as a security scheme and its 401, 400 and 422 answers, and the JWKS and
barcode images carry their real content types.

Swagger UI is served from the package (``web/static/swagger-ui-*``, swagger-ui-dist 5.35.0
from the npm registry, Apache-2.0: ``swagger-ui.LICENSE`` and ``swagger-ui.NOTICE`` beside
it), started by ``api-docs.js``: the docs page needs no inline script and no other origin.
Any other path under ``/api/docs/`` (``/elements``, ``/redoc``, ...) is the API's 404, the
``Error`` body, not Litestar's bare page.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec
from litestar import Request, Response, Router
from litestar.exceptions import NotFoundException
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.plugins import OpenAPIRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.status_codes import HTTP_404_NOT_FOUND

API_KEY_SCHEME: Final = "apiKey"
BEARER_SCHEME: Final = "bearerApiKey"
# Either header carries the same key (``cards/routes.py``).
API_KEY_SECURITY: Final[list[dict[str, list[str]]]] = [
    {API_KEY_SCHEME: []},
    {BEARER_SCHEME: []},
]

_DOCS_PAGE: Final = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="/static/swagger-ui.css">
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{url}"></div>
<script src="/static/swagger-ui-bundle.js"></script>
<script src="/static/api-docs.js"></script>
</body>
</html>
"""


class FieldProblem(msgspec.Struct):
    field: str | None
    message: str | None


class ErrorDetail(msgspec.Struct):
    """``code`` is stable (callers match on it); ``message`` is for people."""

    code: str
    message: str
    request_id: str | None = None  # 500 and 503: the id the log holds the failure under
    fields: list[FieldProblem] | None = None  # 400 bad_request: which parts were wrong
    field: str | None = None  # 400 control_character: where it was


class ErrorBody(msgspec.Struct):
    error: ErrorDetail


def error_response(description: str) -> ResponseSpec:
    return ResponseSpec(data_container=ErrorBody, description=description, generate_examples=False)


# Answers any API route may give, whatever it does.
COMMON_ERRORS: Final = {
    400: error_response(
        "The request is malformed: parameters or body (bad_request), a control character "
        "(control_character), a JSON body nested too deeply (body_too_deep)."
    ),
    405: error_response(
        "The method is not one this path answers (method_not_allowed); the Allow header lists "
        "those it does."
    ),
    500: error_response("A failure on the service's side (internal_error), with a request id."),
    503: error_response(
        "The database is short of connections (temporarily_unavailable): try again after "
        "the Retry-After header's seconds."
    ),
}


def api_responses(own: dict[int, ResponseSpec] | None = None) -> dict[int, ResponseSpec]:
    """``COMMON_ERRORS`` plus a route's own answers (status code to response)."""
    return {**COMMON_ERRORS, **(own or {})}


class SwaggerFromPackage(OpenAPIRenderPlugin):
    """Swagger UI from the package's static files, with no inline script."""

    def __init__(self, title: str) -> None:
        super().__init__(path="/swagger")
        self.title = title

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        url = self.get_openapi_json_route(request)
        return _DOCS_PAGE.format(title=self.title, url=url).encode()


DOCS_PATH: Final = "/api/docs"


def _not_found_as_ours(response: Response[Any]) -> Response[Any]:
    """Litestar answers an unknown docs path with its own bare HTML 404 page (or raises for
    ``.json``/``.yaml``); raising instead gives the service's 404 through its handlers."""
    if response.status_code == HTTP_404_NOT_FOUND:
        raise NotFoundException
    return response


def openapi_config() -> OpenAPIConfig:
    """The app's OpenAPI settings: the document at ``/api/docs/openapi.json``, the UI at
    ``/api/docs``; any other docs path is the API's 404."""
    return OpenAPIConfig(
        title="cardservice",
        version="1",
        description="Digital library cards: registration, signed cards, verification.",
        path=DOCS_PATH,
        openapi_router=Router(
            DOCS_PATH, route_handlers=[], include_in_schema=False, after_request=_not_found_as_ours
        ),
        render_plugins=[SwaggerFromPackage("cardservice API")],
        components=Components(
            security_schemes={
                API_KEY_SCHEME: SecurityScheme(
                    type="apiKey",
                    name="X-API-Key",
                    security_scheme_in="header",
                    description="A counter API key (cardservice apikey create).",
                ),
                BEARER_SCHEME: SecurityScheme(
                    type="http",
                    scheme="bearer",
                    description="The same API key, as Authorization: Bearer <key>.",
                ),
            }
        ),
    )
