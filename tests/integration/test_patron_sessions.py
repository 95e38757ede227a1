"""Patron sessions over HTTP on both engines: "keep me signed in on this device".

The session cookie lasts 12 hours; a device cookie signs the patron in again after that,
with a rolling expiry, until logout on that device, a password change, or the end of
``patrons.keep_signed_in_days``. Time moves with time-machine; the test client's cookie jar
follows the same clock, so an expired cookie is gone from it as it would be from a browser.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from cardservice.patrons.devices import purge_devices
from cardservice.services import Services
from tests.unit.patrons.support import (
    NEW_PASSWORD,
    PASSWORD,
    devices_of,
    log_in,
    make_patron,
    post_login,
    post_page_form,
    set_cookie,
)
from tests.web_support import Client, csrf_from, make_staff, web_client, with_free_catcher_port

DEVICE = "patron_device"
START = datetime(2027, 6, 1, 0, 0, tzinfo=UTC)


@pytest.fixture
async def client(services: Services) -> AsyncIterator[Client]:
    async with web_client(with_free_catcher_port(services.settings), mail=False) as running:
        yield running


def drop_session(client: Client) -> None:
    """What a browser does when the 12-hour session cookie runs out."""
    client.cookies.delete("session")


async def test_keep_signed_in_sets_a_long_lived_cookie_and_a_hashed_row(
    client: Client, services: Services
) -> None:
    card = await make_patron(services)
    response = await log_in(client, card.user_number, keep=True)
    cookie = set_cookie(response, DEVICE)
    days = services.settings.profile.patrons.keep_signed_in_days
    assert f"max-age={days * 24 * 60 * 60}" in cookie or f"max-age={days * 86400 - 1}" in cookie
    for flag in ("httponly", "samesite=lax", "path=/"):
        assert flag in cookie
    assert "secure" not in cookie  # dev mode; production is tested below
    token = client.cookies[DEVICE]
    [device] = await devices_of(services, card.patron_id)
    assert device.token_hash != token
    assert len(token) >= 43  # 256 random bits, URL-safe
    assert device.expires_at - device.created_at == timedelta(days=days)


async def test_without_the_tick_there_is_no_device(client: Client, services: Services) -> None:
    card = await make_patron(services)
    response = await log_in(client, card.user_number)
    assert set_cookie(response, DEVICE) == ""
    assert await devices_of(services, card.patron_id) == []
    drop_session(client)
    assert (await client.get("/my")).headers["location"] == "/login?next=/my"


async def test_the_device_signs_in_again_after_the_session_cookie_is_gone(
    client: Client, services: Services
) -> None:
    card = await make_patron(services)
    with time_machine.travel(START, tick=False) as traveller:
        await log_in(client, card.user_number, keep=True)
        [before] = await devices_of(services, card.patron_id)
        traveller.shift(timedelta(days=10))
        drop_session(client)
        page = await client.get("/card")
        assert page.status_code == 200, page.headers.get("location")
        assert card.user_number in page.text
        # A new session was started, and the device's expiry rolled on from today.
        assert set_cookie(page, "session")
        assert set_cookie(page, DEVICE)
        [after] = await devices_of(services, card.patron_id)
        assert after.id == before.id
        assert after.expires_at == before.expires_at + timedelta(days=10)
        assert after.last_used_at == START + timedelta(days=10)
        assert (await client.get("/my")).status_code == 200


async def test_a_stale_session_is_renewed_by_the_device(client: Client, services: Services) -> None:
    card = await make_patron(services)
    other = await make_patron(services, email="jiro@example.org", given="次郎")
    with time_machine.travel(START, tick=False) as traveller:
        await log_in(client, card.user_number, keep=True)
        async with web_client(
            with_free_catcher_port(services.settings), mail=False
        ) as plain:  # logged in without the tick
            await log_in(plain, other.user_number)
            traveller.shift(timedelta(hours=13))
            assert (await plain.get("/card")).status_code == 303
            assert (await client.get("/card")).status_code == 200


async def test_the_device_ends_after_its_days_without_a_visit(
    client: Client, services: Services
) -> None:
    card = await make_patron(services)
    days = services.settings.profile.patrons.keep_signed_in_days
    with time_machine.travel(START, tick=False) as traveller:
        await log_in(client, card.user_number, keep=True)
        token = client.cookies[DEVICE]
        traveller.shift(timedelta(days=days, seconds=1))
        client.cookies.set(DEVICE, token)  # even if the browser still sent it
        drop_session(client)
        answer = await client.get("/my")
        assert answer.status_code == 303
        assert answer.headers["location"] == "/login?next=/my"
        assert "max-age=0" in set_cookie(answer, DEVICE)
        assert await devices_of(services, card.patron_id) == []


async def test_logout_ends_this_device_only(client: Client, services: Services) -> None:
    card = await make_patron(services)
    await log_in(client, card.user_number, keep=True)
    async with web_client(with_free_catcher_port(services.settings), mail=False) as phone:
        await log_in(phone, card.user_number, keep=True)
        assert len(await devices_of(services, card.patron_id)) == 2
        page = await client.get("/my")
        out = await client.post("/logout", data={"_csrf_token": csrf_from(page.text)})
        assert out.status_code == 303
        assert "max-age=0" in set_cookie(out, DEVICE)
        assert len(await devices_of(services, card.patron_id)) == 1
        drop_session(client)
        assert (await client.get("/my")).status_code == 303
        drop_session(phone)  # the other device stays signed in
        assert (await phone.get("/my")).status_code == 200


async def test_a_password_change_ends_every_device(client: Client, services: Services) -> None:
    card = await make_patron(services)
    await log_in(client, card.user_number, keep=True)
    async with web_client(with_free_catcher_port(services.settings), mail=False) as phone:
        await log_in(phone, card.user_number, keep=True)
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
        assert await devices_of(services, card.patron_id) == []
        assert "max-age=0" in set_cookie(changed, DEVICE)
        # This session goes on; the other device's session and its device cookie do not.
        assert (await client.get("/my")).status_code == 200
        assert (await phone.get("/my")).status_code == 303
        drop_session(phone)
        assert (await phone.get("/my")).status_code == 303
        drop_session(client)
        assert (await client.get("/my")).status_code == 303


async def test_a_forged_or_unknown_device_cookie_signs_nobody_in(
    client: Client, services: Services
) -> None:
    await make_patron(services)
    for value in ("x" * 43, "", "y" * 500):
        client.cookies.set(DEVICE, value)
        answer = await client.get("/my")
        assert answer.status_code == 303
        assert answer.headers["location"] == "/login?next=/my"


async def test_staff_pages_ignore_a_patron_device(client: Client, services: Services) -> None:
    card = await make_patron(services)
    await make_staff(services)
    await log_in(client, card.user_number, keep=True)
    drop_session(client)
    staff = await client.get("/staff")
    assert staff.status_code == 303
    assert staff.headers["location"].startswith("/staff/login")
    login_form = await client.get("/staff/login")
    assert 'name="keep"' not in login_form.text


async def test_the_login_page_offers_the_tick_in_both_languages(client: Client) -> None:
    japanese = await client.get("/login")
    assert "この端末でログインしたままにする" in japanese.text
    assert 'name="keep" type="checkbox"' in japanese.text
    english = await client.get("/login?lang=en")
    assert "Keep me signed in on this device" in english.text
    assert "For 90 days after your last visit." in english.text


async def test_a_failed_login_keeps_the_tick(client: Client, services: Services) -> None:
    card = await make_patron(services)
    answer = await post_login(client, card.user_number, "wrong-password-1!", keep=True)
    assert answer.status_code == 401
    assert 'value="on" checked' in answer.text
    assert "wrong-password-1!" not in answer.text
    assert await devices_of(services, card.patron_id) == []


async def test_production_device_cookie_is_host_prefixed_and_secure(services: Services) -> None:
    card = await make_patron(services)
    settings = with_free_catcher_port(
        services.settings,
        mode="production",
        smtp_url="smtp://127.0.0.1:1",
        base_url="https://cards.example.org",
    )
    async with web_client(settings, mail=False) as production:
        response = await log_in(production, card.user_number, keep=True)
        cookie = set_cookie(response, "__Host-patron_device")
        for flag in ("secure", "httponly", "samesite=lax", "path=/"):
            assert flag in cookie
        assert "domain=" not in cookie


async def test_expired_devices_are_purged(services: Services) -> None:
    card = await make_patron(services)
    with time_machine.travel(START, tick=False):
        async with web_client(with_free_catcher_port(services.settings), mail=False) as phone:
            await log_in(phone, card.user_number, keep=True)
    days = services.settings.profile.patrons.keep_signed_in_days
    async with services.db.transaction() as session:
        assert await purge_devices(session, now=START + timedelta(days=days - 1)) == 0
        assert await purge_devices(session, now=START + timedelta(days=days)) == 1
    assert await devices_of(services, card.patron_id) == []
