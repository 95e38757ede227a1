"""My Library over HTTP on both engines: the card, details, procedures open now and why not,
applications, email choices, password change and email change, in Japanese and English.

Emails are read from the outbox and their links followed; the procedure buttons post to
``/apply/procedure/{procedure}``, which another page handles.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta

import pytest
import time_machine
from sqlalchemy import select

from cardservice.cards.lifecycle import renewal_opens_on
from cardservice.cards.models import Card, CardEvent, CardEventKind
from cardservice.cards.service import set_suspended
from cardservice.registration.models import Application, ApplicationStatus
from cardservice.services import Services
from tests.unit.patrons.support import (
    EMAIL,
    NEW_PASSWORD,
    PASSWORD,
    log_in,
    mails,
    make_patron,
    path_in,
    patron,
    post_login,
    post_page_form,
)
from tests.web_support import Client, csrf_from, web_client, with_free_catcher_port

NEW_EMAIL = "hanako.new@example.org"


@pytest.fixture(params=["yokohama", "kashiwa"])
def profile_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def client(services: Services) -> AsyncIterator[Client]:
    async with web_client(with_free_catcher_port(services.settings), mail=False) as running:
        yield running


def main_of(html: str) -> str:
    return html[html.index("<main") : html.index("</main>")]


def section(html: str, name: str) -> str:
    found = re.search(rf'<section id="{name}".*?</section>', html, flags=re.S)
    assert found is not None, name
    return found.group(0)


async def add_application(
    services: Services, patron_id: int, procedure: str, status: ApplicationStatus, **values: object
) -> Application:
    async with services.db.transaction() as session:
        app = Application(
            email=EMAIL, procedure=procedure, status=status, patron_id=patron_id, **values
        )
        session.add(app)
        await session.flush()
        return app


# --- the page -----------------------------------------------------------------------------


async def test_my_library_needs_a_login_and_login_lands_there(
    client: Client, services: Services
) -> None:
    card = await make_patron(services)
    answer = await client.get("/my")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=/my"
    await log_in(client, card.user_number)
    page = await client.get("/my")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"


async def test_card_details_and_links_in_japanese(client: Client, services: Services) -> None:
    card = await make_patron(services)
    await log_in(client, card.user_number)
    html = main_of((await client.get("/my")).text)
    assert "<h1>マイライブラリ</h1>" in html
    card_part = section(html, "card")
    assert f'<dd class="number">{card.user_number}</dd>' in card_part
    assert "<strong>有効</strong>" in card_part
    expiry = card.expires_on
    assert f"{expiry.year}年{expiry.month}月{expiry.day}日" in card_part
    assert 'href="/card"' in card_part
    details = section(html, "details")
    for shown in (
        "山田 花子",
        "ヤマダ ハナコ",
        "1990年4月1日",
        "〒231-0005 神奈川県横浜市中区本町1-1",
        "045-262-7334",
        EMAIL,
    ):
        assert shown in details, shown
    account = section(html, "account")
    assert 'href="/my/password"' in account
    assert 'href="/my/email"' in account
    assert 'action="/logout"' in account
    # The card page links here.
    assert 'href="/my"' in (await client.get("/card")).text


async def test_procedures_open_now_post_with_csrf_and_renewal_says_when(
    client: Client, services: Services
) -> None:
    card = await make_patron(services)
    await log_in(client, card.user_number)
    html = (await client.get("/my")).text
    token = csrf_from(html)
    lost = section(html, "lost")
    assert 'action="/apply/procedure/reissue"' in lost
    assert f'name="_csrf_token" value="{token}"' in lost
    assert "紛失の届出・再発行を申請する" in lost
    procedures = section(html, "procedures")
    assert 'action="/apply/procedure/change"' in procedures
    assert 'action="/apply/procedure/renewal"' not in procedures
    opens = renewal_opens_on(card.expires_on, services.settings.profile.card)
    assert f"更新は{opens.year}年{opens.month}月{opens.day}日から申請できます。" in procedures
    english = section((await client.get("/my?lang=en")).text, "procedures")
    assert f"Renewal can be applied for from {opens.day} {opens:%B} {opens.year}." in english


async def test_renewal_opens_in_its_window(client: Client, services: Services) -> None:
    card = await make_patron(services)
    opens = renewal_opens_on(card.expires_on, services.settings.profile.card)
    noon = datetime.combine(opens, time(3, 0), tzinfo=UTC)  # noon in Tokyo
    with time_machine.travel(noon, tick=False):
        await log_in(client, card.user_number)
        procedures = section((await client.get("/my")).text, "procedures")
    assert 'action="/apply/procedure/renewal"' in procedures
    assert "更新を申請する" in procedures
    with time_machine.travel(noon - timedelta(days=1), tick=False):
        await log_in(client, card.user_number)
        procedures = section((await client.get("/my")).text, "procedures")
    assert 'action="/apply/procedure/renewal"' not in procedures


async def test_a_suspended_card_can_still_be_reported_lost(
    client: Client, services: Services
) -> None:
    card = await make_patron(services)
    async with services.db.transaction() as session:
        stored = await session.get(Card, card.id)
        assert stored is not None
        set_suspended(stored, "overdue")
    await log_in(client, card.user_number)
    html = (await client.get("/my?lang=en")).text
    assert "<strong>Suspended</strong>" in section(html, "card")
    assert 'action="/apply/procedure/reissue"' in section(html, "lost")
    procedures = section(html, "procedures")
    assert "<form" not in procedures
    assert procedures.count("Your card is suspended, so this cannot be done online.") == 2


async def test_applications_newest_first_with_reference_status_and_dates(
    client: Client, services: Services
) -> None:
    card = await make_patron(services)
    sent = datetime(2027, 1, 12, 1, tzinfo=UTC)
    decided = datetime(2027, 1, 14, 1, tzinfo=UTC)
    first = await add_application(
        services,
        card.patron_id,
        "change",
        ApplicationStatus.APPROVED,
        submitted_at=sent,
        decided_at=decided,
    )
    second = await add_application(
        services, card.patron_id, "renewal", ApplicationStatus.SUBMITTED, submitted_at=sent
    )
    other = await make_patron(services, email="jiro@example.org", given="次郎")
    await add_application(services, other.patron_id, "reissue", ApplicationStatus.REJECTED)
    await log_in(client, card.user_number)
    html = (await client.get("/my")).text
    history = section(html, "applications")
    assert history.index(second.reference) < history.index(first.reference)
    assert history.count('<span class="tag">') == 2  # not someone else's
    assert "図書館で確認中" in history
    assert "承認" in history
    assert "2027年1月12日申請、2027年1月14日決定" in history  # 「、」, not a Latin middle dot
    # The renewal waits for review: it cannot be asked for twice, and the page says why.
    procedures = section(html, "procedures")
    assert f"この手続きの申請（{second.reference}）を処理中です。" in procedures
    english = section((await client.get("/my?lang=en")).text, "applications")
    assert "Being checked by the library" in english
    assert "Sent on 12 January 2027" in english
    assert "Sent on 12 January 2027 · Decided on 14 January 2027" in english


# --- email choices ------------------------------------------------------------------------


async def test_email_choices_are_saved(client: Client, services: Services) -> None:
    card = await make_patron(services)
    await log_in(client, card.user_number)
    page = await client.get("/my")
    choices = section(page.text, "notifications")
    assert (
        'id="notify_expiry_near" name="notify_expiry_near" type="checkbox" value="on" checked'
        in choices
    )
    assert 'name="notify_overdue" type="checkbox" value="on">' in choices
    saved = await client.post(
        "/my/notifications",
        data={
            "notify_overdue": "on",
            "notify_emergency_closure": "on",
            "_csrf_token": csrf_from(page.text),
        },
    )
    assert saved.status_code == 303
    assert saved.headers["location"] == "/my?saved=notifications#notifications"
    stored = await patron(services, card.patron_id)
    assert stored.notifications == {
        "reservation_ready": False,
        "expiry_near": False,
        "overdue": True,
        "new_arrivals": False,
        "emergency_closure": True,
    }
    after = await client.get("/my?saved=notifications")
    assert "メールの受け取り設定を保存しました。" in after.text
    assert 'name="notify_overdue" type="checkbox" value="on" checked' in after.text


async def test_email_choices_need_a_login_and_a_csrf_token(
    client: Client, services: Services
) -> None:
    card = await make_patron(services)
    page = await client.get("/login")
    answer = await client.post(
        "/my/notifications", data={"notify_overdue": "on", "_csrf_token": csrf_from(page.text)}
    )
    # The login page, carrying the boxes as ticked (web/resume.py); nothing saved.
    assert answer.status_code == 200
    assert 'id="login-form"' in answer.text
    assert 'name="kept" value="[[&#34;notify_overdue&#34;,&#34;on&#34;]]"' in answer.text
    await log_in(client, card.user_number)
    refused = await client.post("/my/notifications", data={"notify_overdue": "on"})
    assert refused.status_code == 403
    assert (await patron(services, card.patron_id)).notifications == {"expiry_near": True}


# --- password -----------------------------------------------------------------------------


def field_marked(html: str, name: str) -> bool:
    return bool(re.search(rf'<input id="{name}"[^>]*aria-invalid="true"', html))


async def test_a_wrong_current_password_is_a_field_error(
    client: Client, services: Services
) -> None:
    card = await make_patron(services)
    before = (await patron(services, card.patron_id)).password_hash
    await log_in(client, card.user_number)
    answer = await post_page_form(
        client,
        "/my/password",
        {
            "current_password": "not-my-password-9!",
            "new_password": NEW_PASSWORD,
            "new_password_again": NEW_PASSWORD,
        },
    )
    assert answer.status_code == 400
    assert "現在のパスワードが正しくありません。" in answer.text
    assert field_marked(answer.text, "current_password")
    for secret in ("not-my-password-9!", NEW_PASSWORD):
        assert secret not in answer.text  # passwords are never typed back
    assert (await patron(services, card.patron_id)).password_hash == before
    english = await post_page_form(
        client,
        "/my/password?lang=en",
        {"current_password": "nope", "new_password": "x", "new_password_again": "x"},
        action="/my/password",
    )
    assert "The current password is wrong." in english.text


async def test_new_passwords_must_match_and_follow_the_policy(
    client: Client, services: Services, profile_name: str
) -> None:
    card = await make_patron(services)
    await log_in(client, card.user_number)
    mismatch = await post_page_form(
        client,
        "/my/password",
        {
            "current_password": PASSWORD,
            "new_password": NEW_PASSWORD,
            "new_password_again": NEW_PASSWORD + "x",
        },
    )
    assert mismatch.status_code == 400
    assert "確認のために入力したパスワードが一致しません。" in mismatch.text
    assert field_marked(mismatch.text, "new_password_again")
    weak = "password" if profile_name == "kashiwa" else "abcdefgh"
    refused = await post_page_form(
        client,
        "/my/password",
        {"current_password": PASSWORD, "new_password": weak, "new_password_again": weak},
    )
    assert refused.status_code == 400
    expected = "推測されやすい" if profile_name == "kashiwa" else "数字を1文字以上"
    assert expected in refused.text
    assert field_marked(refused.text, "new_password")
    assert await mails(services, "password_changed") == []


async def test_a_password_change_ends_other_sessions_and_sends_a_notice(
    client: Client, services: Services
) -> None:
    card = await make_patron(services)
    await log_in(client, card.user_number)
    async with web_client(with_free_catcher_port(services.settings), mail=False) as other:
        await log_in(other, EMAIL)
        changed = await post_page_form(
            client,
            "/my/password",
            {
                "current_password": PASSWORD,
                "new_password": NEW_PASSWORD,
                "new_password_again": NEW_PASSWORD,
            },
        )
        assert changed.status_code == 303
        assert changed.headers["location"] == "/my?saved=password"
        page = await client.get("/my?saved=password")
        assert page.status_code == 200
        assert "パスワードを変更しました。" in page.text
        assert (await other.get("/my")).status_code == 303
    [notice] = await mails(services, "password_changed")
    assert notice.to_address == EMAIL
    assert "パスワードが変更されました" in notice.subject
    assert NEW_PASSWORD not in notice.body_text
    forgot = path_in(notice.body_text, "/password/forgot")
    assert (await client.get(forgot)).status_code == 200
    refused = await post_login(client, card.user_number, PASSWORD)
    assert refused.status_code == 401
    await log_in(client, card.user_number, NEW_PASSWORD)


# --- email address ------------------------------------------------------------------------


async def test_the_same_email_is_a_clear_field_error(client: Client, services: Services) -> None:
    card = await make_patron(services)
    await log_in(client, card.user_number)
    same = await post_page_form(client, "/my/email", {"email": " Hanako@Example.ORG "})
    assert same.status_code == 400
    assert "現在のメールアドレスと同じです。" in same.text
    assert field_marked(same.text, "email")
    assert 'value=" Hanako@Example.ORG "' in same.text
    broken = await post_page_form(
        client, "/my/email?lang=en", {"email": "hanako@"}, action="/my/email"
    )
    assert broken.status_code == 400
    assert "Enter an email address, for example hanako@example.jp." in broken.text
    assert 'value="hanako@"' in broken.text
    assert await mails(services, "email_change_verify") == []


async def test_an_email_change_goes_through_the_new_mailbox(
    client: Client, services: Services
) -> None:
    card = await make_patron(services)
    await log_in(client, card.user_number)
    asked = await post_page_form(client, "/my/email", {"email": NEW_EMAIL})
    assert asked.status_code == 303
    assert asked.headers["location"] == "/my?saved=email_sent"
    assert (
        "新しいメールアドレスにリンクをお送りしました。"
        in (await client.get(asked.headers["location"])).text
    )
    [verify] = await mails(services, "email_change_verify")
    assert verify.to_address == NEW_EMAIL
    link = path_in(verify.body_text, "/my/email/verify/")
    assert (await patron(services, card.patron_id)).email == EMAIL  # nothing changed yet
    # Opened in another browser (the new mailbox on another device): no login needed.
    async with web_client(with_free_catcher_port(services.settings), mail=False) as mailbox:
        for _ in range(2):  # a mail scanner's fetch uses nothing
            shown = await mailbox.get(link)
            assert shown.status_code == 200
            assert NEW_EMAIL in shown.text
        done = await mailbox.post(link, data={"_csrf_token": csrf_from(shown.text)})
        assert done.status_code == 200
        assert "メールアドレスを変更しました" in done.text
        again = await mailbox.get(link)
        assert again.status_code == 400
        assert "link_used" in again.text
        assert 'href="/my/email"' in again.text
    assert (await patron(services, card.patron_id)).email == NEW_EMAIL
    [notice] = await mails(services, "email_changed")
    assert notice.to_address == EMAIL
    assert NEW_EMAIL in notice.body_text
    async with services.db.transaction() as session:
        events = list(await session.scalars(select(CardEvent)))
    assert [(e.kind, e.detail) for e in events if e.kind == CardEventKind.DETAILS_CHANGED] == [
        (CardEventKind.DETAILS_CHANGED, {"fields": ["email"]})
    ]
    page = await client.get("/my")
    assert NEW_EMAIL in section(page.text, "details")
    await log_in(client, NEW_EMAIL)


async def test_a_second_pending_link_dies_once_the_address_changed(
    client: Client, services: Services
) -> None:
    card = await make_patron(services)
    await log_in(client, card.user_number)
    await post_page_form(client, "/my/email", {"email": NEW_EMAIL})
    await post_page_form(client, "/my/email", {"email": "other@example.org"})
    first, second = await mails(services, "email_change_verify")
    used = path_in(first.body_text, "/my/email/verify/")
    page = await client.get(used)
    assert (await client.post(used, data={"_csrf_token": csrf_from(page.text)})).status_code == 200
    stale = await client.get(path_in(second.body_text, "/my/email/verify/") + "?lang=en")
    assert stale.status_code == 400
    assert "link_superseded" in stale.text
    assert "the email address has been changed since it was sent" in stale.text
    assert (await patron(services, card.patron_id)).email == NEW_EMAIL


async def test_email_change_links_expire(client: Client, services: Services) -> None:
    card = await make_patron(services)
    start = datetime(2027, 6, 1, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as traveller:
        await log_in(client, card.user_number)
        await post_page_form(client, "/my/email", {"email": NEW_EMAIL})
        [verify] = await mails(services, "email_change_verify")
        hours = services.settings.profile.links.verification_hours
        traveller.shift(timedelta(hours=hours, seconds=1))
        late = await client.get(path_in(verify.body_text, "/my/email/verify/"))
    assert late.status_code == 400
    assert "このリンクは有効期限が切れています。" in late.text
    assert (await patron(services, card.patron_id)).email == EMAIL


async def test_logout_from_my_library(client: Client, services: Services) -> None:
    card = await make_patron(services)
    await log_in(client, card.user_number)
    page = await client.get("/my")
    out = await client.post(
        "/logout", data={"_csrf_token": csrf_from(section(page.text, "account"))}
    )
    assert out.status_code == 303
    assert out.headers["location"] == "/login"
    assert (await client.get("/my")).status_code == 303
