"""The `cardservice` command against a real database, on both engines."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from cardservice.cli import main
from cardservice.settings import Settings


@pytest.fixture
def env(empty_db: Settings, data_dir: Path) -> dict[str, str]:
    return {
        "CARDSERVICE_DATA_DIR": str(data_dir),
        "CARDSERVICE_DATABASE_URL": empty_db.database_url,
        "CARDSERVICE_BASE_URL": empty_db.base_url,
    }


def run(env: dict[str, str], *args: str) -> str:
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def fail(env: dict[str, str], *args: str) -> str:
    result = CliRunner().invoke(main, list(args), env=env)
    assert result.exit_code != 0
    return result.output


def test_patron_card_and_key_life_cycle(env: dict[str, str]) -> None:
    out = run(
        env, "patron", "create", "--family-name", "山田", "--given-name", "花子",
        "--family-kana", "やまだ", "--given-kana", "ﾊﾅｺ", "--birth-date", "1990-04-01",
        "--email", "Hanako@Example.org",
    )  # fmt: skip
    number = re.search(r"user number (\S+),", out).group(1)  # type: ignore[union-attr]
    second = run(
        env, "patron", "create", "--family-name", "鈴木", "--given-name", "一郎",
        "--family-kana", "すずき", "--given-kana", "いちろう", "--birth-date", "1985-01-02",
        "--email", "ichiro@example.org",
    )  # fmt: skip
    assert number not in second

    assert "suspended" in run(env, "card", "suspend", number)
    assert "active" in run(env, "card", "reinstate", number)
    assert "revoked (lost)" in run(env, "card", "revoke", f"A{number}A", "--reason", "lost")
    assert "card_already_revoked" in fail(env, "card", "revoke", number, "--reason", "lost")
    assert "card_not_found" in fail(env, "card", "suspend", "2000000998")

    created = run(env, "apikey", "create", "counter 1")
    key_id = re.search(r"key (\d+) ", created).group(1)  # type: ignore[union-attr]
    plain = created.split(": ", 1)[1].strip()
    listed = run(env, "apikey", "list")
    assert "counter 1" in listed
    assert "active" in listed
    assert plain not in listed  # the key itself is shown once, never again
    run(env, "apikey", "revoke", key_id)
    assert "revoked" in run(env, "apikey", "list")
    assert "api_key_not_found" in fail(env, "apikey", "revoke", "999")


def test_bad_kana_is_refused(env: dict[str, str]) -> None:
    out = fail(
        env, "patron", "create", "--family-name", "X", "--given-name", "Y",
        "--family-kana", "yamada", "--given-kana", "ハナコ", "--birth-date", "1990-04-01",
        "--email", "x@example.org",
    )  # fmt: skip
    assert "kana_invalid" in out


def test_keys_rotate_list_and_prune(tmp_path: Path) -> None:
    env = {"CARDSERVICE_DATA_DIR": str(tmp_path)}
    first = run(env, "keys", "list")
    assert first.count("\n") == 1
    assert "signing" in first
    rotated = run(env, "keys", "rotate", "--overlap-hours", "48")
    assert "published now" in rotated
    listed = run(env, "keys", "list").splitlines()
    assert len(listed) == 2
    assert [line.split("\t")[1] for line in listed].count("signing") == 1
    assert "removed: none" in run(env, "keys", "prune")
    assert (tmp_path / "keys").stat().st_mode & 0o777 == 0o700


def test_configuration_error_is_reported(tmp_path: Path) -> None:
    out = fail({"CARDSERVICE_DATA_DIR": str(tmp_path), "CARDSERVICE_PROFILE": "nowhere"}, "migrate")
    assert "CARDSERVICE_PROFILE" in out
