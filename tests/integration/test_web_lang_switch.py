"""Switching language mid-form keeps what was typed, on every page with a form, on both
engines; and the postal code's errors stand next to the field.

A switch is the page's form posted to its own address with ``?lang=`` and ``_lang_switch=1``
(what ``static/lang.js`` sends for the header's language link): the answer is the same form
in the other language, filled in as sent, and nothing is done with it (no mail, no login, no
saved draft or choice). Each page is switched both ways. A last test reads the templates, so
a new form with fields to type in cannot be left out.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from cardservice.mail.models import OutboxRow
from cardservice.registration.models import RejectionTemplate
from cardservice.services import Services
from cardservice.staff.models import Role
from cardservice.web.i18n import LANG_SWITCH_FIELD
from tests.factories import make_card
from tests.registration_flow import EMAIL, FORMS, ask, outbox, submitted_application
from tests.unit.patrons.support import log_in, make_patron
from tests.web_apply_support import agree, applications, open_draft
from tests.web_support import (
    Client,
    csrf_from,
    login,
    make_staff,
    web_client,
    with_free_catcher_port,
)

TEMPLATES = Path(__file__).resolve().parents[2] / "cardservice" / "templates" / "pages"
SWITCH = {LANG_SWITCH_FIELD: "1"}


@pytest.fixture
def profile_name() -> str:
    return "yokohama"


@pytest.fixture
async def client(services: Services) -> AsyncIterator[Client]:
    async with web_client(with_free_catcher_port(services.settings), mail=False) as running:
        yield running


async def switch(client: Client, page: str, action: str, lang: str, data: dict[str, str]) -> Any:
    """Open ``page`` and switch its form (posted to ``action``) to ``lang`` with ``data``."""
    opened = await client.get(page)
    assert opened.status_code == 200, opened.text
    sent = {**data, **SWITCH, "_csrf_token": csrf_from(opened.text)}
    answer = await client.post(f"{action}?lang={lang}", data=sent)
    assert answer.status_code == 200, answer.text
    assert f'<html lang="{lang}">' in answer.text
    assert f"lang={lang}" in answer.headers.get("set-cookie", "")  # the choice is kept
    return answer


async def both_ways(
    client: Client, page: str, action: str, data: dict[str, str], shown: list[str]
) -> None:
    """Switch to English and back to Japanese; each answer shows every text of ``shown``."""
    for lang in ("en", "ja"):
        answer = await switch(client, page, action, lang, data)
        for text in shown:
            assert text in answer.text, (lang, page, text)


async def post_form(client: Client, page: str, data: dict[str, str]) -> Any:
    """``data`` sent as the form on ``page``, to the page itself (no language switch)."""
    opened = await client.get(page)
    return await client.post(page, data={**data, "_csrf_token": csrf_from(opened.text)})


def value_of(html: str, field: str) -> str:
    found = re.search(rf'<input id="{field}" name="{field}"[^>]*value="([^"]*)"', html)
    assert found is not None, field
    return unescape(found.group(1))


async def mail_count(services: Services) -> int:
    return len(await outbox(services))


# --- the applicant's pages ---------------------------------------------------------------


async def test_the_application_pages_keep_what_was_typed(
    client: Client, services: Services
) -> None:
    typed = "typed.before.switching@example.org"
    await both_ways(client, "/apply", "/apply", {"email": typed}, [f'value="{typed}"'])
    assert await mail_count(services) == 0  # nothing was sent to the address

    await open_draft(client, services)
    ticked = 'id="agree" name="agree" type="checkbox" value="on" checked'
    await both_ways(client, "/apply/notes", "/apply/notes", {"agree": "on"}, [ticked])
    (draft,) = await applications(services)
    assert draft.consented_at is None  # a switch records no consent
    answer = await switch(client, "/apply/notes", "/apply/notes", "en", {"version": "x"})
    assert ticked not in answer.text  # an unticked box stays unticked

    assert (await agree(client, services)).status_code == 303
    form = {**FORMS[services.settings.profile.id], "procedure": "new", "street": "本町1-1 (仮)"}
    form |= {"basis": "lives", "notify_overdue": "on", "postal_code": "231 - 0005"}
    kept = [
        'name="family_name" type="text" value="山田"',
        'name="family_kana" type="text" value="やまだ"',
        'value="本町1-1 (仮)"',
        'value="231 - 0005"',
        'value="1990-04-01"',
        '<option value="神奈川県" selected>',
        'value="lives" checked',
        'name="notify_overdue" type="checkbox" value="on" checked',
    ]
    await both_ways(client, "/apply/form", "/apply/form", form, kept)
    english = await switch(client, "/apply/form", "/apply/form", "en", form)
    assert "Your details" in english.text
    assert 'class="field-error"' not in english.text  # not checked: no errors
    assert form["password"] not in english.text  # a password is never sent back
    (draft,) = await applications(services)
    assert draft.family_name in ("", None)  # nothing saved

    await postal_code_errors_then_spaces(client, services)


# --- the postal code ---------------------------------------------------------------------


async def postal_code_errors_then_spaces(client: Client, services: Services) -> None:
    """An unknown and a short code: the error next to the field, the page starting at the
    summary; then "231 - 0005" is saved."""
    form = {**FORMS[services.settings.profile.id], "procedure": "new", "basis": "lives"}
    looked_up = await client.get("/apply/postal", params={"code": "231 - 0005"})
    assert looked_up.json() == {"prefecture": "神奈川県", "city": "横浜市中区"}

    for code, message in (
        ("999-9999", "999-9999"),  # no such code: the message names it
        ("231-000", "7"),  # too short: "7 digits" (the last switch chose English)
    ):
        page = await client.get("/apply/form")
        sent = {**form, "postal_code": code, "_csrf_token": csrf_from(page.text)}
        answer = await client.post("/apply/form", data=sent)
        assert answer.status_code == 400
        html = answer.text
        error = re.search(r'<p class="field-error" id="postal_code-error">([^<]*)</p>', html)
        assert error is not None, code
        assert message in unescape(error.group(1))
        # Visible next to the field: the paragraph stands just before the field's row...
        assert re.search(
            r'id="postal_code-error">[^<]*</p>\s*<div class="inline">\s*<input id="postal_code"',
            html,
        )
        assert 'class="visually-hidden" id="postal_code-error"' not in html
        field = re.search(r'<input id="postal_code"[^>]*>', html)
        assert field is not None
        assert 'aria-invalid="true"' in field.group(0)
        assert "postal_code-error" in field.group(0)  # ...and the field names it
        assert value_of(html, "postal_code") == code  # kept as typed
        # The page starts at the error summary, which links to the field.
        summary = re.search(r'<div class="error-summary"[^>]*>', html)
        assert summary is not None
        assert "autofocus" in summary.group(0)
        assert 'tabindex="-1"' in summary.group(0)
        assert 'href="#postal_code"' in html

    page = await client.get("/apply/form")
    spaced = {**form, "postal_code": "231 - 0005", "_csrf_token": csrf_from(page.text)}
    saved = await client.post("/apply/form", data=spaced)
    assert (saved.status_code, saved.headers["location"]) == (303, "/apply/documents")
    (draft,) = await applications(services)
    assert draft.postal_code == "2310005"


# --- patrons: login, recovery, My Library ------------------------------------------------


async def test_login_recovery_and_my_library_keep_what_was_typed(
    client: Client, services: Services
) -> None:
    await make_patron(services)
    number = "1234567890"
    login_kept = [f'value="{number}"', 'name="keep" type="checkbox" value="on" checked']
    data = {"login": number, "password": "not sent back", "keep": "on"}
    await both_ways(client, "/login", "/login", data, [login_kept[0]])
    answer = await switch(client, "/login", "/login", "en", data)
    assert "not sent back" not in answer.text
    assert 'class="error"' not in answer.text  # no login was tried
    assert (await client.get("/my")).status_code == 303  # and nobody is logged in
    wrong = await post_form(client, "/login", {"login": EMAIL, "password": "wrong"})
    assert wrong.status_code == 401
    assert re.search(
        r'<p class="error" role="alert" tabindex="-1" autofocus id="login-error">', wrong.text
    )
    assert f'value="{EMAIL}"' in wrong.text  # kept, and the page starts at the error

    data = {"email": EMAIL, "birth_date": "1990-04-01"}
    await both_ways(client, "/forgot-number", "/forgot-number", data, [f'value="{EMAIL}"'])
    await both_ways(client, "/password/forgot", "/password/forgot", {"login": EMAIL}, [EMAIL])
    assert await mail_count(services) == 0

    await log_in(client, EMAIL)
    choices = {"notify_new_arrivals": "on"}
    ticked = 'name="notify_new_arrivals" type="checkbox" value="on" checked'
    await both_ways(client, "/my", "/my/notifications", choices, [ticked])
    saved = await client.get("/my?lang=ja")
    assert ticked not in saved.text  # the switch saved nothing
    new = "hanako.new@example.org"
    await both_ways(client, "/my/email", "/my/email", {"email": new}, [f'value="{new}"'])
    assert await mail_count(services) == 0


# --- staff pages -------------------------------------------------------------------------


async def test_staff_forms_and_an_answer_keep_what_was_typed(
    client: Client, services: Services
) -> None:
    staff = await make_staff(services, "kanri", Role.ADMIN, display_name="管理 太郎")
    data = {"username": "kanri", "password": "not sent back"}
    await both_ways(client, "/staff/login", "/staff/login", data, ['value="kanri"'])
    assert (await client.get("/staff")).status_code in (302, 303)  # not logged in
    await login(client, "kanri")

    notice = {"subject_ja": "臨時休館", "body_ja": "本日は休館します。"}
    new = "/staff/notices/new"
    await both_ways(client, new, "/staff/notices/preview", notice, ['value="臨時休館"'])

    reason = {"code": "blurred_again", "text_ja": "写真がぼやけています。", "text_en": "Blurred."}
    templates = "/staff/rejection-templates"
    await both_ways(client, templates, templates, reason, ['value="blurred_again"', "Blurred."])
    async with services.db.read() as session:
        made = await session.scalars(select(RejectionTemplate))
        assert [t.code for t in made] == []  # nothing added

    public_id = await submitted_application(services, "taro@example.org")
    page = f"/staff/applications/{public_id}"
    question = "裏面の住所をもう一度撮ってください。"
    await both_ways(client, page, f"{page}/inquiry", {"question": question}, [question])
    text = "申請内容を確認できませんでした。"
    await both_ways(client, page, f"{page}/reject", {"template_id": "", "text": text}, [text])
    async with services.db.read() as session:
        sent = await session.scalars(select(OutboxRow.template))
        assert "inquiry" not in list(sent)  # no question went out

    card = await make_card(services, email="desk@example.org")
    action = f"/staff/patrons/{card.patron_id}/cards/{card.id}/reissue"
    data = {"reason": "name_changed", "family_name": "佐藤", "given_name": "花子"}
    await both_ways(client, action, action, data, ['value="佐藤"', 'value="name_changed"'])

    # The applicant's answer to a question: a multipart form (no file chosen).
    page = f"/apply/answer/{await ask(services, public_id, staff)}"
    written = "住所欄を撮り直しました。 <よろしく>"
    for lang in ("en", "ja"):
        opened = await client.get(page)
        answer = await client.post(
            f"{page}?lang={lang}",
            data={"answer": written, **SWITCH, "_csrf_token": csrf_from(opened.text)},
            files={"file": ("", b"", "application/octet-stream")},
        )
        assert answer.status_code == 200, answer.text
        assert f'<html lang="{lang}">' in answer.text
        assert "住所欄を撮り直しました。 &lt;よろしく&gt;</textarea>" in answer.text
    assert len(await outbox(services, "inquiry_answered")) == 0


# --- every form is covered ---------------------------------------------------------------

# Forms whose fields a switch need not carry, each with why ("page#text": the form on that
# page whose attributes hold the text). Fields of included templates count as their page's.
NOTHING_TO_KEEP = {
    "apply/form.html#procedure-choice": "a GET choice shown in the address; the form below "
    "carries the procedure",
    "staff/application.html#patron-form": "one choice from a list, then a button",
    "staff/application.html#/approve": "a confirmation box and a button",
    "staff/counter.html#scan-form": "a scanner's one field, sent as soon as it is scanned",
    "staff/webhook_detail.html#/secret": "one choice from a list, then a button",
}
_FORM = re.compile(r"<form\b([^>]*)>(.*?)</form>", re.S)
_TYPED = re.compile(r'<textarea|<select|<input(?![^>]*type="(?:hidden|file|password)")', re.S)


def _with_includes(text: str) -> str:
    return re.sub(
        r'{% include "pages/([^"]+)" %}', lambda m: (TEMPLATES / m.group(1)).read_text(), text
    )


def test_every_form_with_fields_to_type_in_keeps_them() -> None:
    missing = []
    for template in sorted(TEMPLATES.rglob("*.html")):
        name = str(template.relative_to(TEMPLATES))
        if template.name.startswith("_"):
            continue  # a part: its forms are read in the pages that include it
        for attributes, body in _FORM.findall(_with_includes(template.read_text())):
            if not _TYPED.search(body) or "data-lang-keep" in attributes:
                continue
            if any(
                key.startswith(f"{name}#") and key.split("#", 1)[1] in attributes
                for key in NOTHING_TO_KEEP
            ):
                continue
            missing.append(f"{name}: <form{attributes}>")
    assert missing == []
