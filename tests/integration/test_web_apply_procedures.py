"""Applying for a reissue, renewal or change of details over HTTP, on both engines and both
shipped profiles: started from My Library when logged in, or from the email link when not;
each form's errors next to their fields with what was typed kept; the documents each needs;
a lost card suspended at submission as the counter API sees it; Yokohama sending someone
already registered to the counter."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from sqlalchemy import select

from cardservice.cards.models import Card
from cardservice.registration.form import parse_application
from cardservice.registration.japan import format_postal_code
from cardservice.registration.models import Application, ApplicationStatus
from cardservice.services import Services
from tests.card_support import PATRON_PASSWORD, sample_patron, verify
from tests.registration_flow import (
    BOTH_SIDES,
    EMAIL,
    FORMS,
    both_profiles,  # noqa: F401  # a fixture
    friday_for_every_test,  # noqa: F401  # a fixture
    outbox,
    photo,
)
from tests.web_apply_support import (
    agree,
    applicant_client,  # noqa: F401  # a fixture
    applications,
    open_draft,
    post_form,
    upload,
)
from tests.web_support import Client, form_token

# Cards issued on FRIDAY (3 April 2026) expire on 3 April 2029.
RENEWAL_OPENS = {"yokohama": "2029年3月4日", "kashiwa": "2029年3月3日"}
RENEWAL_OPENS_EN = {"yokohama": "4 March 2029", "kashiwa": "3 March 2029"}
IN_WINDOW = datetime(2029, 3, 20, 1, 0, tzinfo=UTC)
NEW_PHONE = "090-1234-5678"
TOKYO = {"postal_code": "100-0001", "prefecture": "東京都", "city": "千代田区"}
NEW_NAME = {
    "new_family_name": "佐藤",
    "new_given_name": "花子",
    "new_family_kana": "さとう",  # hiragana, stored as katakana
    "new_given_kana": "ハナコ",
}
PROCEDURE_NAMES = {"reissue": "再発行", "renewal": "有効期限更新", "change": "登録内容変更"}


async def log_in(client: Client, card: Card) -> None:
    token = await form_token(client, "/login")
    response = await client.post(
        "/login",
        data={"login": card.user_number, "password": PATRON_PASSWORD, "_csrf_token": token},
    )
    assert response.status_code == 303, response.text


async def start(client: Client, procedure: str, *, lang: str = "") -> Any:
    """The procedure's button in My Library."""
    my = await client.get("/my")
    assert my.status_code == 200, my.text
    token = re.search(r'name="_csrf_token" value="([^"]+)"', my.text)
    assert token is not None
    query = f"?lang={lang}" if lang else ""
    return await client.post(
        f"/apply/procedure/{procedure}{query}", data={"_csrf_token": token.group(1)}
    )


async def started(client: Client, services: Services, procedure: str) -> None:
    """Started from My Library, notes agreed to: the form is next."""
    response = await start(client, procedure)
    assert (response.status_code, response.headers["location"]) == (303, "/apply/notes")
    assert (await agree(client, services)).headers["location"] == "/apply/form"


def form_of(services: Services, procedure: str, **changes: str) -> dict[str, str]:
    form = {**FORMS[services.settings.profile.id], "procedure": procedure, **changes}
    form.pop("password")
    return form


def field_error(html: str, field: str) -> str:
    found = re.search(rf'<p class="field-error" id="{field}-error">([^<]*)</p>', html)
    assert found is not None, f"no error next to {field}"
    return found.group(1)


def marked(html: str, field: str) -> bool:
    """Whether the input ``field`` is marked invalid."""
    found = re.search(rf'<input id="{field}"[^>]*>', html)
    assert found is not None, f"no input {field}"
    return 'aria-invalid="true"' in found.group()


async def submit_from_review(client: Client) -> None:
    token = await form_token(client, "/apply/review")
    submitted = await client.post("/apply/submit", data={"_csrf_token": token})
    assert (submitted.status_code, submitted.headers["location"]) == (303, "/apply/done")


async def only_application(services: Services) -> Application:
    (app,) = await applications(services)
    return app


# --- started logged in --------------------------------------------------------------------


async def test_renewal_from_my_library_prefilled_and_without_a_password(
    client: Client, services: Services, friday: time_machine.Traveller
) -> None:
    card = await sample_patron(services)
    friday.move_to(IN_WINDOW)
    await log_in(client, card)
    assert 'action="/apply/procedure/renewal"' in (await client.get("/my")).text
    await started(client, services, "renewal")
    page = await client.get("/apply/form")
    sample = parse_application(
        FORMS[services.settings.profile.id], profile=services.settings.profile, email=EMAIL
    )
    assert f'value="{format_postal_code(sample.postal_code)}"' in page.text
    assert f'value="{sample.street}"' in page.text
    assert "山田 花子" in page.text  # the registered name, shown, not an input
    assert 'id="family_name"' not in page.text
    assert 'name="password"' not in page.text
    assert "有効期限更新" in page.text
    saved = await post_form(client, form_of(services, "renewal"))
    assert (saved.status_code, saved.headers["location"]) == (303, "/apply/documents"), saved.text
    documents = await client.get("/apply/documents")
    assert 'id="no-document-needed"' not in documents.text  # renewal_document is on
    for doc_type, side in BOTH_SIDES:
        assert (await upload(client, doc_type, side, photo())).status_code == 303
    review = await client.get("/apply/review")
    assert "有効期限更新" in review.text
    assert card.user_number in review.text
    await submit_from_review(client)
    done = await client.get("/apply/done")
    assert "有効期限更新" in done.text
    app = await only_application(services)
    assert (app.procedure, app.status, app.patron_id) == (
        "renewal",
        ApplicationStatus.SUBMITTED,
        card.patron_id,
    )
    assert app.reference in done.text
    assert app.previous["expires_on"] == "2029-04-03"
    assert app.password_hash is None
    (received,) = await outbox(services, "application_received")
    assert received.to_address == EMAIL
    assert "有効期限更新" in received.body_text


async def test_renewal_outside_its_window_says_when_it_opens(
    client: Client, services: Services
) -> None:
    card = await sample_patron(services)
    await log_in(client, card)
    closed = await start(client, "renewal")
    assert closed.status_code == 409
    profile_id = services.settings.profile.id
    assert f"更新は{RENEWAL_OPENS[profile_id]}から申請できます" in closed.text
    assert "<code>renewal_not_yet</code>" in closed.text
    english = await start(client, "renewal", lang="en")
    assert f"Renewal can be applied for from {RENEWAL_OPENS_EN[profile_id]}." in english.text
    assert await applications(services) == []


async def test_a_phone_change_needs_no_document_and_a_second_one_is_refused(
    client: Client, services: Services
) -> None:
    card = await sample_patron(services)
    await log_in(client, card)
    await started(client, services, "change")
    saved = await post_form(client, form_of(services, "change", phone=NEW_PHONE))
    assert saved.status_code == 303, saved.text
    documents = await client.get("/apply/documents")
    assert 'id="no-document-needed"' in documents.text
    assert 'href="/apply/review"' in documents.text
    review = await client.get("/apply/review")
    assert 'id="missing"' not in review.text
    assert "登録されている電話番号" in review.text
    assert "090-1234-5678" in review.text
    await submit_from_review(client)

    again = await start(client, "change")
    assert again.status_code == 409
    assert "すでに申請済み" in again.text
    assert "<code>application_open</code>" in again.text
    assert len(await applications(services)) == 1


async def test_a_procedure_started_in_english_emails_in_english(
    client: Client, services: Services
) -> None:
    # The patron registered in Japanese and now reads My Library in English: the
    # application and its emails follow the page, as password and email ones do.
    card = await sample_patron(services)
    await log_in(client, card)
    response = await start(client, "change", lang="en")
    assert (response.status_code, response.headers["location"]) == (303, "/apply/notes")
    assert (await agree(client, services)).headers["location"] == "/apply/form"
    saved = await post_form(client, form_of(services, "change", phone=NEW_PHONE))
    assert saved.status_code == 303, saved.text
    await submit_from_review(client)
    assert (await only_application(services)).language == "en"
    (received,) = await outbox(services, "application_received")
    assert received.language == "en"
    assert "Thank you for asking" in received.body_text
    assert "ありがとうございます" not in received.body_text


async def test_a_change_that_changes_nothing_or_leaves_the_area(
    client: Client, services: Services
) -> None:
    card = await sample_patron(services)
    await log_in(client, card)
    await started(client, services, "change")
    same = await post_form(client, form_of(services, "change", building="　"))
    assert same.status_code == 400
    assert "変更する内容がありません" in field_error(same.text, "postal_code")
    assert marked(same.text, "postal_code")
    assert 'href="#postal_code"' in same.text  # the summary at the top

    moved = await post_form(client, form_of(services, "change", street="丸の内1-1", **TOKYO))
    assert moved.status_code == 400
    alert = re.search(r'<div class="counter-alert" role="alert".*?</div>', moved.text, re.S)
    assert alert is not None
    assert "オンラインでは手続きできません" in alert.group()
    assert "窓口でご相談ください" in alert.group()
    assert "窓口でご相談ください" in field_error(moved.text, "postal_code")
    assert marked(moved.text, "postal_code")
    assert 'value="丸の内1-1"' in moved.text  # what was typed is kept
    assert 'value="100-0001"' in moved.text
    app = await only_application(services)
    assert (app.birth_date, app.phone) == (None, "")  # nothing was saved

    token = await form_token(client, "/apply/form")
    english = await client.post(
        "/apply/form?lang=en", data={**form_of(services, "change"), "_csrf_token": token}
    )
    assert "Nothing would change" in field_error(english.text, "postal_code")


async def test_a_lost_reissue_suspends_the_card_when_submitted(
    client: Client, services: Services, api_key: str
) -> None:
    card = await sample_patron(services)
    assert (await verify(client, api_key, barcode=card.user_number))["status"] == "valid"
    await log_in(client, card)
    await started(client, services, "reissue")
    page = await client.get("/apply/form")
    assert services.settings.profile.procedures.eloan_notice.ja in page.text
    assert 'name="password"' not in page.text
    unticked = await post_form(client, form_of(services, "reissue", reissue_reason="lost"))
    assert unticked.status_code == 400
    assert "チェックを入れてください" in field_error(unticked.text, "eloan_acknowledged")
    assert marked(unticked.text, "eloan_acknowledged")
    assert 'value="lost" checked' in unticked.text  # the reason chosen is kept
    saved = await post_form(
        client, form_of(services, "reissue", reissue_reason="lost", eloan_acknowledged="on")
    )
    assert saved.status_code == 303, saved.text
    review = await client.get("/apply/review")
    assert "送信した時点で、これまでの利用カードを停止" in review.text
    assert 'id="missing"' in review.text  # the identity document
    assert (await upload(client, "my_number", "front", photo())).status_code == 303
    await submit_from_review(client)

    verdict = await verify(client, api_key, barcode=card.user_number)
    assert (verdict["status"], verdict["reason"]) == ("suspended", "reported_lost")
    done = await client.get("/apply/done")
    assert 'id="card-suspended"' in done.text
    assert card.user_number in done.text
    app = await only_application(services)
    assert (app.reissue_reason, app.previous["card_status"]) == ("lost", "active")
    assert app.eloan_acknowledged_at is not None


async def test_a_name_change_reissue_shows_old_and_new_names(
    client: Client, services: Services, api_key: str
) -> None:
    card = await sample_patron(services)
    await log_in(client, card)
    await started(client, services, "reissue")
    form = form_of(services, "reissue", reissue_reason="name_changed", eloan_acknowledged="on")
    same = {**NEW_NAME, "new_family_name": "山田", "new_family_kana": "やまだ"}
    unchanged = await post_form(client, {**form, **same})
    assert unchanged.status_code == 400
    assert "登録されている氏名と同じ" in field_error(unchanged.text, "new_family_name")
    assert 'value="やまだ"' in unchanged.text  # as typed
    saved = await post_form(client, {**form, **NEW_NAME})
    assert saved.status_code == 303, saved.text
    documents = await client.get("/apply/documents")
    assert "新しい氏名が記載された本人確認書類" in documents.text
    review = await client.get("/apply/review")
    assert "登録されている氏名" in review.text
    assert "佐藤 花子（サトウ ハナコ）" in review.text
    assert "山田 花子（ヤマダ ハナコ）" in review.text
    assert (await upload(client, "my_number", "front", photo())).status_code == 303
    await submit_from_review(client)
    assert (await verify(client, api_key, barcode=card.user_number))["status"] == "valid"


# --- started without logging in -----------------------------------------------------------


@pytest.mark.parametrize("procedure", ["reissue", "renewal", "change"])
async def test_each_procedure_from_the_email_link(
    client: Client, services: Services, api_key: str, procedure: str
) -> None:
    """A plastic-card holder, or whoever lost the phone: the procedure is chosen on the form,
    and the reviewer later picks the patron; nothing happens to any card meanwhile."""
    card = await sample_patron(services)
    await open_draft(client, services, "plastic@example.org")
    await agree(client, services)
    chooser = await client.get("/apply/form")
    assert 'name="procedure" type="radio" value="new" checked' in chooser.text
    assert f'value="{procedure}"' in chooser.text
    page = await client.get(f"/apply/form?procedure={procedure}")
    assert f'value="{procedure}" checked' in page.text
    assert 'name="password"' not in page.text
    assert 'id="family_name"' in page.text  # the name as registered, typed
    extra = {"reissue_reason": "lost", "eloan_acknowledged": "on"} if procedure == "reissue" else {}
    saved = await post_form(client, form_of(services, procedure, phone=NEW_PHONE, **extra))
    assert saved.status_code == 303, saved.text
    review = await client.get("/apply/review")
    assert 'href="/apply/documents"' in review.text  # the identity document is missing
    for doc_type, side in BOTH_SIDES:
        assert (await upload(client, doc_type, side, photo())).status_code == 303
    await submit_from_review(client)
    app = await only_application(services)
    assert (app.procedure, app.patron_id, app.status) == (
        procedure,
        None,
        ApplicationStatus.SUBMITTED,
    )
    assert (await verify(client, api_key, barcode=card.user_number))["status"] == "valid"
    done = await client.get("/apply/done")
    # Nothing names the card yet: the page says when it stops, and how to stop it sooner.
    assert ('id="card-suspended-later"' in done.text) == (procedure == "reissue")
    (received,) = await outbox(services, "application_received")
    assert PROCEDURE_NAMES[procedure] in received.body_text


async def test_a_card_holder_applying_anew(client: Client, services: Services) -> None:
    """Yokohama: "Those who have already registered" apply at the counter; the answer names
    nobody. Kashiwa takes the application and warns its reviewers instead."""
    card = await sample_patron(services)
    await open_draft(client, services, "another@example.org")
    await agree(client, services)
    form = {**FORMS[services.settings.profile.id]}
    response = await post_form(client, form)
    async with services.db.transaction() as session:
        drafts = list(await session.scalars(select(Application)))
    if not services.settings.profile.procedures.registered_to_counter:
        assert response.status_code == 303, response.text
        assert drafts[0].birth_date is not None
        return
    assert response.status_code == 400
    alert = re.search(r'<div class="counter-alert" role="alert".*?</div>', response.text, re.S)
    assert alert is not None
    assert "すでに利用登録があるため" in alert.group()
    assert 'href="/forgot-number"' in alert.group()
    assert card.user_number not in response.text
    assert EMAIL not in response.text
    assert drafts[0].birth_date is None


async def test_starting_needs_a_login_and_a_known_procedure(
    client: Client, services: Services
) -> None:
    token = await form_token(client, "/apply")
    logged_out = await client.post("/apply/procedure/renewal", data={"_csrf_token": token})
    assert (logged_out.status_code, logged_out.headers["location"]) == (303, "/login?next=/my")
    card = await sample_patron(services)
    await log_in(client, card)
    for wrong in ("new", "delete"):
        refused = await client.post(
            f"/apply/procedure/{wrong}",
            data={"_csrf_token": token},
            headers={"Accept": "text/html"},
        )
        assert refused.status_code == 404
    no_token = await client.post("/apply/procedure/change")
    assert no_token.status_code == 403
    assert await applications(services) == []
