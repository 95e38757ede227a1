"""Staff accounts on both engines: creation, login, lockout, unlock, disabling, roles."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from cardservice.errors import Forbidden, InvalidInput
from cardservice.security.passwords import PasswordRejected
from cardservice.services import Services
from cardservice.staff.audit import recent
from cardservice.staff.models import Role, StaffUser
from cardservice.staff.service import (
    LOCKOUT,
    MAX_FAILED_ATTEMPTS,
    StaffBadCredentials,
    StaffExists,
    StaffLoginLimited,
    StaffLoginLimits,
    authenticate,
    create_staff,
    disable_staff,
    get_staff,
    require_role,
    unlock_staff,
)

PASSWORD = "kashiwa reading room 7"
T0 = datetime(2030, 4, 1, 9, tzinfo=UTC)


async def _create(services: Services, username: str = "sato", role: Role = Role.REVIEWER) -> int:
    async with services.db.transaction() as session:
        user = await create_staff(session, username, PASSWORD, role, display_name="佐藤")
        return user.id


async def _login_code(services: Services, username: str, password: str) -> str:
    with pytest.raises(StaffBadCredentials) as caught:
        await authenticate(services.db, username, password)
    return caught.value.code


async def _get(services: Services, username: str) -> StaffUser:
    async with services.db.transaction() as session:
        return await get_staff(session, username)


async def test_create_and_log_in(services: Services) -> None:
    await _create(services, "Sato")
    user = await authenticate(services.db, "SATO", PASSWORD)
    assert (user.username, user.role, user.display_name) == ("sato", "reviewer", "佐藤")
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash
    assert user.last_login_at is not None
    async with services.db.transaction() as session:
        actions = [e.action for e in await recent(session, 10)]
    assert actions == ["staff.login", "staff.create"]


async def test_staff_passwords_need_twelve_characters(services: Services) -> None:
    async with services.db.transaction() as session:
        with pytest.raises(PasswordRejected) as caught:
            await create_staff(session, "sato", "elevenchars", Role.ADMIN)
    assert caught.value.code == "password_too_short"
    async with services.db.transaction() as session:
        with pytest.raises(PasswordRejected) as caught:
            await create_staff(session, "sato", "1qaz2wsx3edc", Role.ADMIN)
    assert caught.value.code == "password_common"


@pytest.mark.parametrize(
    ("username", "role", "code"),
    [("x", "admin", "staff_bad_username"), ("a b", "admin", "staff_bad_username"),
     ("sato", "janitor", "staff_bad_role")],
)  # fmt: skip
async def test_bad_account_details(services: Services, username: str, role: str, code: str) -> None:
    async with services.db.transaction() as session:
        with pytest.raises(InvalidInput) as caught:
            await create_staff(session, username, PASSWORD, role)
    assert caught.value.code == code


async def test_usernames_are_unique_ignoring_case(services: Services) -> None:
    await _create(services, "sato")
    with pytest.raises(StaffExists):
        await _create(services, "SATO")


async def test_wrong_username_and_wrong_password_look_the_same(services: Services) -> None:
    await _create(services)
    started = time.perf_counter()
    unknown = await _login_code(services, "nobody", PASSWORD)
    unknown_time = time.perf_counter() - started
    started = time.perf_counter()
    wrong = await _login_code(services, "sato", "not the password")
    wrong_time = time.perf_counter() - started
    assert unknown == wrong == "staff_bad_credentials"
    # Both ran one Argon2 verification; a skipped one would be ten times faster.
    assert unknown_time > wrong_time / 3, (unknown_time, wrong_time)


async def test_lockout_after_five_failures_for_fifteen_minutes(services: Services) -> None:
    await _create(services)
    with time_machine.travel(T0, tick=False):
        for _ in range(MAX_FAILED_ATTEMPTS):
            assert await _login_code(services, "sato", "wrong password") == "staff_bad_credentials"
        assert (await _get(services, "sato")).locked_until == T0 + LOCKOUT
        # Locked: even the right password fails, with the answer a stranger gets.
        assert await _login_code(services, "sato", PASSWORD) == "staff_bad_credentials"
        assert await _login_code(services, "sato", "wrong password") == "staff_bad_credentials"
    with time_machine.travel(T0 + LOCKOUT - timedelta(seconds=1), tick=False):
        assert await _login_code(services, "sato", PASSWORD) == "staff_bad_credentials"
    with time_machine.travel(T0 + LOCKOUT, tick=False):
        user = await authenticate(services.db, "sato", PASSWORD)
    assert (user.failed_attempts, user.locked_until) == (0, None)
    async with services.db.transaction() as session:
        actions = [e.action for e in await recent(session, 10)]
    assert "staff.lock" in actions


async def test_success_resets_the_failure_count(services: Services) -> None:
    await _create(services)
    for _ in range(MAX_FAILED_ATTEMPTS - 1):
        await _login_code(services, "sato", "wrong password")
    await authenticate(services.db, "sato", PASSWORD)
    for _ in range(MAX_FAILED_ATTEMPTS - 1):
        await _login_code(services, "sato", "wrong password")
    assert (await authenticate(services.db, "sato", PASSWORD)).username == "sato"


async def test_concurrent_failures_all_count(services: Services) -> None:
    await _create(services)
    results = await asyncio.gather(
        *(authenticate(services.db, "sato", "wrong password") for _ in range(MAX_FAILED_ATTEMPTS)),
        return_exceptions=True,
    )
    assert all(isinstance(r, StaffBadCredentials) for r in results)
    assert (await _get(services, "sato")).locked_until is not None
    assert await _login_code(services, "sato", PASSWORD) == "staff_bad_credentials"


async def test_unlock_lifts_the_lock(services: Services) -> None:
    await _create(services)
    for _ in range(MAX_FAILED_ATTEMPTS):
        await _login_code(services, "sato", "wrong password")
    assert (await _get(services, "sato")).locked_until is not None
    async with services.db.transaction() as session:
        await unlock_staff(session, "sato")
    assert (await authenticate(services.db, "sato", PASSWORD)).username == "sato"


async def test_disabled_account_cannot_log_in(services: Services) -> None:
    await _create(services)
    async with services.db.transaction() as session:
        await disable_staff(session, "sato")
    assert await _login_code(services, "sato", PASSWORD) == "staff_bad_credentials"
    user = await _get(services, "sato")
    assert user.disabled_at is not None
    with pytest.raises(Forbidden):
        require_role(user, Role.REVIEWER)


async def test_roles(services: Services) -> None:
    for name, role in (("rev", Role.REVIEWER), ("cnt", Role.COUNTER), ("adm", Role.ADMIN)):
        await _create(services, name, role)
    reviewer, counter, admin = [await _get(services, n) for n in ("rev", "cnt", "adm")]
    require_role(reviewer, Role.REVIEWER)
    require_role(counter, Role.COUNTER, Role.REVIEWER)
    for role in Role:
        require_role(admin, role)  # admin may do everything
    with pytest.raises(Forbidden) as caught:
        require_role(counter, Role.REVIEWER)
    assert caught.value.code == "staff_forbidden"
    with pytest.raises(Forbidden):
        require_role(reviewer, Role.ADMIN)


async def test_one_client_is_limited_whatever_usernames_it_tries(services: Services) -> None:
    await _create(services)
    limits = StaffLoginLimits(per_client=3)

    async def attempt(username: str, password: str, client: str = "198.51.100.1") -> str:
        try:
            await authenticate(services.db, username, password, client=client, limits=limits)
        except (StaffBadCredentials, StaffLoginLimited) as error:
            return error.code
        return "ok"

    assert await attempt("sato", "wrong password") == "staff_bad_credentials"
    assert await attempt("sato", PASSWORD) == "ok"  # a success gives its count back
    assert await attempt("nobody", "wrong password") == "staff_bad_credentials"
    assert await attempt("kato", "wrong password") == "staff_bad_credentials"  # the third
    # Over the limit: refused before any password is checked, known or unknown account.
    assert await attempt("sato", PASSWORD) == "staff_login_limited"
    assert await attempt("nobody", PASSWORD) == "staff_login_limited"
    # Another client, and the CLI (no client), are not held back by this one.
    assert await attempt("sato", PASSWORD, client="198.51.100.2") == "ok"
    assert (await authenticate(services.db, "sato", PASSWORD)).username == "sato"
