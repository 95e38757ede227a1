"""The applicant's pages over HTTP, on both engines and both shipped profiles: from the email
form to the "received" page, the same answer for anyone, links used or expired, form errors
next to their fields, the postal code lookup, and one submission however often it is sent."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import time_machine

from cardservice.registration.documents import MY_NUMBER_BACK_WARNING
from cardservice.registration.models import ApplicationStatus
from cardservice.services import Services
from tests.registration_flow import (
    EMAIL,
    FORMS,
    both_profiles,  # noqa: F401  # a fixture
    friday_for_every_test,  # noqa: F401  # a fixture
    outbox,
    photo,
    request_and_open,
)
from tests.web_apply_support import (
    agree,
    applicant_client,  # noqa: F401  # a fixture
    applications,
    ask_link,
    fill_form,
    follow_link,
    link_token,
    open_draft,
    post_form,
    ready_to_submit,
    upload,
    verify_rows,
)
from tests.web_support import Client, csrf_from, form_token

# Submitted on Friday 3 April 2026: Kashiwa (closed Mondays) is ready after 2 opening days,
# Yokohama after 3.
READY_ON = {"kashiwa": "2026年4月5日（日）", "yokohama": "2026年4月6日（月）"}
READY_ON_EN = {"kashiwa": "Sunday, 5 April 2026", "yokohama": "Monday, 6 April 2026"}
# The opening days the date counts, shown under it (Friday's application counts from Saturday).
COUNTED = {
    "kashiwa": "4月4日（土）、4月5日（日）",
    "yokohama": "4月4日（土）、4月5日（日）、4月6日（月）",
}
COUNTED_EN = {"kashiwa": "Sat 4 Apr, Sun 5 Apr", "yokohama": "Sat 4 Apr, Sun 5 Apr, Mon 6 Apr"}
# An address whose postal code lies outside the area for online registration.
OUTSIDE = {
    "yokohama": {"postal_code": "210-0007", "prefecture": "神奈川県", "city": "川崎市川崎区"},
    "kashiwa": {"postal_code": "260-0013", "prefecture": "千葉県", "city": "千葉市中央区"},
}
OUTSIDE_TEXT = {
    "yokohama": "広域利用の対象のため、オンラインでは申請できません",
    "kashiwa": "オンライン登録の対象地域ではありません",
}
STEP_PAGES = ("/apply/notes", "/apply/form", "/apply/documents", "/apply/review")


def field_error(html: str, field: str) -> str:
    """The text of the error shown next to ``field``."""
    found = re.search(rf'<p class="field-error" id="{field}-error">([^<]*)</p>', html)
    assert found is not None, f"no error next to {field}"
    return found.group(1)


async def _email_link_and_notes(client: Client, services: Services) -> None:
    """Steps 1 and 2 as the applicant sees them."""
    profile = services.settings.profile
    start = await client.get("/apply")
    assert start.status_code == 200
    assert profile.library.sender_email in start.text
    assert 'name="email"' in start.text
    assert 'aria-current="step"' in start.text

    sent = await ask_link(client)
    assert (sent.status_code, sent.headers["location"]) == (303, "/apply/sent")
    check = await client.get("/apply/sent")
    assert "メールを確認してください" in check.text
    assert profile.library.sender_email in check.text

    token = await link_token(services)
    # A mail scanner's GET leaves the link working.
    assert (await client.get(f"/apply/verify/{token}")).status_code == 200
    opened = await follow_link(client, token)
    assert opened.headers["location"] == "/apply/notes"

    notes = await client.get("/apply/notes")
    assert profile.registration.notes.ja in notes.text
    assert f'name="version" value="{profile.registration.notes_version}"' in notes.text
    consented = await agree(client, services)
    assert (consented.status_code, consented.headers["location"]) == (303, "/apply/form")


async def test_the_whole_path_from_email_to_received(client: Client, services: Services) -> None:
    profile = services.settings.profile
    await _email_link_and_notes(client, services)

    form = await client.get("/apply/form")
    assert f'value="{EMAIL}" readonly' in form.text
    assert 'name="procedure" type="radio" value="new" checked' in form.text
    assert form.text.count("<option value=") >= 48  # "Choose" and the 47 prefectures
    saved = await fill_form(client, services)
    assert (saved.status_code, saved.headers["location"]) == (303, "/apply/documents")
    again = await client.get("/apply/form")  # the saved draft fills the form in again
    assert 'value="ヤマダ"' in again.text
    assert 'value="1990-04-01"' in again.text
    assert 'name="notify_expiry_near" type="checkbox" value="on" checked' in again.text
    assert FORMS[profile.id]["password"] not in again.text

    documents = await client.get("/apply/documents")
    assert MY_NUMBER_BACK_WARNING["ja"] in documents.text
    assert 'href="/apply/review"' not in documents.text  # nothing attached yet
    for side in ("front", "back"):
        added = await upload(client, "health_insurance", side, photo())
        assert (added.status_code, added.headers["location"]) == (303, "/apply/documents")
    documents = await client.get("/apply/documents")
    assert documents.text.count("640 × 400") == 2
    assert 'href="/apply/review"' in documents.text

    review = await client.get("/apply/review")
    assert review.status_code == 200
    assert "山田 花子" in review.text
    assert "ヤマダ ハナコ" in review.text
    assert "1990年4月1日" in review.text
    assert 'id="missing"' not in review.text
    assert FORMS[profile.id]["password"] not in review.text

    token = csrf_from(review.text)
    submitted = await client.post("/apply/submit", data={"_csrf_token": token})
    assert (submitted.status_code, submitted.headers["location"]) == (303, "/apply/done")
    done = await client.get("/apply/done")
    assert done.status_code == 200
    assert READY_ON[profile.id] in done.text
    assert f"休館日は数えません）：{COUNTED[profile.id]}。" in done.text
    assert EMAIL in done.text
    english = await client.get("/apply/done?lang=en")
    assert READY_ON_EN[profile.id] in english.text
    assert f"(closed days are not counted): {COUNTED_EN[profile.id]}." in english.text

    (app,) = await applications(services)
    assert app.status == ApplicationStatus.SUBMITTED
    assert len(await outbox(services, "application_received")) == 1
    # A submitted application's editing pages give way to the "received" page.
    for path in STEP_PAGES:
        moved = await client.get(path)
        assert (moved.status_code, moved.headers["location"]) == (303, "/apply/done")


async def test_the_same_answer_for_known_new_and_rate_limited_addresses(
    client: Client, services: Services
) -> None:
    await request_and_open(services, "known@example.org")  # has a draft already
    limit = services.settings.profile.links.per_address_per_hour
    for _ in range(limit):
        await ask_link(client, "busy@example.org")
    answers = []
    for email in ("known@example.org", "new@example.org", "busy@example.org"):
        response = await ask_link(client, email)
        page = await client.get(response.headers["location"])
        answers.append(
            (
                response.status_code,
                response.headers["location"],
                response.content,
                sorted((k, v) for k, v in response.headers.multi_items() if k != "date"),
                page.content,
            )
        )
    assert answers[0] == answers[1] == answers[2]
    assert answers[0][:2] == (303, "/apply/sent")
    assert len(await verify_rows(services, "busy@example.org")) == limit  # no more sent


async def test_a_malformed_address_gets_the_form_again(client: Client, services: Services) -> None:
    response = await ask_link(client, "hanako at example")
    assert response.status_code == 400
    assert "メールアドレスを正しく入力してください" in field_error(response.text, "email")
    assert 'value="hanako at example"' in response.text
    assert 'aria-describedby="email-error" aria-invalid="true"' in response.text
    assert await outbox(services) == []


async def test_step_pages_without_a_session_go_back_to_the_start(client: Client) -> None:
    for path in (*STEP_PAGES, "/apply/done"):
        response = await client.get(path)
        assert (response.status_code, response.headers["location"]) == (
            303,
            "/apply?session=ended",
        )
    start = await client.get("/apply?session=ended")
    assert 'id="session-ended"' in start.text


async def test_a_used_link_says_so_and_offers_a_new_one(client: Client, services: Services) -> None:
    await open_draft(client, services)
    token = await link_token(services)
    client.cookies.clear()  # another browser (the one that opened it goes on: test_web_apply_walk)
    again = await client.get(f"/apply/verify/{token}")
    assert again.status_code == 400
    assert "すでに使用されています" in again.text
    assert "<code>link_used</code>" in again.text
    assert 'href="/apply"' in again.text
    posted = await client.post(
        f"/apply/verify/{token}", data={"_csrf_token": await form_token(client, "/apply")}
    )
    assert posted.status_code == 400
    assert "<code>link_used</code>" in posted.text
    unknown = await client.get("/apply/verify/not-a-real-token?lang=en")
    assert unknown.status_code == 400
    assert "This link is not valid." in unknown.text


async def test_an_expired_link_says_so(
    client: Client, services: Services, friday: time_machine.Traveller
) -> None:
    await ask_link(client)
    token = await link_token(services)
    hours = services.settings.profile.links.verification_hours
    friday.shift(timedelta(hours=hours, seconds=1))
    expired = await client.get(f"/apply/verify/{token}")
    assert expired.status_code == 400
    assert "有効期限が切れています" in expired.text
    assert "<code>link_expired</code>" in expired.text


async def test_posts_without_the_csrf_token_are_refused(client: Client, services: Services) -> None:
    refused = await client.post("/apply", data={"email": EMAIL})
    assert refused.status_code == 403
    assert "<code>csrf_failed</code>" in refused.text
    assert await outbox(services) == []

    await open_draft(client, services)
    version = services.settings.profile.registration.notes_version
    refused = await client.post("/apply/notes", data={"version": version, "agree": "on"})
    assert refused.status_code == 403
    (app,) = await applications(services)
    assert app.consent_version is None


async def test_consent_needs_the_box_ticked(client: Client, services: Services) -> None:
    await open_draft(client, services)
    token = await form_token(client, "/apply/notes")
    version = services.settings.profile.registration.notes_version
    response = await client.post("/apply/notes", data={"version": version, "_csrf_token": token})
    assert response.status_code == 400
    assert "同意する" in field_error(response.text, "agree")
    stale = await client.post(
        "/apply/notes", data={"version": "2001-old", "agree": "on", "_csrf_token": token}
    )
    assert stale.status_code == 400
    assert "注意事項が更新されました" in stale.text
    (app,) = await applications(services)
    assert app.consent_version is None


async def test_invalid_kana_is_shown_next_to_its_field_and_the_rest_is_kept(
    client: Client, services: Services
) -> None:
    await open_draft(client, services)
    await agree(client, services)
    response = await fill_form(client, services, family_kana="Yamada", phone="12")
    assert response.status_code == 400
    assert "カタカナ" in field_error(response.text, "family_kana")
    assert "電話番号" in field_error(response.text, "phone")
    assert 'id="family_kana"' in response.text
    assert 'aria-describedby="kana-hint family_kana-error" aria-invalid="true"' in response.text
    assert 'href="#family_kana"' in response.text  # the summary at the top
    assert 'value="Yamada"' in response.text
    assert 'value="山田"' in response.text  # what was typed is kept ...
    assert FORMS[services.settings.profile.id]["password"] not in response.text  # ... but this
    token = csrf_from(response.text)
    form = {**FORMS[services.settings.profile.id], "family_kana": "Yamada", "_csrf_token": token}
    english = await client.post("/apply/form?lang=en", data=form)
    assert english.status_code == 400
    assert "Write the reading in katakana" in field_error(english.text, "family_kana")
    (app,) = await applications(services)
    assert not app.has_form


async def test_an_address_outside_the_area_is_sent_to_the_counter(
    client: Client, services: Services
) -> None:
    await open_draft(client, services)
    await agree(client, services)
    profile_id = services.settings.profile.id
    response = await fill_form(client, services, **OUTSIDE[profile_id])
    assert response.status_code == 400
    alert = re.search(r'<div class="counter-alert" role="alert".*?</div>', response.text, re.S)
    assert alert is not None
    assert OUTSIDE_TEXT[profile_id] in alert.group()
    assert "窓口" in alert.group()
    assert OUTSIDE_TEXT[profile_id] in field_error(response.text, "basis")
    (app,) = await applications(services)
    assert not app.has_form


async def test_the_postal_code_button_fills_in_the_address_and_saves_nothing(
    client: Client, services: Services
) -> None:
    await open_draft(client, services)
    await agree(client, services)
    form = {**FORMS[services.settings.profile.id], "prefecture": "", "city": "", "lookup": "1"}
    form["postal_code"] = "２７７－０００５"
    response = await post_form(client, form)
    assert response.status_code == 200
    assert '<option value="千葉県" selected>' in response.text
    assert 'name="city" type="text" value="柏市"' in response.text
    assert 'value="山田"' in response.text
    (app,) = await applications(services)
    assert not app.has_form

    unknown = await post_form(client, {**form, "postal_code": "999-9999"})
    assert unknown.status_code == 400
    assert "999-9999" in field_error(unknown.text, "postal_code")


async def test_the_postal_code_json(client: Client) -> None:
    found = await client.get("/apply/postal", params={"code": "231-0005"})
    assert found.status_code == 200
    assert found.json() == {"prefecture": "神奈川県", "city": "横浜市中区"}
    unknown = await client.get("/apply/postal", params={"code": "9999999"})
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "postal_code_unknown"
    malformed = await client.get("/apply/postal", params={"code": "abc", "lang": "en"})
    assert malformed.status_code == 400
    assert malformed.json()["error"]["code"] == "postal_code_invalid"
    assert "7 digits" in malformed.json()["error"]["message"]


async def test_review_lists_what_is_missing_and_submit_refuses(
    client: Client, services: Services
) -> None:
    await open_draft(client, services)
    await agree(client, services)
    await fill_form(client, services, basis="works", workplace_or_school="みなと商事")
    review = await client.get("/apply/review")
    assert 'id="missing"' in review.text
    assert "本人確認書類がありません" in review.text
    assert "勤務先・学校を確認できる書類がありません" in review.text
    refused = await client.post("/apply/submit", data={"_csrf_token": csrf_from(review.text)})
    assert refused.status_code == 400
    assert 'id="missing"' in refused.text
    (app,) = await applications(services)
    assert app.status == ApplicationStatus.DRAFT
    assert await outbox(services, "application_received") == []
    documents = await client.get("/apply/documents")
    assert 'value="extra"' in documents.text  # the workplace document can be attached


async def test_submitting_twice_makes_one_application_and_one_email(
    client: Client, services: Services
) -> None:
    await ready_to_submit(client, services, photo())
    token = await form_token(client, "/apply/review")
    first, second = await asyncio.gather(
        client.post("/apply/submit", data={"_csrf_token": token}),
        client.post("/apply/submit", data={"_csrf_token": token}),
    )
    third = await client.post("/apply/submit", data={"_csrf_token": token})  # back, resend
    for response in (first, second, third):
        assert (response.status_code, response.headers["location"]) == (303, "/apply/done")
    (app,) = await applications(services)
    assert app.status == ApplicationStatus.SUBMITTED
    assert len(await outbox(services, "application_received")) == 1


async def test_a_bad_postal_code_is_explained_with_the_librarys_own_example(
    client: Client, services: Services
) -> None:
    """The field's hint shows the profile's sample postal code; the error beside it gives no
    other library's example (Kashiwa's page never shows Yokohama's 231-0005)."""
    await _email_link_and_notes(client, services)
    sample = services.settings.profile.library.sample_postal_code
    for typed in ("12", "1234-56789"):
        page = await fill_form(client, services, postal_code=typed)
        assert page.status_code == 400
        assert "郵便番号は7桁の数字で入力してください" in page.text
        assert f'value="{typed}"' in page.text  # what was typed is kept
        assert sample in page.text
        if sample != "231-0005":
            assert "231-0005" not in page.text


async def test_the_reasons_to_register_name_the_city_and_its_neighbours(
    client: Client, services: Services
) -> None:
    """A Matsudo resident reads that living in a neighbouring city counts (Kashiwa's seed:
    柏市在住・在勤・在学, or living in an adjacent city in Chiba); work and study name the city."""
    await _email_link_and_notes(client, services)
    form = await client.get("/apply/form")
    english = await client.get("/apply/form?lang=en")
    if services.settings.profile.id == "kashiwa":
        assert "在住（柏市、または近隣の松戸市、流山市、野田市" in form.text
        assert "在勤（柏市内に勤務先がある）" in form.text
        assert "在学（柏市内の学校に通っている）" in form.text
        # English names the neighbours as English readers write them (the profile's
        # municipality_names_en), not in kanji.
        assert (
            "I live in Kashiwa or a neighbouring city (Matsudo, Nagareyama, Noda, Abiko, "
            "Inzai, Shiroi, Kamagaya)" in english.text
        )
        assert "松戸市" not in english.text
    else:
        assert "在住（横浜市に住んでいる）" in form.text
        assert "在勤（横浜市内に勤務先がある）" in form.text
        assert "I work in Yokohama" in english.text
