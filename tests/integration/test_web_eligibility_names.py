"""The application form names places in the page's language: the residence choice and the
eligibility errors read Matsudo and Nakahara Ward, Kawasaki on an English page, 松戸市 and
川崎市中原区 on a Japanese one (the profile's municipality_names_en)."""

from __future__ import annotations

import re
from html import unescape

import pytest

from cardservice.services import Services
from tests.registration_flow import FORMS
from tests.web_apply_support import agree, applicant_client, open_draft, post_form
from tests.web_support import Client

__all__ = ["applicant_client"]  # the fixture, used by name

CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")


def error_of(html: str, field: str) -> str:
    found = re.search(rf'<p class="field-error" id="{field}-error"[^>]*>(.*?)</p>', html, re.S)
    assert found is not None, html
    return unescape(re.sub(r"<[^>]+>", "", found.group(1))).strip()


@pytest.fixture
def profile_name() -> str:
    return "yokohama"


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("en", "Residents of Nakahara Ward, Kawasaki use the library under the wide-area"),
        ("ja", "川崎市中原区にお住まいのかたは広域利用の対象のため"),
    ],
)
async def test_a_wide_area_resident_reads_their_city_in_the_page_language(
    client: Client, services: Services, lang: str, expected: str
) -> None:
    await open_draft(client, services)
    await agree(client, services)
    await client.get(f"/apply/form?lang={lang}")  # the page language, kept in the cookie
    kawasaki = {"postal_code": "211-0004", "prefecture": "神奈川県", "city": "川崎市中原区"}
    page = await post_form(client, {**FORMS["yokohama"], "procedure": "new", **kawasaki})
    assert page.status_code == 400, page.text
    assert f'<html lang="{lang}">' in page.text
    error = error_of(page.text, "basis")
    assert expected in error
    if lang == "en":
        assert not CJK.search(error), error


@pytest.mark.parametrize("profile_name", ["kashiwa"])
async def test_kashiwas_neighbours_are_named_in_english(
    client: Client, services: Services, profile_name: str
) -> None:
    await open_draft(client, services)
    await agree(client, services)
    english = (await client.get("/apply/form?lang=en")).text
    choice = re.search(r'value="lives"[^>]*>\s*<span>(.*?)</span>', english, re.S)
    assert choice is not None, english
    assert "Matsudo" in choice.group(1)
    assert not CJK.search(choice.group(1)), choice.group(1)
    japanese = (await client.get("/apply/form?lang=ja")).text
    assert "松戸市" in japanese
