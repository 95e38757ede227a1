"""The header's language switch on a page with a form is a button of that form, so a switch
keeps what was typed without JavaScript (templates/pages/base.html): it posts the form to its
own address with ?lang= and _lang_switch=1, or, for a GET form, adds lang= to its fields.
A hidden plain submit button comes before it, so Enter in a field still sends the form
itself. Pages without a form keep the plain link. The browser side (JavaScript off and on)
is tests/e2e/test_lang_switch_nojs_browser.py.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from html import unescape
from pathlib import Path

import pytest

from cardservice.services import Services
from cardservice.web.i18n import LANG_SWITCH_FIELD
from tests.web_support import Client, csrf_from, web_client, with_free_catcher_port

TEMPLATES = Path(__file__).resolve().parents[2] / "cardservice" / "templates" / "pages"
_SET = re.compile(
    r'{% set lang_keep = {"form": ("[^"]+"|[^,]+), "action": ([^,]+), '
    r'"method": "(post|get)"} %}'
)
_BUTTON = re.compile(r'<button type="submit" class="lang-switch"([^>]*)>([^<]*)</button>')


@pytest.fixture
async def client(services: Services) -> AsyncIterator[Client]:
    async with web_client(with_free_catcher_port(services.settings), mail=False) as running:
        yield running


def attributes(tag: str) -> dict[str, str]:
    return {k: unescape(v) for k, v in re.findall(r'([\w-]+)="([^"]*)"', tag)}


def _with_includes(text: str) -> str:
    return re.sub(
        r'{% include "pages/([^"]+)" %}', lambda m: (TEMPLATES / m.group(1)).read_text(), text
    )


def test_every_page_with_a_form_to_keep_names_it_for_the_switch() -> None:
    """A page with a data-lang-keep form sets lang_keep to one of them, by its id."""
    problems = []
    for template in sorted(TEMPLATES.rglob("*.html")):
        if template.name.startswith("_") or template.name == "base.html":
            continue  # a part: read in the pages that include it; the layout reads lang_keep
        text = _with_includes(template.read_text())
        # The history and audit filters' ids: "{{ filter_id }}-filter", filter_id set above.
        for filter_id in re.findall(r'{% set filter_id = "([^"]+)" %}', text):
            text = text.replace("{{ filter_id }}", filter_id)
        kept = re.findall(r"<form\b[^>]*data-lang-keep[^>]*>", text)
        named = [m.group(1).strip('"') for m in _SET.finditer(text)]
        if not kept:
            assert not named, template
            continue
        ids = {attributes(tag).get("id", "") for tag in kept}
        if not named:
            problems.append(f"{template.name}: no lang_keep")
        problems += [
            f"{template.name}: lang_keep names {form_id}, not a form kept on the page"
            for form_id in named
            if form_id not in ids
        ]
    assert problems == []


async def test_the_switch_is_a_button_of_the_form_in_both_languages(client: Client) -> None:
    for lang, other, label in (("ja", "en", "English"), ("en", "ja", "日本語")):
        page = await client.get(f"/apply?lang={lang}")
        html = page.text
        found = _BUTTON.search(html)
        assert found is not None, html
        button = attributes(found.group(1))
        assert found.group(2) == label
        assert button["form"] == "start-form"
        assert button["formaction"] == f"/apply?lang={other}"
        assert (button["name"], button["value"]) == (LANG_SWITCH_FIELD, "1")
        assert "formnovalidate" in found.group(1)
        assert re.search(r'<form method="post" action="/apply"[^>]* id="start-form"', html)
        assert 'class="lang-switch" href=' not in html  # not the plain link as well
        # Enter presses the first submit button of the form in the page: a plain one.
        first = re.search(r'<button type="submit"[^>]*form="start-form"[^>]*>', html)
        assert first is not None
        assert 'class="default-submit"' in first.group(0)
        assert html.index(first.group(0)) < html.index(found.group(0))

        # What the browser sends when the button is pressed: the same page in the other
        # language, the address as typed, nothing sent to it.
        typed = "typed.without.script@example.org"
        sent = {"email": typed, "_csrf_token": csrf_from(html), button["name"]: button["value"]}
        answer = await client.post(button["formaction"], data=sent)
        assert answer.status_code == 200, answer.text
        assert f'<html lang="{other}">' in answer.text
        assert f'value="{typed}"' in answer.text


async def test_a_page_without_a_form_keeps_the_link(client: Client) -> None:
    html = (await client.get("/?lang=en")).text
    assert re.search(r'<a class="lang-switch" href="/\?lang=ja" hreflang="ja"', html)
    assert 'class="lang-switch" form=' not in html
    assert "default-submit" not in html
