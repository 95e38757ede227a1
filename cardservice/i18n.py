"""Text in the page's language: the gettext catalogs, Japanese by default, and English.

The catalogs are the ``.po`` files under ``cardservice/locale``; they are compiled in memory
the first time a language is used, so there are no ``.mo`` files to forget to rebuild.
Domains mark their words with :func:`N_` and translate them with :func:`gettext`; templates
call ``_()`` (:func:`install`), one Jinja environment serving both languages because the
gettext callables read the language from the template context. Which language a request
asks for is the web edge's business (``cardservice.web.i18n``).
"""

from __future__ import annotations

from functools import lru_cache
from io import BytesIO
from pathlib import Path
from typing import Final, Literal

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from jinja2 import Environment, pass_context
from jinja2.runtime import Context

Lang = Literal["ja", "en"]
LANGUAGES: Final[tuple[Lang, ...]] = ("ja", "en")
DEFAULT_LANGUAGE: Final[Lang] = "ja"
LOCALE_DIR: Final = Path(__file__).resolve().parent / "locale"
# ``?lang=en``: the language a page is asked for in its address (the switch link, and the
# links in English emails); the page then remembers it in a cookie.
LANG_QUERY: Final = "lang"
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


def in_language(url: str, lang: str) -> str:
    """``url``, a page of this service, asked for in ``lang`` (``?lang=en``), so that it
    opens in that language in any browser; Japanese, the default, needs nothing."""
    if lang == DEFAULT_LANGUAGE or as_language(lang) is None:
        return url
    address, hash_mark, fragment = url.partition("#")  # the query goes before a fragment
    joined = f"{address}{'&' if '?' in address else '?'}{LANG_QUERY}={lang}"
    return joined + hash_mark + fragment


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
