"""Staff login, logout, lockout and the ``current_staff`` guard, over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from cardservice.services import Services
from cardservice.staff.models import AuditEntry, Role
from cardservice.staff.service import (
    MAX_FAILED_ATTEMPTS,
    StaffLoginLimits,
    disable_staff,
    get_staff,
    set_staff_password,
)
from cardservice.web.staff import safe_next
from tests.web_support import (
    STAFF_PASSWORD,
    Client,
    form_token,
    login,
    make_staff,
    post_login,
    web_client,
    with_free_catcher_port,
)


@pytest.fixture
async def client(services: Services) -> AsyncIterator[Client]:
    async with web_client(with_free_catcher_port(services.settings), mail=False) as running:
        yield running


async def test_login_page_is_a_labelled_form(client: Client) -> None:
    page = await client.get("/staff/login")
    assert page.status_code == 200
    assert '<label for="username">ユーザー名</label>' in page.text
    assert '<label for="password">パスワード</label>' in page.text
    assert 'autocomplete="current-password"' in page.text
    assert 'name="_csrf_token"' in page.text


async def test_staff_pages_send_strangers_to_the_login(client: Client) -> None:
    for path in ("/staff", "/staff/mail", "/staff/outbox/failed"):
        response = await client.get(path)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/staff/login?next=")


async def test_login_then_home_then_logout(client: Client, services: Services) -> None:
    await make_staff(services)
    await login(client)
    home = await client.get("/staff")
    assert home.status_code == 200
    assert "佐藤 花子" in home.text
    assert 'href="/staff/queue"' in home.text
    assert 'href="/staff/mail"' in home.text  # dev without SMTP: the catcher is on
    assert 'href="/staff/outbox/failed"' in home.text

    token = await form_token(client, "/staff")
    out = await client.post("/staff/logout", data={"_csrf_token": token})
    assert out.status_code == 303
    assert out.headers["location"] == "/staff/login"
    assert (await client.get("/staff")).status_code == 303

    async with services.db.transaction() as session:
        actions = list(await session.scalars(select(AuditEntry.action)))
    assert "staff.login" in actions


async def test_logout_needs_the_csrf_token(client: Client, services: Services) -> None:
    await make_staff(services)
    await login(client)
    assert (await client.post("/staff/logout")).status_code == 403
    assert (await client.get("/staff")).status_code == 200  # still logged in


WRONG = "ユーザー名またはパスワードが正しくないか、ログインの失敗が続いたため"
LIMITED = "この端末からのログインの試行が多すぎます。"


async def test_wrong_password_and_unknown_user_get_the_same_answer(
    client: Client, services: Services
) -> None:
    await make_staff(services)
    wrong = await post_login(client, "sato", "not-the-password-at-all")
    unknown = await post_login(client, "nobody", "not-the-password-at-all")
    for response in (wrong, unknown):
        assert response.status_code == 200
        assert WRONG in response.text
        assert not any(c.startswith("session=") for c in response.headers.get_list("set-cookie"))
    assert 'value="sato"' in wrong.text  # the username is kept, the password is not
    assert "not-the-password-at-all" not in wrong.text


def _answer(response: Any, username: str) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, headers and body, with the username the form echoes written as USERNAME."""
    headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() != "date"]
    return response.status_code, headers, response.content.replace(username.encode(), b"USERNAME")


async def test_a_locked_account_answers_as_an_unknown_one_byte_for_byte(
    client: Client, services: Services
) -> None:
    await make_staff(services)
    for _ in range(MAX_FAILED_ATTEMPTS):
        await post_login(client, "sato", "not-the-password-at-all")
    async with services.db.transaction() as session:
        assert (await get_staff(session, "sato")).locked_until is not None
    for password in (STAFF_PASSWORD, "not-the-password-at-all"):
        locked = await post_login(client, "sato", password)  # the right password, too late
        unknown = await post_login(client, "kato", password)  # as long: Content-Length alike
        assert _answer(locked, "sato") == _answer(unknown, "kato")
        assert locked.status_code == 200
        assert WRONG in locked.text
    assert (await client.get("/staff")).status_code == 303
    english = await client.get("/staff/login?lang=en")
    assert english.status_code == 200
    again = await post_login(client, "sato")
    assert "or the account is locked after failed logins" in again.text


async def test_one_client_gets_a_limited_number_of_failed_logins(
    client: Client, services: Services
) -> None:
    await make_staff(services)
    limit = StaffLoginLimits().per_client
    # Failures on many usernames, known or not, all count for the client; a success does not.
    for attempt in range(limit - 1):
        name = "sato" if attempt % 4 == 0 else f"guess{attempt}"
        answer = await post_login(client, name, f"guess-{attempt}")
        assert answer.status_code == 200
        if attempt % 4 == 3:  # before the account locks (5 in a row), log in: not counted
            await login(client)
            await client.post(
                "/staff/logout", data={"_csrf_token": await form_token(client, "/staff")}
            )
    assert (await post_login(client, "nobody", "one-more-guess")).status_code == 200
    unknown = await post_login(client, "kato", "over-the-limit")
    known = await post_login(client, "sato")  # the right password, over the limit
    for response in (unknown, known):
        assert response.status_code == 429
        assert response.headers["retry-after"] == "60"
        assert LIMITED in response.text
        assert WRONG not in response.text
    assert _answer(unknown, "kato") == _answer(known, "sato")
    assert (await client.get("/staff")).status_code == 303


async def test_login_returns_to_the_page_asked_for(client: Client, services: Services) -> None:
    await make_staff(services)
    first = await client.get("/staff/outbox/failed")
    target = first.headers["location"]
    form = await client.get(target)
    assert 'name="next" value="/staff/outbox/failed"' in form.text
    response = await post_login(client, "sato", next_path="/staff/outbox/failed")
    assert response.status_code == 303
    assert response.headers["location"] == "/staff/outbox/failed"


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/staff/mail/3", "/staff/mail/3"),
        ("/staff", "/staff"),
        ("https://evil.example/staff", "/staff"),
        ("//evil.example/staff", "/staff"),
        ("/staff\\@evil.example", "/staff"),
        ("/staff/login", "/staff"),
        ("/apply", "/staff"),
        ("", "/staff"),
    ],
)
def test_next_stays_on_staff_pages(target: str, expected: str) -> None:
    assert safe_next(target) == expected


async def test_disabling_ends_the_session(client: Client, services: Services) -> None:
    await make_staff(services)
    await login(client)
    async with services.db.transaction() as session:
        await disable_staff(session, "sato")
    assert (await client.get("/staff")).status_code == 303


async def test_a_password_change_ends_other_sessions(client: Client, services: Services) -> None:
    await make_staff(services)
    await login(client)
    async with services.db.transaction() as session:
        user = await get_staff(session, "sato")
        await set_staff_password(session, user, "another-long-passphrase-77", actor_id=None)
    assert (await client.get("/staff")).status_code == 303


async def test_a_role_without_access_gets_a_forbidden_page(
    client: Client, services: Services
) -> None:
    await make_staff(services, "tanaka", Role.COUNTER, display_name="田中")
    await login(client, "tanaka")
    response = await client.get("/staff/outbox/failed")
    assert response.status_code == 403
    assert "この操作を行う権限がありません。" in response.text
    assert "<code>staff_forbidden</code>" in response.text
    # A staff page's error leads back to the staff home, not to the patrons' home page.
    assert '<p><a href="/staff">職員ホーム</a></p>' in response.text
    assert '<a href="/">' not in response.text.split("<main", 1)[1]
    missing = await client.get("/staff/mail/2147483647?lang=en")
    assert missing.status_code in {403, 404}
    assert '<p><a href="/staff">Staff home</a></p>' in missing.text
    patrons = await client.get("/no-such-page", headers={"Accept": "text/html"})
    assert '<p><a href="/">' in patrons.text
