"""A form sent after its sender's login ended comes back as typed once they log in again.

A staff member's login ends 12 hours after it was made, or at once when their password is
changed or their account disabled. A form they send after that (a rejection reason, a notice,
a question to an applicant) cannot be acted on. Rather than send them to the login page with
what they typed gone, the login page carries the form's fields in hidden fields of its own
(in the page their browser holds: nothing is stored on the server), and once they have logged
in their browser posts the fields back to the form's address as a language switch does
(``_lang_switch=1``, ``web/i18n.py``): the handler shows its page again, filled in as sent,
and does nothing else. They check it and send it.

Only a route marked :data:`KEEPS_TYPED` is resumed so: its handler answers a switch with the
form and acts on nothing (a test holds every such route to it). A route that acts at once on
a form of hidden fields (sending a previewed notice) is marked :func:`keeps_typed_at` the
address that shows that form again instead. A form of another route (a button with nothing
typed) goes to the login page and back to where it was, as before. A file chosen for upload
cannot be kept (a browser is never handed one back), and a password is never kept: it would
travel in a page's hidden field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

import msgspec
from litestar import Request
from litestar.response import Template

from cardservice.web.i18n import LANG_QUERY, LANG_SWITCH_FIELD, Lang, language
from cardservice.web.pages import render

# A route's ``opt``: its handler answers a language switch with its form, filled in as sent.
KEEPS_TYPED: Final = {"keeps_typed": True}


def keeps_typed_at(path: str) -> dict[str, str]:
    """A route's ``opt``: a form it was sent comes back by a switch posted to ``path`` (a
    route marked :data:`KEEPS_TYPED` taking the same fields), not to the route itself."""
    return {"keeps_typed": path}


# The login form's hidden field holding the kept form: a JSON array of [name, value] pairs.
KEPT_FIELD: Final = "kept"
# The most a kept form may hold (characters of its JSON text): any form of these pages fits.
KEPT_MAX_LENGTH: Final = 100_000
# Fields a kept form never carries back: a fresh token is given, and the switch is added.
_NOT_KEPT: Final = frozenset({"_csrf_token", LANG_SWITCH_FIELD})

_PAIRS = msgspec.json.Decoder(list[tuple[str, str]])
_FIELD_ID = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")


@dataclass(frozen=True)
class Kept:
    """A form to give back: ``text`` the JSON of its ``[name, value]`` pairs, in the order
    sent, and ``path`` the address that shows it again (its own, or the route's
    :func:`keeps_typed_at`)."""

    text: str
    path: str


async def kept_form(request: Request[Any, Any, Any], this_page: str) -> Kept | None:
    """The typed fields of this request's form, when it is a POST to a route marked
    :data:`KEEPS_TYPED` or :func:`keeps_typed_at` (``this_page``: its path and query); else
    None (nothing to keep: the usual redirect to the login page)."""
    handler = request.scope.get("route_handler")
    marked = handler.opt.get("keeps_typed") if handler is not None else None
    if request.method != "POST" or not marked:
        return None
    form = await request.form()  # parsed once per request; the handler's data shares it
    pairs = [
        (name, value)
        for name, value in form.multi_items()
        if isinstance(value, str) and _keepable(name)
    ]
    text = msgspec.json.encode(pairs).decode()
    if not pairs or len(text) > KEPT_MAX_LENGTH:
        return None
    return Kept(text, marked if isinstance(marked, str) else this_page)


def kept_pairs(text: str) -> list[tuple[str, str]]:
    """The ``[name, value]`` pairs of a kept form's JSON text; [] for "" or for anything that
    is not such a list. The field comes back from the browser, so it is read, never trusted:
    a pair that could not have been kept (a token, the switch, a password) is dropped."""
    if not text or len(text) > KEPT_MAX_LENGTH:
        return []
    try:
        pairs = _PAIRS.decode(text)
    except msgspec.DecodeError:
        return []
    return [(name, value) for name, value in pairs if _keepable(name)]


def _keepable(name: str) -> bool:
    return name not in _NOT_KEPT and "password" not in name


def switch_address(path: str, lang: Lang, field: str = "") -> str:
    """``path`` (a path and maybe a query) with ``?lang=`` for ``lang``: where a kept form
    is posted back, as the header's language switch posts a form; with ``#field`` when the
    form's first field is given (the page's fields have their names as ids), so that the
    browser shows the form, not the top of a long page."""
    fragment = f"#{field}" if _FIELD_ID.fullmatch(field) else ""
    return f"{path}{'&' if '?' in path else '?'}{LANG_QUERY}={lang}{fragment}"


def login_context(kept: str) -> dict[str, Any]:
    """What a login page's template needs of a kept form (``pages/_kept.html``): the JSON
    text, "" when it is not a list of pairs, and the name of its field."""
    return {"kept": kept if kept_pairs(kept) else "", "kept_field": KEPT_FIELD}


def resume_page(request: Request[Any, Any, Any], next_path: str, kept: str) -> Template | None:
    """Logged in again, with a kept form to give back to ``next_path`` (already checked to
    be a page of the login's own area): the page whose form posts it back there as a
    language switch, sent by its script or its button, so that it comes back filled in and
    nothing is done yet. None when ``kept`` holds no pairs."""
    pairs = kept_pairs(kept)
    if not pairs:
        return None
    return render(
        request,
        "pages/resume.html",
        action=switch_address(next_path, language(request), pairs[0][0]),
        pairs=pairs,
        switch_field=LANG_SWITCH_FIELD,
    )
