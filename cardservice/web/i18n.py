"""The language a request asks for; the catalogs themselves are ``cardservice.i18n``.

The language of a request is ``?lang=`` if given (the page then sets the ``lang`` cookie), else
the cookie, else Japanese. Templates call ``_()``; one Jinja environment serves both languages
because the gettext callables read the language from the template context.

Switching language keeps what was typed: on a page whose form is marked
``data-lang-keep``, ``static/lang.js`` turns the switch link into a post of that form to
its own address with ``?lang=`` and ``_lang_switch=1`` (:func:`switching_language`). The
form's handler then shows the same form again, in the new language, filled in as sent,
without errors and without acting on it (nothing saved, nothing sent); a GET form is simply
reloaded with its fields in the query.
"""

from __future__ import annotations

from typing import Any, Final

from litestar import Request

from cardservice.i18n import (
    DEFAULT_LANGUAGE,
    LANG_QUERY,
    LANGUAGES,
    N_,
    Lang,
    as_language,
    gettext,
    install,
    ngettext,
    translations,
)

LANG_COOKIE: Final = "lang"
LANG_SWITCH_FIELD: Final = "_lang_switch"  # the form field of a language switch (lang.js)


def requested_language(request: Request[Any, Any, Any]) -> Lang | None:
    """The language asked for in this request's query (``?lang=en``), if any."""
    return as_language(request.query_params.get(LANG_QUERY))


async def switching_language(request: Request[Any, Any, Any]) -> bool:
    """Whether this is a language switch carrying a form: a POST to ``?lang=`` whose form
    has ``_lang_switch=1``. Its handler answers with the form again, filled in as sent, and
    does nothing else. (A POST to ``?lang=`` without the field is sent as usual, answered in
    that language.)"""
    if request.method != "POST" or requested_language(request) is None:
        return False
    form = await request.form()  # parsed once per request; the handler's data shares it
    return form.get(LANG_SWITCH_FIELD) == "1"


def language(request: Request[Any, Any, Any]) -> Lang:
    """The page language: the query, else the cookie, else Japanese."""
    return (
        requested_language(request)
        or as_language(request.cookies.get(LANG_COOKIE))
        or DEFAULT_LANGUAGE
    )


# The catalog side is re-exported for the page modules, which take both from here.
__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "LANG_COOKIE",
    "LANG_QUERY",
    "LANG_SWITCH_FIELD",
    "N_",
    "Lang",
    "as_language",
    "gettext",
    "install",
    "language",
    "ngettext",
    "requested_language",
    "switching_language",
    "translations",
]
