"""Page languages: Japanese by default, English on request, through gettext catalogs.

The catalogs are the ``.po`` files under ``cardservice/locale``; they are compiled in memory
the first time a language is used, so there are no ``.mo`` files to forget to rebuild. The
language of a request is ``?lang=`` if given (the page then sets the ``lang`` cookie), else
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

from functools import lru_cache
from io import BytesIO
from pathlib import Path
from typing import Any, Final, Literal

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from jinja2 import Environment, pass_context
from jinja2.runtime import Context
from litestar import Request

Lang = Literal["ja", "en"]
LANGUAGES: Final[tuple[Lang, ...]] = ("ja", "en")
DEFAULT_LANGUAGE: Final[Lang] = "ja"
LANG_COOKIE: Final = "lang"
LANG_QUERY: Final = "lang"
LANG_SWITCH_FIELD: Final = "_lang_switch"  # the form field of a language switch (lang.js)
LOCALE_DIR: Final = Path(__file__).resolve().parents[1] / "locale"
DOMAIN: Final = "messages"


def catalog_path(lang: Lang) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@lru_cache(maxsize=len(LANGUAGES))
def translations(lang: Lang) -> Translations:
    """The compiled catalog of ``lang``; fuzzy entries are left out, as msgfmt does."""
    with catalog_path(lang).open("rb") as source:
        catalog = read_po(source, locale=lang, domain=DOMAIN)
    compiled = BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def as_language(value: str | None) -> Lang | None:
    for lang in LANGUAGES:
        if value == lang:
            return lang
    return None


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


def N_(message: str) -> str:  # noqa: N802  # the gettext convention for "mark only"
    """Mark ``message`` for the catalog without translating it yet."""
    return message


def gettext(lang: Lang, message: str) -> str:
    return translations(lang).gettext(message)


def ngettext(lang: Lang, singular: str, plural: str, count: int) -> str:
    return translations(lang).ngettext(singular, plural, count)


def _context_language(context: Context) -> Lang:
    return as_language(context.get("lang")) or DEFAULT_LANGUAGE


@pass_context
def _template_gettext(context: Context, message: str) -> str:
    return gettext(_context_language(context), message)


@pass_context
def _template_ngettext(context: Context, singular: str, plural: str, count: int) -> str:
    return ngettext(_context_language(context), singular, plural, count)


def install(env: Environment) -> None:
    """Give ``env`` the i18n extension, translating into each template's ``lang``."""
    env.add_extension("jinja2.ext.i18n")
    # New-style gettext: ``_("Hello %(name)s", name=x)`` escapes ``x`` under autoescape.
    env.install_gettext_callables(  # type: ignore[attr-defined]  # added by the extension
        _template_gettext, _template_ngettext, newstyle=True
    )
