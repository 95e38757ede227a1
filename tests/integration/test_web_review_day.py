"""A reviewer's day over HTTP, on both engines: after each decision the next application in
the queue opens (the earliest due first) and then the queue, saying what was done to which
application; the birth date in the Japanese era and the age; the history and the audit log
in words, with the applicant's own steps and the filters kept in the URL; the image an
inquiry's answer brought."""

from __future__ import annotations

import html
import re
from datetime import date, timedelta
from urllib.parse import urlencode

import msgspec
import pytest
import time_machine
from sqlalchemy import select, update

from cardservice.cards.models import Card
from cardservice.profiles.schema import InquirySection
from cardservice.registration import inquiries
from cardservice.registration.models import Application, ApplicationStatus
from cardservice.services import Services
from cardservice.staff import audit
from cardservice.staff.models import Role, StaffUser
from tests.registration_flow import (
    FRIDAY,
    ask,
    checked,
    clock_at_friday,  # noqa: F401  # a fixture
    document_key,
    load,
    photo,
    submitted_application,
)
from tests.web_support import (
    Client,
    client_on_clock,  # noqa: F401  # a fixture
    csrf_from,
    login,
    make_staff,
)

QUEUE = "/staff/queue"
AUDIT = "/staff/audit"


@pytest.fixture
def profile_name() -> str:
    return "yokohama"


def app_url(public_id: str) -> str:
    return f"/staff/applications/{public_id}"


async def post_form(client: Client, path: str, *, page: str, **fields: str) -> str:
    """Post ``fields`` with the page's CSRF token; the 303's location."""
    shown = await client.get(page)
    sent = await client.post(path, data={**fields, "_csrf_token": csrf_from(shown.text)})
    assert sent.status_code == 303, sent.text
    return str(sent.headers["location"])


def visible(page: str) -> str:
    """The page's text without tags, entities decoded, spaces folded."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def history_of(page: str) -> list[str]:
    """The application's history entries, as "who action" in order."""
    section = page.split('id="history-title"', 1)[1]
    items = re.findall(r"<li><span class=\"meta\">(.*?)</li>", section, flags=re.S)
    # The time, then the rest after the page's separator (「、」 in Japanese, " · " in English).
    return [re.split(r" · |、", visible(item), maxsplit=1)[1] for item in items]


async def test_each_decision_opens_the_next_application_then_the_queue(
    client: Client, services: Services
) -> None:
    first = await submitted_application(services, "first@example.org")
    second = await submitted_application(services, "second@example.org")
    urgent = await submitted_application(services, "urgent@example.org")
    async with services.db.transaction() as session:  # due the earliest: the head of the queue
        await session.execute(
            update(Application)
            .where(Application.public_id == urgent)
            .values(due_on=date(2026, 4, 2))
        )
    await make_staff(services, "sato", Role.REVIEWER)
    await login(client, "sato")

    # Approving the second opens the most urgent, which names what was done to the second.
    landed = await post_form(
        client, f"{app_url(second)}/approve", page=app_url(second), confirm="yes"
    )
    assert landed == f"{app_url(urgent)}?{urlencode({'done': 'approved', 'decided': second})}"
    page = (await client.get(f"{landed}&lang=en")).text
    async with services.db.transaction() as session:
        card = await session.scalar(select(Card))
    assert card is not None
    decided = (await load(services, second)).reference
    notice = visible(page.split('class="notice decided"', 1)[1].split("</p>", 1)[0])
    assert f"Application {decided} (山田 花子)" in notice
    assert "Approved. The card is issued and the applicant has been emailed." in notice
    assert f"User number: {card.user_number}" in notice
    assert "This is the next application in the queue." in notice
    assert f'<a href="{app_url(second)}">' in page
    assert f'action="{app_url(urgent)}/approve"' in page  # the next one, ready to decide

    # Rejecting it opens the one left; the notice is in Japanese on a Japanese page.
    landed = await post_form(
        client, f"{app_url(urgent)}/reject", page=app_url(urgent), text="住所が確認できません。"
    )
    assert landed.startswith(f"{app_url(first)}?")
    page = (await client.get(f"{landed}&lang=ja")).text
    assert "お断りしました。申請者に理由をメールでお知らせしました。" in visible(page)
    assert "次の審査待ちの申請を表示しています。" in page

    # Asking the last one leaves none: the queue says so.
    landed = await post_form(
        client,
        f"{app_url(first)}/inquiry",
        page=app_url(first),
        question="お名前の読みを教えてください。",
    )
    assert landed == f"{QUEUE}?{urlencode({'done': 'inquiry', 'decided': first})}"
    queue = (await client.get(f"{landed}&lang=en")).text
    assert "Your question has been emailed to the applicant." in queue
    assert "No application is left in the queue." in queue
    assert f'<a href="{app_url(first)}">' in queue
    assert (await load(services, first)).status == ApplicationStatus.INQUIRY

    # A landing page named with a decision on an unknown application shows no notice.
    plain = (await client.get(f"{QUEUE}?done=approved&decided=nothing-such")).text
    assert 'class="notice decided"' not in plain


async def test_approving_asks_for_a_confirmation(client: Client, services: Services) -> None:
    public_id = await submitted_application(services)
    await make_staff(services, "sato", Role.REVIEWER)
    await login(client, "sato")
    page = (await client.get(f"{app_url(public_id)}?lang=ja")).text
    form = page.split(f'action="{app_url(public_id)}/approve"', 1)[1].split("</form>", 1)[0]
    # Without JavaScript the ticked box is the confirmation; with it, also a dialog.
    assert 'name="confirm" value="yes" required' in form
    assert 'data-confirm="山田 花子さんの申請を承認しますか。' in page
    assert '<script src="/static/review.js" defer></script>' in page
    script = await client.get("/static/review.js")
    assert script.status_code == 200
    assert "window.confirm" in script.text
    sent = await client.post(f"{app_url(public_id)}/approve", data={"_csrf_token": csrf_from(page)})
    assert sent.status_code == 400
    assert (await load(services, public_id)).status == ApplicationStatus.SUBMITTED


async def test_the_birth_date_in_the_japanese_era_and_the_age(
    client: Client, services: Services
) -> None:
    public_id = await submitted_application(services)  # born 1990-04-01
    await make_staff(services, "sato", Role.REVIEWER)
    await login(client, "sato")
    ja = visible((await client.get(f"{app_url(public_id)}?lang=ja")).text)
    assert "生年月日 1990年4月1日（平成2年4月1日）" in ja
    assert "年齢（本日現在） 36歳" in ja
    en = visible((await client.get(f"{app_url(public_id)}?lang=en")).text)
    assert "Date of birth 1 April 1990 (平成2年4月1日)" in en
    assert "Age today 36 years old" in en

    # The era's first year is 元年, and a birthday tomorrow is not yet counted.
    async with services.db.transaction() as session:
        await session.execute(
            update(Application)
            .where(Application.public_id == public_id)
            .values(birth_date=date(1989, 4, 4))
        )
    ja = visible((await client.get(f"{app_url(public_id)}?lang=ja")).text)
    assert "1989年4月4日（平成元年4月4日）" in ja
    assert "年齢（本日現在） 36歳" in ja


async def _staff(services: Services, username: str, display_name: str) -> StaffUser:
    return await make_staff(services, username, Role.ADMIN, display_name=display_name)


async def test_the_history_in_words_with_the_applicants_steps_and_filters(
    client: Client, services: Services
) -> None:
    public_id = await submitted_application(services)
    admin = await _staff(services, "sato", "佐藤 花子")
    await login(client, "sato")
    url = app_url(public_id)
    token = await ask(services, public_id, admin)
    image = checked(services, photo("PNG"))
    async with services.db.transaction() as session:
        await inquiries.answer(
            session,
            token,
            "撮り直しました。",
            profile=services.settings.profile,
            document_key=document_key(services),
            document=inquiries.AnswerDocument("health_insurance", "back", image),
        )
    page = (await client.get(f"{url}?lang=ja")).text
    document = re.search(rf'href="({url}/documents/\d+)"', page)
    assert document is not None
    assert (await client.get(document.group(1))).status_code == 200

    page = (await client.get(f"{url}?lang=ja")).text
    assert history_of(page) == [
        "申請者 申請",
        "佐藤 花子 問い合わせ",
        "申請者 問い合わせへの回答",
        "佐藤 花子 本人確認書類の閲覧",
    ]
    entries = page.split('id="history-title"', 1)[1].split('<ol class="items">', 1)[1]
    assert "application.document_view" not in entries  # only the filter's values are codes
    # The answer says which image it brought, and when.
    answer = visible(page.split('class="answer-document"', 1)[1].split("</p>", 1)[0])
    stamp = "（ 2026年4月3日 10時00分 ）"
    assert answer == ">新しい画像：健康保険証（うら）（前に送られた画像と差し替え）" + stamp

    # Filters: the action, who, the dates; kept in the form.
    only_views = (await client.get(f"{url}?action=application.document_view&lang=ja")).text
    assert history_of(only_views) == ["佐藤 花子 本人確認書類の閲覧"]
    assert '<option value="application.document_view" selected>' in only_views
    applicant_steps = (await client.get(f"{url}?staff=none&lang=en")).text
    assert history_of(applicant_steps) == [
        "Applicant Submission",
        "Applicant Answer to an inquiry",
    ]
    mine = (await client.get(f"{url}?staff={admin.id}&from=2026-04-03&to=2026-04-03")).text
    assert len(history_of(mine)) == 2
    tomorrow = (await client.get(f"{url}?from=2026-04-04&lang=en")).text
    assert history_of(tomorrow) == []
    assert "No entry matches the filter." in tomorrow

    # A wrong filter is marked by its field, what was typed kept, the whole history shown.
    wrong = await client.get(f"{url}?from=2026-13-01&action=nothing&lang=ja")
    assert wrong.status_code == 400
    assert '<p class="field-error" id="history-from-error">日付は' in wrong.text
    assert '<p class="field-error" id="history-action-error">操作を一覧から選んでください。' in (
        wrong.text
    )
    assert 'name="from" value="2026-13-01"' in wrong.text
    assert len(history_of(wrong.text)) == 4


async def test_a_day_without_a_midnight_is_a_filter_error_not_a_server_error(
    client: Client, services: Services
) -> None:
    # 0001-01-01 begins, in Tokyo, before year 1 in UTC; the day after 9999-12-31 does not
    # exist. The history, the audit log and the search all answer with the field's message.
    public_id = await submitted_application(services)
    await _staff(services, "sato", "佐藤 花子")
    await login(client, "sato")
    for path in (app_url(public_id), AUDIT, "/staff/applications/search"):
        for field, day in (("from", "0001-01-01"), ("to", "9999-12-31"), ("from", "1899-12-31")):
            page = await client.get(path, params={field: day, "lang": "en"})
            assert page.status_code == 400, (path, field, day)
            assert "Choose a date from the year 1900 to 2999." in page.text
            assert f'name="{field}" value="{day}"' in page.text
        japanese = await client.get(path, params={"to": "9999-12-31", "lang": "ja"})
        assert "日付は1900年から2999年までの間で入力してください。" in japanese.text
        assert (await client.get(path, params={"from": "1900-01-01"})).status_code == 200


async def test_the_audit_log_in_words_filtered_and_paged_with_its_filter(
    client: Client, services: Services
) -> None:
    public_id = await submitted_application(services)
    admin = await _staff(services, "sato", "佐藤 花子")
    other = await _staff(services, "suzuki", "鈴木 一郎")
    await login(client, "sato")
    async with services.db.transaction() as session:
        for _ in range(55):
            await audit.record(
                session,
                staff_id=other.id,
                action="application.document_view",
                target_type="application",
                target_id=public_id,
            )

    page = (await client.get(f"{AUDIT}?lang=ja")).text
    assert "<td>本人確認書類の閲覧</td>" in page
    assert "<code>application.document_view</code>" not in page
    assert "<td>職員ログイン</td>" in (await client.get(f"{AUDIT}?action=staff.login")).text

    # By action and who; the older page keeps the filter.
    query = {"action": "application.document_view", "staff": str(other.id)}
    first = (await client.get(f"{AUDIT}?{urlencode(query)}&lang=ja")).text
    assert first.count("<td>本人確認書類の閲覧</td>") == 50
    older = re.search(r'<a href="([^"]+)" rel="next">', first)
    assert older is not None
    link = html.unescape(older.group(1))
    assert "action=application.document_view" in link
    assert f"staff={other.id}" in link
    rest = (await client.get(link)).text
    assert rest.count("<td>本人確認書類の閲覧</td>") == 5
    assert "<td>職員ログイン</td>" not in rest
    newest = re.search(r'<a href="([^"]+)">最新の記録', rest)
    assert newest is not None
    assert "before" not in newest.group(1)
    assert "action=application.document_view" in html.unescape(newest.group(1))

    # The applicant's and the system's entries; the dates.
    without_staff = (await client.get(f"{AUDIT}?staff=none&lang=ja")).text
    assert re.search(r"<td>申請者</td>\s*<td>申請</td>", without_staff)
    assert "鈴木 一郎" not in without_staff.split("<tbody>", 1)[1]
    logins = (await client.get(f"{AUDIT}?staff={admin.id}&action=staff.login")).text
    assert logins.count("<tr>") == 2  # the header and the one login
    day_after = FRIDAY.date() + timedelta(days=1)
    later = (await client.get(f"{AUDIT}?from={day_after.isoformat()}&lang=en")).text
    assert "No entry matches the filter." in later

    wrong = await client.get(f"{AUDIT}?staff=999999&to=2026-04-01&from=2026-04-03&lang=en")
    assert wrong.status_code == 400
    assert 'id="audit-staff-error">Choose a staff member from the list.' in wrong.text
    assert 'id="audit-to-error">The end of the range is before its start.' in wrong.text


async def test_a_cancellation_for_no_answer_is_in_the_history(
    client: Client, services: Services, clock: time_machine.Traveller
) -> None:
    public_id = await submitted_application(services)
    admin = await _staff(services, "sato", "佐藤 花子")
    await login(client, "sato")
    await ask(services, public_id, admin)
    strict = msgspec.structs.replace(
        services.settings.profile, inquiry=InquirySection(max_unanswered=1, answer_days=3)
    )
    clock.move_to(FRIDAY + timedelta(days=60))  # the answer date has long passed
    async with services.db.transaction() as session:
        report = await inquiries.expire_inquiries(session, profile=strict)
    assert report.cancelled == [public_id]
    await login(client, "sato")  # the staff session of two months ago has ended
    page = (await client.get(f"{app_url(public_id)}?lang=ja")).text
    assert history_of(page) == [
        "申請者 申請",
        "佐藤 花子 問い合わせ",
        "システム 取り消し（回答なし）",
    ]
    english = (await client.get(f"{app_url(public_id)}?lang=en")).text
    assert history_of(english)[-1] == "System Cancellation (no answer)"
