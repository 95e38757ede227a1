"""Bounds on every input, checked once at the edge before any handler sees it.

- **Integer path parameters** (``{mail_id:int}`` and the like) are row ids: PostgreSQL
  ``integer`` columns, 1 to 2^31 - 1. A number outside that range names no row: 404, before
  a driver is asked to fit it into a column (asyncpg refuses it, SQLite overflows at 2^63).
- **Control characters** (C0 and C1, other than tab, line feed and carriage return) in a path
  parameter, a query parameter, or a form field, URL-encoded or multipart: nobody types them,
  and PostgreSQL refuses NUL in text. The request is refused with 400 and code
  ``control_character`` (a page in the page's language, or JSON for the API), and nothing is
  saved. Format characters (zero-width, bidi) are legitimate in some text and are the
  fields' own business (``text.has_invisible``).
- **JSON bodies** are read through :class:`EdgeRequest`: nested at most ``MAX_JSON_DEPTH``
  deep (``body_too_deep``, 400; msgspec would otherwise recurse until Python's limit), and
  with no control character in a string (``control_character``, worded for machines: JSON
  clients are programs). RFC 8259 section 7 allows DEL and the C1 controls raw in a string
  and C0 ones only escaped, so the strings are looked at only when the raw bytes hold a
  backslash, a DEL or a C1 control's UTF-8 form (``\xc2\x80``-``\xc2\x9f``): a few
  bytes searches on the hot path (about 0.5 us a body), and no walk of the decoded value.
  Route guards run before the body is read, so the API key is checked first.

- **Form encoding**: a form field whose bytes are not UTF-8 makes the whole form unreadable:
  400 ``form_unreadable``, before CSRF or the handler try to read it.

File parts of a multipart form are the upload's business (``registration/documents``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any, Final

from litestar import Request
from litestar.enums import RequestEncodingType, ScopeType
from litestar.exceptions import NotFoundException
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from cardservice.db.base import ID_MAX
from cardservice.errors import DomainError, Kind
from cardservice.web.errors import BODY_FIELD
from cardservice.web.i18n import N_

ID_MIN: Final = 1
MAX_JSON_DEPTH: Final = 32
API_PREFIX: Final = "/api/"
# C0 and C1 controls and DEL, less tab, line feed and carriage return (forms send CRLF).
_CONTROL_CLASS: Final = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
_CONTROL = re.compile(f"[{_CONTROL_CLASS}]")
# The same rule as a JSON Schema ``pattern`` (ECMA-262 and Python read it alike): text with no
# control character, for the published API document.
NO_CONTROL_PATTERN: Final = f"^[^{_CONTROL_CLASS}]*$"
# A JSON string (escapes and all) or a bracket: what counts towards the depth.
_JSON_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)
# A raw C1 control (U+0080-U+009F) in UTF-8; 0xC2 is only ever a lead byte.
_C1_UTF8 = re.compile(rb"\xc2[\x80-\x9f]")
_BODY_METHODS: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_FORMS: Final = frozenset({RequestEncodingType.URL_ENCODED, RequestEncodingType.MULTI_PART})

CONTROL_CHARACTER_MESSAGE: Final = N_(
    "What was sent holds a control character (such as NUL), which cannot be typed. Nothing "
    "has been saved: go back, type the text again and send it."
)


CONTROL_CHARACTER_API_MESSAGE: Final = "A string in the body holds a control character."


class ControlCharacter(DomainError):
    """What was sent holds a control character (such as NUL), which cannot be typed.

    ``message`` is the page's wording (in the catalogs); :meth:`as_dict`, the API's JSON
    error, says it for a program: where the character is (``field``), not what to retype.
    """

    code = "control_character"
    kind = Kind.MALFORMED

    def as_dict(self) -> dict[str, Any]:
        """The JSON error: ``{"code", "message", "field"}``, the message worded for machines."""
        field = self.detail.get("field")
        message = (
            CONTROL_CHARACTER_API_MESSAGE
            if field in (None, BODY_FIELD)
            else f"The parameter {field} holds a control character."
        )
        return {**super().as_dict(), "message": message}


FORM_UNREADABLE_MESSAGE: Final = N_(
    "What was sent could not be read as text (it was not UTF-8). Nothing has been saved: go "
    "back and send the form again from this service's page."
)


class FormUnreadable(DomainError):
    """A form field's bytes are not UTF-8, so the form cannot be read."""

    code = "form_unreadable"
    kind = Kind.MALFORMED


class BodyTooDeep(DomainError):
    """The JSON body is nested too deeply."""

    code = "body_too_deep"
    kind = Kind.MALFORMED


def has_control(text: str) -> bool:
    """Whether ``text`` holds a C0/C1 control character other than tab, LF and CR."""
    return _CONTROL.search(text) is not None


def json_too_deep(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether ``body`` (JSON text) nests arrays and objects more than ``limit`` levels deep.

    Brackets inside strings do not count. A body with no more than ``limit`` opening brackets
    in all cannot be deeper, so the common case costs two ``bytes.count`` calls.
    """
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    depth = 0
    for token in _JSON_TOKEN.finditer(body):
        char = token.group()
        if char in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        elif char in (b"]", b"}"):
            depth -= 1
    return False


def body_may_hold_control(body: bytes) -> bool:
    """Whether the JSON text ``body`` (UTF-8) may hold a control character in a string: it
    holds a backslash (an escape), a DEL byte or a C1 control's UTF-8 form. False means none
    can be there, so the decoded strings need no look (RFC 8259 section 7: raw C0 controls
    are not JSON, raw DEL and C1 controls are)."""
    # Three memchr-speed searches; the regex only when a 0xC2 lead byte is there at all.
    return (
        b"\\" in body or b"\x7f" in body or (b"\xc2" in body and _C1_UTF8.search(body) is not None)
    )


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _refuse_controls(named: Iterable[tuple[str, object]]) -> None:
    for name, value in named:
        if has_control(name) or (isinstance(value, str) and has_control(value)):
            raise ControlCharacter(CONTROL_CHARACTER_MESSAGE, field=_printable(name))


def _printable(name: str) -> str:
    return _CONTROL.sub("?", name)[:64]


class EdgeRequest(Request[Any, Any, Any]):
    """The app's request class: its JSON body is bounded (see the module's docstring)."""

    async def json(self) -> Any:
        """The decoded JSON body; :class:`BodyTooDeep` or :class:`ControlCharacter` (400)."""
        body = await self.body()
        if json_too_deep(body):
            raise BodyTooDeep(f"The JSON body is nested deeper than {MAX_JSON_DEPTH} levels.")
        value = await super().json()
        if body_may_hold_control(body) and any(has_control(text) for text in _strings(value)):
            raise ControlCharacter(CONTROL_CHARACTER_MESSAGE, field=BODY_FIELD)
        return value


class EdgeLimits(ASGIMiddleware):
    """Checks path parameters, the query string and form fields (see the module's docstring).

    It runs inside routing (so it knows the route's parameters) and before CSRF and the
    handlers; its errors go through the app's exception handlers like any other.
    """

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        check_path_params(scope.get("path_params") or {})
        query = scope.get("query_string", b"")
        form_possible = scope.get("method") in _BODY_METHODS and not scope.get(
            "path", ""
        ).startswith(API_PREFIX)  # the API takes JSON, read after its key is checked
        if query or form_possible:  # else (the counter API's hot path) nothing to read
            request = EdgeRequest(scope, receive, send)
            _refuse_controls(request.query_params.multi_items())
            if form_possible and request.content_type[0] in _FORMS:
                try:
                    form = await request.form()  # kept in the scope: CSRF and handlers reuse it
                except UnicodeDecodeError:
                    raise FormUnreadable(FORM_UNREADABLE_MESSAGE) from None
                try:
                    _refuse_controls(form.multi_items())
                except ControlCharacter:
                    await form.close()  # the route would have closed uploaded files
                    raise
        await next_app(scope, receive, send)


def check_path_params(params: dict[str, Any]) -> None:
    """404 for an integer outside ``ID_MIN..ID_MAX``; 400 for text with a control character."""
    for name, value in params.items():
        if isinstance(value, int) and not ID_MIN <= value <= ID_MAX:
            raise NotFoundException
        if isinstance(value, str) and has_control(value):
            raise ControlCharacter(CONTROL_CHARACTER_MESSAGE, field=name)
