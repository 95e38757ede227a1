"""The review pages over HTTP: the queue, an application with its images and duplicates, the
image route, and approve/reject/inquiry with their emails, audit entries and errors."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from PIL import Image
from sqlalchemy import select, update

from cardservice.cards.models import Card
from cardservice.registration import applicant, inquiries, review
from cardservice.registration.models import ApplicationDocument, ApplicationStatus
from cardservice.registration.storage import decrypt_document, list_documents
from cardservice.services import Services
from cardservice.staff.audit import for_target
from cardservice.staff.models import Role
from cardservice.staff.service import create_staff
from tests.registration_flow import (
    FRIDAY,
    clock_at_friday,  # noqa: F401  # a fixture
    document_key,
    load,
    outbox,
    seed_rejection_templates,
    submitted_application,
)
from tests.web_support import (
    Client,
    client_on_clock,  # noqa: F401  # a fixture
    csrf_from,
    login,
    make_staff,
)

# Yokohama: due three opening days after Friday 3 April 2026, on Monday 6 April.
TUESDAY = datetime(2026, 4, 7, 1, 0, tzinfo=UTC)
WEDNESDAY = datetime(2026, 4, 8, 1, 0, tzinfo=UTC)


@pytest.fixture
def profile_name() -> str:
    return "yokohama"


async def log_in_as(client: Client, services: Services, role: Role = Role.REVIEWER) -> None:
    await make_staff(services, "sato", role)
    await login(client, "sato")


async def post_form(client: Client, path: str, *, page: str, **fields: str) -> Any:
    """Post ``fields`` with the CSRF token of the form on ``page``, as a browser would."""
    shown = await client.get(page)
    assert shown.status_code == 200, shown.text
    return await client.post(path, data={**fields, "_csrf_token": csrf_from(shown.text)})


def app_url(public_id: str) -> str:
    return f"/staff/applications/{public_id}"


async def audit_actions(services: Services, public_id: str) -> list[str]:
    async with services.db.transaction() as session:
        return [e.action for e in await for_target(session, "application", public_id)]


async def ask_by_domain(services: Services, public_id: str, question: str) -> None:
    async with services.db.transaction() as session:
        staff = await create_staff(session, "asker", "ask the applicant kindly", Role.REVIEWER)
        app = await applicant.get_application(session, public_id)
        await inquiries.ask(
            session,
            app,
            staff,
            question,
            profile=services.settings.profile,
            base_url=services.settings.base_url,
        )


async def approve_by_domain(services: Services, public_id: str) -> str:
    async with services.db.transaction() as session:
        staff = await create_staff(session, "approver", "approve the applicant", Role.REVIEWER)
        app = await applicant.get_application(session, public_id)
        card = await review.approve(
            session,
            app,
            staff,
            services.policy,
            profile=services.settings.profile,
            base_url=services.settings.base_url,
        )
        return card.user_number


# ----------------------------------------------------------------------------------- queue


async def test_queue_in_due_date_order_marks_the_overdue(
    client: Client, services: Services, clock: time_machine.Traveller
) -> None:
    first = await submitted_application(services, "first@example.org")
    clock.move_to(TUESDAY)
    second = await submitted_application(services, "second@example.org")
    asking = await submitted_application(services, "asking@example.org")
    await ask_by_domain(services, asking, "Please send the back of the card.")
    clock.move_to(WEDNESDAY)
    await log_in_as(client, services)

    page = await client.get("/staff/queue?lang=en")
    assert page.status_code == 200
    review_list, waiting_list = page.text.split("<h2>Waiting for the applicant's answer</h2>")
    # The earlier due date first; the one waiting for an answer only in the second list.
    assert review_list.index(app_url(first)) < review_list.index(app_url(second))
    assert app_url(asking) not in review_list
    assert app_url(asking) in waiting_list
    items = re.findall(r'<li class="queue-item[^"]*">.*?</li>', review_list, re.S)
    assert len(items) == 2
    assert '<strong class="overdue-flag">Overdue</strong>' in items[0]
    assert "2026-04-06" in items[0]
    assert "Overdue" not in items[1]
    assert "1 application is overdue." in review_list
    assert "山田 花子" in items[0]
    assert "ヤマダ\u3000ハナコ" in items[0]
    assert "3 Apr 2026, 10:00" in items[0]  # submitted, on the library's clock
    assert "5 opening days" in items[0]  # Saturday to Wednesday; Yokohama opens every day
    assert "0 answered, 0 unanswered" in items[0]
    assert "Please send" not in waiting_list  # the question itself is on the application
    assert "1 question asked" in waiting_list

    japanese = await client.get("/staff/queue?lang=ja")
    assert "期限超過" in japanese.text
    assert "開館日5日" in japanese.text


async def test_empty_queue_says_so(client: Client, services: Services) -> None:
    await log_in_as(client, services)
    page = await client.get("/staff/queue?lang=en")
    assert "No application is waiting for review." in page.text
    assert "No application is waiting for an answer." in page.text


# ----------------------------------------------------------------------------- application


async def test_application_page_shows_the_form_images_and_duplicates(
    client: Client, services: Services
) -> None:
    # All three before the approval: Yokohama turns away a card holder's new registration.
    earlier = await submitted_application(services, "earlier@example.org")
    other = await submitted_application(services, "other@example.org")
    public_id = await submitted_application(services)
    number = await approve_by_domain(services, earlier)
    await log_in_as(client, services)

    page = await client.get(f"{app_url(public_id)}?lang=en")
    assert page.status_code == 200
    text = page.text
    for expected in (
        "山田 花子",
        "ヤマダ\u3000ハナコ",
        "1 April 1990",
        "231-0005",
        "神奈川県 横浜市中区 本町1-1",
        "045-262-7334",
        "hanako@example.org",
        "Lives here",
        "Card expiry near",
        "New registration",
        "Waiting for review",
        "21 March 2025",  # the notes' version, 2025-03-21, written as the date it is
        "6 April 2026",
    ):
        assert expected in text, expected
    # Both sides of the document, inline, with their type and side.
    images = re.findall(rf'<img class="id-image" src="({app_url(public_id)}/documents/\d+)"', text)
    assert len(images) == 2
    assert "(front)" in text
    assert "(back)" in text
    # The duplicates come first and name the patron's number and the other application.
    duplicates = text.split('id="duplicates-title"')[1].split("</section>")[0]
    assert number in duplicates
    assert f'href="{app_url(other)}"' in duplicates
    assert "Waiting for review" in duplicates  # the other application's status, as a label
    assert text.index("Possible duplicates") < text.index("Application details")
    # Submitted: all three decisions are offered.
    for action in ("approve", "reject", "inquiry"):
        assert f'action="{app_url(public_id)}/{action}"' in text

    japanese = await client.get(f"{app_url(public_id)}?lang=ja")
    assert "重複の可能性" in japanese.text
    assert "（おもて）" in japanese.text or "(おもて)" in japanese.text


async def test_an_unknown_application_is_a_localised_404(
    client: Client, services: Services
) -> None:
    await log_in_as(client, services)
    page = await client.get(f"{app_url('no-such-application')}?lang=ja")
    assert page.status_code == 404
    assert "申請が見つかりません。" in page.text
    assert "<code>application_not_found</code>" in page.text


async def test_document_route_serves_the_decrypted_image_uncached_and_audited(
    client: Client, services: Services
) -> None:
    public_id = await submitted_application(services)
    async with services.db.transaction() as session:
        app = await applicant.get_application(session, public_id)
        rows = await list_documents(session, app)
        expected = decrypt_document(app, rows[0], document_key(services))
    await log_in_as(client, services)

    response = await client.get(f"{app_url(public_id)}/documents/{rows[0].id}")
    assert response.status_code == 200
    assert response.content == expected
    assert response.headers["content-type"] == rows[0].content_type
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-disposition"] == "inline"
    assert response.headers["x-content-type-options"] == "nosniff"
    image = Image.open(io.BytesIO(response.content))
    assert image.size == (640, 400)
    assert not image.getexif()  # re-encoded on the way in: no EXIF left
    async with services.db.transaction() as session:
        (entry,) = [
            e
            for e in await for_target(session, "application", public_id)
            if e.action == "application.document_view"
        ]
    assert entry.detail["document_id"] == rows[0].id

    elsewhere = await client.get(f"{app_url(public_id)}/documents/999999")
    assert elsewhere.status_code == 404
    too_big = await client.get(f"{app_url(public_id)}/documents/99999999999999")
    assert too_big.status_code == 404


async def test_a_purged_image_is_marked_and_not_served(client: Client, services: Services) -> None:
    public_id = await submitted_application(services)
    async with services.db.transaction() as session:
        app = await applicant.get_application(session, public_id)
        rows = await list_documents(session, app)
        await session.execute(
            update(ApplicationDocument)
            .where(ApplicationDocument.id == rows[0].id)
            .values(ciphertext=None, purged_at=FRIDAY)
        )
    await log_in_as(client, services)
    page = await client.get(f"{app_url(public_id)}?lang=en")
    assert "This image was deleted after its retention period." in page.text
    assert f'src="{app_url(public_id)}/documents/{rows[0].id}"' not in page.text
    gone = await client.get(f"{app_url(public_id)}/documents/{rows[0].id}?lang=ja")
    assert gone.status_code == 404
    assert "保存期間を過ぎたため削除されました" in gone.text


# ------------------------------------------------------------------------------- decisions


async def test_approve_issues_the_card_and_a_second_approve_is_a_conflict(
    client: Client, services: Services
) -> None:
    public_id = await submitted_application(services)
    await log_in_as(client, services)
    url = app_url(public_id)

    done = await post_form(client, f"{url}/approve", page=url, confirm="yes")
    assert done.status_code == 303
    # Nothing else waits: the reviewer lands on the queue, told what was done and to which.
    assert done.headers["location"] == f"/staff/queue?done=approved&decided={public_id}"
    landed = (await client.get(f"{done.headers['location']}&lang=en")).text
    assert "Approved. The card is issued" in landed
    assert f'href="{url}"' in landed
    assert "No application is left in the queue." in landed

    async with services.db.transaction() as session:
        card = await session.scalar(select(Card))
    assert card is not None
    app = await load(services, public_id)
    assert app.status == ApplicationStatus.APPROVED
    assert app.card_id == card.id
    (completed,) = await outbox(services, "registration_completed")
    assert card.user_number in completed.body_text
    assert completed.to_address == "hanako@example.org"
    assert "application.approve" in await audit_actions(services, public_id)

    shown = await client.get(f"{url}?done=approved&lang=en")
    assert "Approved. The card is issued" in shown.text
    assert f"User number: {card.user_number}" in shown.text
    assert f"User number: {card.user_number}" in landed
    assert f'action="{url}/approve"' not in shown.text  # decided: no more decisions
    assert "Possible duplicates" not in shown.text  # its own new patron is no duplicate

    again = await post_form(client, f"{url}/approve?lang=ja", page=url, confirm="yes")
    assert again.status_code == 409
    assert "この申請は処理済みです。" in again.text
    assert "<code>application_already_decided</code>" in again.text
    async with services.db.transaction() as session:
        assert len(list(await session.scalars(select(Card)))) == 1


async def test_reject_with_a_template(client: Client, services: Services) -> None:
    await seed_rejection_templates(services)
    public_id = await submitted_application(services)
    await log_in_as(client, services)
    url = app_url(public_id)
    page = await client.get(url)
    async with services.db.transaction() as session:
        template = (await review.rejection_templates(session))[0]
    assert f'<option value="{template.id}">' in page.text

    done = await post_form(client, f"{url}/reject", page=url, template_id=str(template.id))
    assert done.status_code == 303
    assert done.headers["location"] == f"/staff/queue?done=rejected&decided={public_id}"
    app = await load(services, public_id)
    assert app.status == ApplicationStatus.REJECTED
    assert app.decision_reason == template.text_ja  # the applicant wrote in Japanese
    (mail,) = await outbox(services, "application_rejected")
    assert template.text_ja[:20] in mail.body_text
    async with services.db.transaction() as session:
        entries = await for_target(session, "application", public_id)
    (entry,) = [e for e in entries if e.action == "application.reject"]
    assert entry.detail["template"] == template.code

    shown = await client.get(f"{url}?done=rejected&lang=en")
    assert "Rejected. The applicant has been emailed the reason." in shown.text
    assert template.text_ja[:20] in shown.text


async def test_reject_with_written_text(client: Client, services: Services) -> None:
    public_id = await submitted_application(services)
    await log_in_as(client, services)
    url = app_url(public_id)
    reason = "写真がぼやけていて、お名前が読み取れませんでした。"
    done = await post_form(client, f"{url}/reject", page=url, template_id="", text=reason)
    assert done.status_code == 303
    (mail,) = await outbox(services, "application_rejected")
    assert reason in mail.body_text
    app = await load(services, public_id)
    assert app.decision_reason == reason
    assert "application.reject" in await audit_actions(services, public_id)


async def test_reject_without_a_reason_shows_the_message_by_the_field(
    client: Client, services: Services
) -> None:
    await seed_rejection_templates(services)
    public_id = await submitted_application(services)
    await log_in_as(client, services)
    url = app_url(public_id)

    empty = await post_form(client, f"{url}/reject", page=url, template_id="", text="   ")
    assert empty.status_code == 400
    assert (
        '<p class="error" id="text-error">お断りの理由を、定型文から選ぶか入力してください。'
        in (empty.text)
    )
    assert 'id="text" name="text"' in empty.text

    unknown = await post_form(
        client, f"{url}/reject?lang=en", page=url, template_id="999999", text=""
    )
    assert unknown.status_code == 400
    assert '<p class="error" id="template_id-error">Choose a reason' in unknown.text

    long_text = "あ" * (review.REASON_MAX + 1)
    too_long = await post_form(client, f"{url}/reject", page=url, text=long_text)
    assert too_long.status_code == 400
    assert long_text in too_long.text  # what was typed is kept

    # A NUL (which PostgreSQL refuses) is turned away before the form is read, with a page
    # of its own; another invisible character (a bidi override) gets the field's message.
    nul = await post_form(client, f"{url}/reject", page=url, text="住所が\x00違います")
    assert nul.status_code == 400
    assert "control character (such as NUL)" in nul.text  # English since ?lang=en above
    refused = await post_form(client, f"{url}/reject", page=url, text="住所が\u202e違います")
    assert refused.status_code == 400
    assert (
        '<p class="error" id="text-error">This contains characters that cannot be used'
        in refused.text
    )

    assert (await load(services, public_id)).status == ApplicationStatus.SUBMITTED
    assert await outbox(services, "application_rejected") == []


async def test_inquiry_emails_an_answer_link_and_leaves_only_reject(
    client: Client, services: Services
) -> None:
    public_id = await submitted_application(services)
    await log_in_as(client, services)
    url = app_url(public_id)
    question = "保険証のうら面の写真もお送りください。"

    done = await post_form(client, f"{url}/inquiry", page=url, question=question)
    assert done.status_code == 303
    assert done.headers["location"] == f"/staff/queue?done=inquiry&decided={public_id}"
    (mail,) = await outbox(services, "inquiry")
    assert question in mail.body_text
    assert re.search(rf"{services.settings.base_url}/apply/answer/\S+", mail.body_text)
    assert (await load(services, public_id)).status == ApplicationStatus.INQUIRY
    assert "application.inquiry" in await audit_actions(services, public_id)

    shown = await client.get(f"{url}?done=inquiry&lang=en")
    assert "Your question has been emailed to the applicant." in shown.text
    assert question in shown.text
    assert "No answer yet." in shown.text
    assert f'action="{url}/reject"' in shown.text
    assert f'action="{url}/approve"' not in shown.text
    assert f'action="{url}/inquiry"' not in shown.text

    # Approving or asking again while waiting for the answer is refused.
    refused = await post_form(client, f"{url}/approve", page=url, confirm="yes")
    assert refused.status_code == 409
    assert "<code>application_not_reviewable</code>" in refused.text


async def test_an_empty_question_shows_the_message_by_the_field(
    client: Client, services: Services
) -> None:
    public_id = await submitted_application(services)
    await log_in_as(client, services)
    url = app_url(public_id)
    response = await post_form(client, f"{url}/inquiry?lang=en", page=url, question=" ")
    assert response.status_code == 400
    assert (
        '<p class="error" id="question-error">Write the text (at most 2000 characters).'
        in response.text
    )
    # An invisible character pasted with the text (a bidi override) is named as such.
    invisible = "住所を\u202e教えてください"
    response = await post_form(client, f"{url}/inquiry?lang=en", page=url, question=invisible)
    assert response.status_code == 400
    assert (
        '<p class="error" id="question-error">This contains characters that cannot be used'
        in response.text
    )
    # A NUL is turned away before the form is read, with a page of its own.
    nul = await post_form(client, f"{url}/inquiry?lang=en", page=url, question="住所を\x00")
    assert nul.status_code == 400
    assert "control character (such as NUL)" in nul.text
    assert await outbox(services, "inquiry") == []


# ------------------------------------------------------------------------- who may do what


async def test_counter_staff_are_forbidden(client: Client, services: Services) -> None:
    public_id = await submitted_application(services)
    await log_in_as(client, services, Role.COUNTER)
    url = app_url(public_id)
    for path in ("/staff/queue", url, f"{url}/documents/1", "/staff/rejection-templates"):
        response = await client.get(path)
        assert response.status_code == 403, path
    home = await client.get("/staff")
    assert 'href="/staff/queue"' not in home.text
    forbidden = await post_form(client, f"{url}/approve", page="/staff")
    assert forbidden.status_code == 403
    assert (await load(services, public_id)).status == ApplicationStatus.SUBMITTED


async def test_strangers_are_sent_to_the_login(client: Client, services: Services) -> None:
    public_id = await submitted_application(services)
    url = app_url(public_id)
    for path in ("/staff/queue", url, f"{url}/documents/1", "/staff/audit"):
        response = await client.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/staff/login?next=")
    blocked = await post_form(client, f"{url}/approve", page="/staff/login")
    assert blocked.status_code == 303
    assert blocked.headers["location"].startswith("/staff/login")
    assert (await load(services, public_id)).status == ApplicationStatus.SUBMITTED


async def test_a_decision_without_the_csrf_token_is_refused(
    client: Client, services: Services
) -> None:
    public_id = await submitted_application(services)
    await log_in_as(client, services)
    response = await client.post(f"{app_url(public_id)}/approve")
    assert response.status_code == 403
    assert "<code>csrf_failed</code>" in response.text
    assert (await load(services, public_id)).status == ApplicationStatus.SUBMITTED
    assert await outbox(services, "registration_completed") == []
