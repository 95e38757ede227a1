"""What a phone applicant walking through registration ran into, over HTTP on both engines.

- The review page of a student (在学) with a workplace or school and an extra document wrote
  「在学 (横浜市立みなと高校)」 and 「マイナンバーカード (おもて)」 with ASCII parentheses in
  Japanese; the label filter ``parens`` now writes （…） in Japanese and " (…)" in English.
- The documents page's remove buttons told a screen reader "Remove extra front".
- The reviewer's page named the procedure 申請内容 (the application's details).
- The fourth step's name, 本人確認書類, broke over two lines on a phone.
- The email's link tapped a second time in the browser that opened it said "this link has
  been used, ask for a new one", although this browser holds the application: it now leads
  back to the application (to "received" once it is sent). Another browser still gets the
  refusal.
"""

from __future__ import annotations

import re

import pytest

from cardservice.registration.document_rules import EXTRA_DOCUMENT
from cardservice.services import Services
from cardservice.staff.models import Role
from tests.japanese_text import ascii_in_japanese, visible_text
from tests.registration_flow import FORMS, photo, submitted_application
from tests.web_apply_support import (
    agree,
    applicant_client,
    draft_with_form,
    link_token,
    open_draft,
    post_form,
    upload,
)
from tests.web_support import (
    Client,
    csrf_from,
    form_token,
    login,
    make_staff,
    web_client,
    with_free_catcher_port,
)

__all__ = ["applicant_client", "draft_with_form"]  # fixtures used by name

SCHOOL = "横浜市立みなと高校"


async def test_a_students_review_page_writes_japanese_parentheses(
    client: Client, services: Services
) -> None:
    await open_draft(client, services)
    assert (await agree(client, services)).status_code == 303
    form = {**FORMS["yokohama"], "basis": "studies", "workplace_or_school": SCHOOL}
    saved = await post_form(client, form)  # the example profile takes Yokohama
    assert saved.status_code == 303, saved.text
    for doc_type in ("my_number", EXTRA_DOCUMENT):
        added = await upload(client, doc_type, "front", photo())
        assert added.status_code == 303, added.text

    # The remove buttons name the photo in words for a screen reader, not "extra front".
    documents = (await client.get("/apply/documents?lang=en")).text
    assert 'Remove<span class="visually-hidden"> My Number Card (front)</span>' in documents
    hidden = "> Document showing your workplace or school (front)</span>"
    assert hidden in documents
    assert "extra front" not in documents

    # All attached: the way on follows the sentence, with no half-width space after 。.
    done = (await client.get("/apply/documents?lang=ja")).text
    assert '添付されています。<a href="/apply/review">' in done
    # photo.js's words for a photo it made smaller: no 。 inside the parentheses.
    assert "（{width} × {height}ピクセル、{before}MBから{after}MBに）。" in done

    japanese = visible_text((await client.get("/apply/review?lang=ja")).text)
    assert f"在学（{SCHOOL}）" in japanese
    assert "勤務先・学校を確認できる書類（おもて）" in japanese
    assert ascii_in_japanese(japanese) == []
    english = visible_text((await client.get("/apply/review?lang=en")).text)
    assert f"Studies here ({SCHOOL})" in english
    assert "(front)" in english


async def test_the_used_link_tapped_again_leads_back_to_the_application(
    client: Client, services: Services
) -> None:
    await open_draft(client, services)
    token = await link_token(services)

    again = await client.get(f"/apply/verify/{token}")
    assert again.status_code == 303
    assert again.headers["location"] == "/apply/notes"
    page = await client.get("/apply/notes")
    assert page.status_code == 200
    sent_again = await client.post(
        f"/apply/verify/{token}", data={"_csrf_token": csrf_from(page.text)}
    )
    assert sent_again.status_code == 303
    assert sent_again.headers["location"] == "/apply/notes"

    settings = with_free_catcher_port(services.settings)
    async with web_client(settings, mail=False) as elsewhere:  # another phone: no application
        refused = await elsewhere.get(f"/apply/verify/{token}?lang=ja")
        assert refused.status_code == 400
        assert "link_used" in refused.text
        assert 'href="/apply"' in refused.text


@pytest.mark.parametrize("profile_name", ["yokohama"])
async def test_the_reviewer_reads_the_kind_of_application_not_its_details(
    client: Client, services: Services
) -> None:
    """申請内容 (the application's details) named the procedure too: 申請内容：新規登録 under
    the heading 申請内容. The procedure is 申請の種類, as on the applicant's form."""
    public_id = await submitted_application(services)
    await make_staff(services, "sato", Role.REVIEWER)
    await login(client, "sato")
    page = visible_text((await client.get(f"/staff/applications/{public_id}?lang=ja")).text)
    assert "申請の種類：新規登録" in page
    assert "申請内容：" not in page


async def test_the_steps_names_stay_on_one_line_on_a_phone(client: Client) -> None:
    """Five steps share a 390 px screen (about 72 px, five full-width characters each):
    本人確認書類 broke as 本人確認書 / 類. The step is 書類の添付."""
    page = (await client.get("/apply?lang=ja")).text
    names = re.findall(r'<span class="name">([^<]+)</span>', page)
    assert names == ["メール", "注意事項", "申請内容", "書類の添付", "確認・送信"]
    assert all(len(name) <= 5 for name in names)


@pytest.mark.parametrize("profile_name", ["yokohama"])
async def test_the_approval_notice_gives_the_number_a_line_of_its_own(
    client: Client, services: Services
) -> None:
    """「…お知らせしました。 利用者番号：…」 had a half-width space after 。 and the number
    broke mid-word on a phone."""
    public_id = await submitted_application(services)
    await make_staff(services, "sato", Role.REVIEWER)
    await login(client, "sato")
    page = await client.get(f"/staff/applications/{public_id}")
    approved = await client.post(
        f"/staff/applications/{public_id}/approve",
        data={"confirm": "yes", "_csrf_token": csrf_from(page.text)},
    )
    assert approved.status_code == 303
    queue = (await client.get(f"{approved.headers['location']}&lang=ja")).text
    notice = queue.split('class="notice decided"', 1)[1].split("</p>", 1)[0]
    assert "メールでお知らせしました。<br>利用者番号：" in notice


async def test_a_name_in_the_latin_alphabet_is_shown_how_to_write_its_reading(
    client: Client, services: Services
) -> None:
    """A foreign resident types their reading in romaji: the error says to write it as it
    sounds in katakana, with an example, in both languages."""
    await open_draft(client, services)
    assert (await agree(client, services)).status_code == 303
    form = {**FORMS["yokohama"], "family_kana": "Smith"}
    japanese = visible_text((await post_form(client, form)).text)
    example = "ローマ字のお名前は、読み方をカタカナで入力してください（例：Smith → スミス）。"
    assert example in japanese
    assert ascii_in_japanese(japanese) == []
    token = await form_token(client, "/apply/form?lang=en")
    sent = await client.post("/apply/form?lang=en", data={**form, "_csrf_token": token})
    assert "written as it sounds, for example スミス for Smith." in visible_text(sent.text)
