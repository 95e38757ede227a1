"""A form a staff member sends after their login ended comes back as typed once they log in
again (``web/resume.py``), on both engines: a rejection reason, a question, a notice sent
from its preview. Nothing is done with it until they send it again; a button with nothing
typed goes to the login page as before; a kept form is read, never trusted."""

from __future__ import annotations

import inspect
import re
from collections.abc import AsyncIterator
from html import unescape
from typing import Any

import pytest
from sqlalchemy import select

from cardservice.app import create_app
from cardservice.mail.models import OutboxRow
from cardservice.notices.models import Notice
from cardservice.patrons.models import Patron
from cardservice.registration.models import Application, ApplicationStatus
from cardservice.security.passwords import hash_password
from cardservice.services import Services
from cardservice.staff.models import Role, StaffUser
from cardservice.staff.service import set_staff_password
from cardservice.web.resume import KEPT_FIELD, kept_pairs, switch_address
from tests.registration_flow import submitted_application
from tests.unit.patrons.support import log_in as patron_log_in
from tests.unit.patrons.support import make_patron
from tests.web_support import (
    STAFF_PASSWORD,
    Client,
    csrf_from,
    login,
    make_staff,
    web_client,
    with_free_catcher_port,
)

NEW_PASSWORD = "harbour-lantern-again-2026"
REASON = '裏面の住所が読めません。<再提出> & "もう一度"'
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"\s*/?>')
_ACTION = re.compile(r'<form method="post" action="([^"]+)"[^>]*data-resume')


@pytest.fixture
def profile_name() -> str:
    return "yokohama"


@pytest.fixture
async def client(services: Services) -> AsyncIterator[Client]:
    async with web_client(with_free_catcher_port(services.settings), mail=False) as running:
        yield running


def hidden_fields(html: str) -> list[tuple[str, str]]:
    return [(name, unescape(value)) for name, value in _HIDDEN.findall(html)]


async def end_login(services: Services, username: str) -> None:
    """A password changed meanwhile: every session made with the old one no longer holds."""
    async with services.db.transaction() as session:
        user = await session.scalar(select(StaffUser).where(StaffUser.username == username))
        assert user is not None
        await set_staff_password(session, user, NEW_PASSWORD, actor_id=None)


async def log_in_again(client: Client, login_page: str, username: str) -> Any:
    """Log in on ``login_page`` (the page a late form was answered with), as a browser sends
    its form: the hidden fields as they are, the username and the new password."""
    fields = dict(hidden_fields(login_page))
    assert KEPT_FIELD in fields, login_page
    return await client.post(
        "/staff/login",
        data={**fields, "username": username, "password": NEW_PASSWORD},
    )


async def resume(client: Client, resume_page: str) -> Any:
    """What resume.js (or the page's button) sends: the kept form, to its address."""
    action = _ACTION.search(resume_page)
    assert action, resume_page
    fields: dict[str, list[str]] = {}
    for name, value in hidden_fields(resume_page):
        fields.setdefault(name, []).append(value)
    return await client.post(unescape(action.group(1)), data=fields)


async def application_status(services: Services, public_id: str) -> ApplicationStatus:
    async with services.db.read() as session:
        app = await session.scalar(select(Application).where(Application.public_id == public_id))
        assert app is not None
        return app.status


async def test_a_rejection_reason_sent_after_the_login_ended_comes_back_as_typed(
    client: Client, services: Services
) -> None:
    await make_staff(services, "sato", Role.REVIEWER)
    await login(client, "sato")
    public_id = await submitted_application(services, "taro@example.org")
    page = f"/staff/applications/{public_id}"
    opened = await client.get(page)
    await end_login(services, "sato")

    late = await client.post(
        f"{page}/reject",
        data={"template_id": "", "text": REASON, "_csrf_token": csrf_from(opened.text)},
    )
    assert late.status_code == 200, late.text
    assert "<h1>職員ログイン</h1>" in late.text
    assert "ログインの有効期限が切れていたため" in late.text
    assert await application_status(services, public_id) == ApplicationStatus.SUBMITTED

    back = await log_in_again(client, late.text, "sato")
    assert back.status_code == 200, back.text
    assert 'src="/static/resume.js"' in back.text
    assert f'action="{page}/reject?lang=ja#' in back.text  # at the first field sent
    assert ("text", REASON) in hidden_fields(back.text)
    assert ("_lang_switch", "1") in hidden_fields(back.text)

    form = await resume(client, back.text)
    assert form.status_code == 200, form.text
    assert "裏面の住所が読めません。&lt;再提出&gt; &amp; &#34;もう一度&#34;</textarea>" in form.text
    assert await application_status(services, public_id) == ApplicationStatus.SUBMITTED
    async with services.db.read() as session:
        assert list(await session.scalars(select(OutboxRow.template))).count("rejected") == 0

    # Sent again from the page, it is done.
    sent = await client.post(
        f"{page}/reject",
        data={"template_id": "", "text": REASON, "_csrf_token": csrf_from(form.text)},
    )
    assert sent.status_code == 303, sent.text
    assert await application_status(services, public_id) == ApplicationStatus.REJECTED


async def test_a_question_comes_back_in_english_when_the_page_was_english(
    client: Client, services: Services
) -> None:
    await make_staff(services, "sato", Role.REVIEWER)
    await login(client, "sato")
    public_id = await submitted_application(services, "hanako@example.org")
    page = f"/staff/applications/{public_id}"
    opened = await client.get(f"{page}?lang=en")
    await end_login(services, "sato")
    question = "Please photograph the back of the card again."
    late = await client.post(
        f"{page}/inquiry", data={"question": question, "_csrf_token": csrf_from(opened.text)}
    )
    assert late.status_code == 200, late.text
    assert "Your login had ended, so what you sent has not been done." in late.text
    back = await log_in_again(client, late.text, "sato")
    assert f'action="{page}/inquiry?lang=en#question"' in back.text
    assert "Back to the form" in back.text
    form = await resume(client, back.text)
    assert form.status_code == 200, form.text
    assert f"{question}</textarea>" in form.text
    async with services.db.read() as session:
        assert "inquiry" not in list(await session.scalars(select(OutboxRow.template)))


async def test_a_notice_sent_from_its_preview_comes_back_to_its_form_not_sent(
    client: Client, services: Services
) -> None:
    await make_staff(services, "kanri", Role.ADMIN, display_name="管理 太郎")
    await login(client, "kanri")
    draft = {
        "subject_ja": "臨時休館のお知らせ",
        "body_ja": "本日は <臨時> 休館します。",
        "subject_en": "Closed today",
        "body_en": "The library is closed today.",
    }
    opened = await client.get("/staff/notices/new")
    preview = await client.post(
        "/staff/notices/preview", data={**draft, "_csrf_token": csrf_from(opened.text)}
    )
    assert preview.status_code == 200, preview.text
    await end_login(services, "kanri")

    # The preview's button sends the notice at once; sent late, it is not sent, and it comes
    # back to the notice form (not to the sending), filled in.
    late = await client.post(
        "/staff/notices", data={**draft, "_csrf_token": csrf_from(preview.text)}
    )
    assert late.status_code == 200, late.text
    back = await log_in_again(client, late.text, "kanri")
    assert 'action="/staff/notices/preview?lang=ja#' in back.text
    form = await resume(client, back.text)
    assert form.status_code == 200, form.text
    assert 'value="臨時休館のお知らせ"' in form.text
    assert "本日は &lt;臨時&gt; 休館します。</textarea>" in form.text
    async with services.db.read() as session:
        assert list(await session.scalars(select(Notice))) == []


async def test_a_button_with_nothing_typed_goes_to_the_login_page_as_before(
    client: Client, services: Services
) -> None:
    await make_staff(services, "sato", Role.REVIEWER)
    await login(client, "sato")
    public_id = await submitted_application(services, "jiro@example.org")
    page = f"/staff/applications/{public_id}"
    opened = await client.get(page)
    await end_login(services, "sato")
    late = await client.post(
        f"{page}/approve", data={"confirmed": "1", "_csrf_token": csrf_from(opened.text)}
    )
    assert late.status_code == 303
    assert late.headers["location"].startswith("/staff/login?next=")
    assert await application_status(services, public_id) == ApplicationStatus.SUBMITTED


async def test_a_kept_form_is_read_never_trusted(client: Client, services: Services) -> None:
    """A kept field that is not a list of pairs is dropped: the login goes on as usual; a
    next page off the staff console is not resumed to; a failed login keeps the form."""
    await make_staff(services, "sato", Role.REVIEWER)
    kept_json = '[["text", "理由"]]'
    for kept, next_path, where in (
        ("not json", "/staff/mail", "/staff/mail"),
        ('{"text": "理由"}', "/staff/mail", "/staff/mail"),
        ('[["text", 1]]', "/staff/mail", "/staff/mail"),
        (kept_json, "https://elsewhere.example/staff", "/staff"),
        (kept_json, "/apply/form", "/staff"),
    ):
        page = await client.get("/staff/login")
        answer = await client.post(
            "/staff/login",
            data={
                "username": "sato",
                "password": STAFF_PASSWORD,
                "next": next_path,
                KEPT_FIELD: kept,
                "_csrf_token": csrf_from(page.text),
            },
        )
        assert answer.status_code == 303, (kept, next_path, answer.text)
        assert answer.headers["location"] == where
        await client.post("/staff/logout", data={"_csrf_token": csrf_from(page.text)})

    page = await client.get("/staff/login")
    wrong = await client.post(
        "/staff/login",
        data={
            "username": "sato",
            "password": "not the password",
            "next": "/staff/applications",
            KEPT_FIELD: kept_json,
            "_csrf_token": csrf_from(page.text),
        },
    )
    assert wrong.status_code == 200
    assert (KEPT_FIELD, kept_json) in hidden_fields(wrong.text)
    assert "ログインの有効期限が切れていたため" in wrong.text


async def end_patron_login(services: Services, patron_id: int) -> None:
    """The patron's password changed elsewhere: this session no longer holds."""
    async with services.db.transaction() as session:
        patron = await session.get(Patron, patron_id)
        assert patron is not None
        patron.password_hash = await hash_password(NEW_PASSWORD)


async def patron_log_in_again(client: Client, login_page: str, login: str) -> Any:
    fields = dict(hidden_fields(login_page))
    assert KEPT_FIELD in fields, login_page
    return await client.post("/login", data={**fields, "login": login, "password": NEW_PASSWORD})


async def test_a_new_email_address_sent_after_the_patron_login_ended_comes_back_as_typed(
    client: Client, services: Services
) -> None:
    card = await make_patron(services, email="hanako@example.org")
    await patron_log_in(client, "hanako@example.org")
    opened = await client.get("/my/email")
    assert opened.status_code == 200, opened.text
    await end_patron_login(services, card.patron_id)

    late = await client.post(
        "/my/email", data={"email": "hanako.new@example.org", "_csrf_token": csrf_from(opened.text)}
    )
    assert late.status_code == 200, late.text
    assert "ログインの有効期限が切れていたため" in late.text
    assert 'id="login-form"' in late.text
    back = await patron_log_in_again(client, late.text, "hanako@example.org")
    assert back.status_code == 200, back.text
    assert 'action="/my/email?lang=ja#email"' in back.text
    form = await resume(client, back.text)
    assert form.status_code == 200, form.text
    assert 'value="hanako.new@example.org"' in form.text
    async with services.db.read() as session:
        sent = list(await session.scalars(select(OutboxRow.template)))
    assert not [t for t in sent if "email" in t], sent  # no confirmation link went out


async def test_ticked_boxes_and_a_password_form_after_the_patron_login_ended(
    client: Client, services: Services
) -> None:
    """Ticked email choices come back ticked, not saved; a password is never kept, so the
    password form goes to the login page as before."""
    card = await make_patron(services, email="jiro@example.org")
    await patron_log_in(client, "jiro@example.org")
    opened = await client.get("/my")
    async with services.db.read() as session:
        before = (await session.get(Patron, card.patron_id) or Patron()).notifications
    assert "overdue" not in before
    await end_patron_login(services, card.patron_id)
    late = await client.post(
        "/my/notifications",
        data={"notify_overdue": "on", "_csrf_token": csrf_from(opened.text)},
    )
    assert late.status_code == 200, late.text
    back = await patron_log_in_again(client, late.text, "jiro@example.org")
    assert 'action="/my/notifications?lang=ja#notify_overdue"' in back.text
    assert ("notify_overdue", "on") in hidden_fields(back.text)
    page = await resume(client, back.text)
    assert page.status_code == 200, page.text
    assert re.search(r'name="notify_overdue"[^>]*checked', page.text), page.text
    async with services.db.read() as session:
        assert (await session.get(Patron, card.patron_id) or Patron()).notifications == before

    await end_patron_login(services, card.patron_id)
    password = await client.post(
        "/my/password",
        data={
            "current_password": NEW_PASSWORD,
            "new_password": "a whole new phrase 2026",
            "new_password_again": "a whole new phrase 2026",
            "_csrf_token": csrf_from(opened.text),
        },
    )
    assert password.status_code == 303
    assert password.headers["location"].startswith("/login?next=")


async def test_every_route_that_gives_a_form_back_on_a_switch_is_marked(services: Services) -> None:
    """A staff or My Library route whose handler answers a language switch with its form
    keeps a late form
    (``KEEPS_TYPED``); a marked route that does not is marked with the address that does
    (``keeps_typed_at``), which must be such a route."""
    app = create_app(with_free_catcher_port(services.settings), mail=False, jobs=False)
    switching: set[str] = set()
    marked: dict[str, Any] = {}
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            if "POST" not in handler.http_methods or not route.path.startswith(("/staff/", "/my")):
                continue
            if "switching_language(request)" in inspect.getsource(handler.fn):
                switching.add(route.path)
            if handler.opt.get("keeps_typed"):
                marked[route.path] = handler.opt["keeps_typed"]
    switching.discard("/staff/login")  # the login page itself carries the kept form
    assert switching, "no staff route answers a language switch"
    assert {path for path, mark in marked.items() if mark is True} == switching
    for path, mark in marked.items():
        if mark is not True:
            assert mark in switching, (path, mark)


def test_the_form_is_posted_back_at_its_first_field_when_that_is_a_plain_name() -> None:
    assert switch_address("/staff/x", "ja", "text") == "/staff/x?lang=ja#text"
    assert switch_address("/staff/x?page=2", "en") == "/staff/x?page=2&lang=en"
    for field in ('"><b>', "a b", "", "1st", "x" * 65):
        assert switch_address("/staff/x", "ja", field) == "/staff/x?lang=ja"


def test_a_kept_form_never_carries_back_a_token_the_switch_or_a_password() -> None:
    """Read from the browser, the kept field could hold what was never kept: a second switch
    field (``_lang_switch=0`` would make the handler act), a token, a password."""
    sent = (
        '[["_lang_switch", "0"], ["text", "理由"], ["_csrf_token", "x"], '
        '["new_password", "secret phrase"], ["template_id", ""]]'
    )
    assert kept_pairs(sent) == [("text", "理由"), ("template_id", "")]
    assert kept_pairs('[["password", "x"]]') == []
