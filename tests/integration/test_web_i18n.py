"""Pages speak Japanese by default and English on request; every string is in both catalogs."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from cardservice.i18n import LANGUAGES, catalog_path, translations
from cardservice.mail.errors import MailNotFailed, MailNotFound
from cardservice.services import Services
from cardservice.staff.service import StaffBadCredentials, StaffForbidden, StaffLoginLimited
from cardservice.web import staff, staff_mail
from tests.web_support import Client, web_client, with_free_catcher_port

ROOT = Path(__file__).resolve().parents[2]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None, "translate": (2,)}


@pytest.fixture
async def client(services: Services) -> AsyncIterator[Client]:
    async with web_client(with_free_catcher_port(services.settings), mail=False) as running:
        yield running


async def test_japanese_by_default(client: Client) -> None:
    page = await client.get("/")
    assert page.status_code == 200
    assert '<html lang="ja">' in page.text
    assert "オンライン利用者登録" in page.text
    assert "横浜市立みなと図書館" in page.text
    assert 'href="/?lang=en"' in page.text
    assert "lang" not in page.cookies


async def test_query_chooses_english_and_the_cookie_remembers(client: Client) -> None:
    english = await client.get("/?lang=en")
    assert '<html lang="en">' in english.text
    assert "Library card online" in english.text
    assert "Yokohama Minato Library" in english.text
    assert english.cookies["lang"] == "en"

    again = await client.get("/")  # no query: the cookie decides
    assert '<html lang="en">' in again.text

    back = await client.get("/?lang=ja")
    assert '<html lang="ja">' in back.text
    assert client.cookies["lang"] == "ja"


async def test_unknown_language_is_ignored(client: Client) -> None:
    page = await client.get("/?lang=fr")
    assert '<html lang="ja">' in page.text
    assert "lang" not in page.cookies
    client.cookies.set("lang", "xx")
    assert '<html lang="ja">' in (await client.get("/")).text


async def test_switch_link_keeps_the_rest_of_the_query(client: Client) -> None:
    # A page without a form to keep: the switch is a link with the rest of the query.
    page = await client.get("/?ref=poster&lang=en")
    assert 'href="/?ref=poster&amp;lang=ja"' in page.text
    # A page with one: the switch is a button of the form, whose fields carry the rest.
    page = await client.get("/staff/login?next=/staff/mail&lang=en")
    assert 'name="next" value="/staff/mail"' in page.text
    assert 'formaction="/staff/login?lang=ja" name="_lang_switch"' in page.text


async def test_error_pages_are_localized(client: Client) -> None:
    html = {"Accept": "text/html"}
    japanese = await client.get("/no/such/page", headers=html)
    assert japanese.status_code == 404
    assert "このページは見つかりません。" in japanese.text
    assert "<code>not_found</code>" in japanese.text
    english = await client.get("/no/such/page?lang=en", headers=html)
    assert "This page does not exist." in english.text
    # A message without a title of its own is the heading, said once.
    for page, words in (
        (japanese, "このページは見つかりません。"),
        (english, "This page does not exist."),
    ):
        main = page.text.split("<main", 1)[1]
        assert main.count(words) == 1
        assert f"<h1>{words}</h1>" in main


def _source_messages() -> set[str]:
    found: set[str] = set()
    for folder, method in (("cardservice", "python"), ("cardservice/templates/pages", "jinja2")):
        mapping = [("**.py" if method == "python" else "**.html", method)]
        options = {"**.html": {"extensions": "jinja2.ext.i18n"}}
        for _, _, message, _, _ in extract_from_dir(
            ROOT / folder, mapping, options_map=options, keywords=KEYWORDS
        ):
            found.add(_first(message))
    return found


@pytest.fixture(scope="module")
def catalogs() -> dict[str, dict[str, str]]:
    result: dict[str, dict[str, str]] = {}
    for lang in LANGUAGES:
        with catalog_path(lang).open("rb") as source:
            catalog = read_po(source)
        result[lang] = {_first(m.id): _first(m.string) for m in catalog if m.id and not m.fuzzy}
    return result


def _first(text: object) -> str:
    """A message's text, or the singular of a plural one."""
    if isinstance(text, list | tuple):
        return str(text[0])
    return str(text or "")


def test_every_page_string_is_in_both_catalogs(catalogs: dict[str, dict[str, str]]) -> None:
    used = _source_messages()
    assert len(used) > 40  # the extraction found the pages at all
    for lang in LANGUAGES:
        assert set(catalogs[lang]) == used, f"{lang}: run pybabel update (see babel.cfg)"
    untranslated = sorted(msgid for msgid, text in catalogs["ja"].items() if not text)
    assert untranslated == []


def test_japanese_catalog_is_japanese(catalogs: dict[str, dict[str, str]]) -> None:
    for msgid, text in catalogs["ja"].items():
        assert text != msgid, msgid
        assert any("\u3040" <= ch <= "\u9fff" for ch in text), msgid


def test_catalog_placeholders_match(catalogs: dict[str, dict[str, str]]) -> None:
    placeholder = re.compile(r"%\(\w+\)[sd]")
    for msgid, text in catalogs["ja"].items():
        assert sorted(placeholder.findall(text)) == sorted(placeholder.findall(msgid)), msgid


def test_marked_error_messages_are_the_errors_own() -> None:
    errors = [StaffBadCredentials, StaffLoginLimited, StaffForbidden, MailNotFound, MailNotFailed]
    assert [error().message for error in errors] == [
        *staff.ERROR_MESSAGES,
        *staff_mail.ERROR_MESSAGES,
    ]
    for message in [*staff.ERROR_MESSAGES, *staff_mail.ERROR_MESSAGES]:
        assert translations("ja").gettext(message) != message
