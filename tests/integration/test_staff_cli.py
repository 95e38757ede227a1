"""`cardservice staff ...` as an operator runs it (the console script in a subprocess),
against a real database, on both engines."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from cardservice.cli.common import cli_actor
from cardservice.db.engine import Database
from cardservice.settings import Settings
from cardservice.staff.service import MAX_FAILED_ATTEMPTS, StaffBadCredentials, authenticate
from tests.cli_support import cardservice, cli_env
from tests.integration.test_cli import audit_entries

PASSWORD = "kashiwa reading room 7"


@pytest.fixture
def env(empty_db: Settings, data_dir: Path) -> dict[str, str]:
    return cli_env(empty_db, data_dir)


def run(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    """The command's standard output and error, as a terminal shows both."""
    ran = cardservice(env, *args, stdin=stdin)
    return ran.out + ran.err


def fail(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    ran = cardservice(env, *args, stdin=stdin, ok=False)
    return ran.out + ran.err


def test_staff_life_cycle(env: dict[str, str], empty_db: Settings) -> None:
    out = run(
        env, "staff", "create", "Sato", "--role", "reviewer", "--password-stdin",
        stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert "staff sato created (reviewer)" in out
    assert PASSWORD not in out
    listed = run(env, "staff", "list")
    assert "\tsato\treviewer\tactive" in listed
    assert "staff_exists" in fail(
        env, "staff", "create", "sato", "--role", "admin", "--password-stdin", stdin=PASSWORD
    )
    assert "password_common" in fail(
        env, "staff", "create", "kato", "--role", "admin", "--password-stdin",
        stdin="1qaz2wsx3edc\n",
    )  # fmt: skip
    assert "staff sato unlocked" in run(env, "staff", "unlock", "sato")
    assert "staff sato disabled" in run(env, "staff", "disable", "sato")
    assert "\tsato\treviewer\tdisabled " in run(env, "staff", "list")
    assert "staff_not_found" in fail(env, "staff", "disable", "nobody")
    entries = audit_entries(empty_db)
    assert [action for action, *_ in entries] == [
        "staff.create",
        "staff.unlock",
        "staff.disable",
    ]
    assert {detail["actor"] for *_, detail in entries} == {cli_actor()}


def test_password_prompt_asks_twice_hidden(env: dict[str, str]) -> None:
    out = run(
        env, "staff", "create", "tanaka", "--role", "admin",
        stdin=f"{PASSWORD}\n{PASSWORD}\n",
    )  # fmt: skip
    assert "Repeat for confirmation" in out
    assert PASSWORD not in out  # hidden input is not echoed
    assert "staff tanaka created (admin)" in out
    mismatch = run(
        env, "staff", "create", "kato", "--role", "counter",
        stdin=f"{PASSWORD}\nsomething else\n{PASSWORD}\n{PASSWORD}\n",
    )  # fmt: skip
    assert "do not match" in mismatch
    assert "staff kato created (counter)" in mismatch


def test_role_is_required_and_checked(env: dict[str, str]) -> None:
    assert "--role" in fail(env, "staff", "create", "sato", "--password-stdin", stdin=PASSWORD)
    assert "janitor" in fail(
        env, "staff", "create", "sato", "--role", "janitor", "--password-stdin", stdin=PASSWORD
    )


def test_unlock_after_a_lockout(env: dict[str, str], empty_db: Settings) -> None:
    run(env, "staff", "create", "sato", "--role", "counter", "--password-stdin", stdin=PASSWORD)

    async def fail_logins() -> None:
        db = Database(empty_db.async_database_url)
        try:
            for _ in range(MAX_FAILED_ATTEMPTS):
                with pytest.raises(StaffBadCredentials):
                    await authenticate(db, "sato", "wrong password")
        finally:
            await db.dispose()

    asyncio.run(fail_logins())
    assert "\tsato\tcounter\tlocked until " in run(env, "staff", "list")
    run(env, "staff", "unlock", "sato")
    assert "\tsato\tcounter\tactive" in run(env, "staff", "list")
