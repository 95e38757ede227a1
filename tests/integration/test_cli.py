"""The `cardservice` command as an operator runs it (the console script in a subprocess,
each command a fresh process) against a real database, on both engines: patrons, cards and
API keys, signing keys, and what each writes to the audit log."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from cardservice.cards.keys import Keyring
from cardservice.cli.common import cli_actor
from cardservice.db.engine import Database
from cardservice.settings import Settings
from cardservice.staff.models import AuditEntry
from tests.cli_support import cardservice, cli_env


@pytest.fixture
def env(empty_db: Settings, data_dir: Path) -> dict[str, str]:
    return cli_env(empty_db, data_dir)


def audit_entries(settings: Settings) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(action, target type, target id, detail) of every entry, oldest first."""

    async def read() -> list[tuple[str, str, str, dict[str, Any]]]:
        db = Database(settings.async_database_url)
        try:
            async with db.transaction() as session:
                rows = await session.scalars(select(AuditEntry).order_by(AuditEntry.id))
                return [(r.action, r.target_type, r.target_id, dict(r.detail)) for r in rows]
        finally:
            await db.dispose()

    return asyncio.run(read())


def create_patron(env: dict[str, str], email: str, kana: tuple[str, str]) -> str:
    out = cardservice(
        env, "patron", "create", "--family-name", "山田", "--given-name", "花子",
        "--family-kana", kana[0], "--given-kana", kana[1], "--birth-date", "1990-04-01",
        "--email", email,
    ).out  # fmt: skip
    found = re.search(r"user number (\S+),", out)
    assert found is not None, out
    return found.group(1)


def test_patron_card_and_key_life_cycle(env: dict[str, str], empty_db: Settings) -> None:
    number = create_patron(env, "Hanako@Example.org", ("やまだ", "ﾊﾅｺ"))
    second = create_patron(env, "ichiro@example.org", ("すずき", "いちろう"))
    assert number != second

    # Each is a fresh process: no earlier command has imported the models for it.
    assert cardservice(env, "card", "suspend", number).out == "suspended\n"
    assert cardservice(env, "card", "reinstate", number).out == "active\n"
    revoked = cardservice(env, "card", "revoke", f"A{number}A", "--reason", "lost")
    assert revoked.out == "revoked (lost)\n"
    again = cardservice(env, "card", "revoke", number, "--reason", "lost", ok=False)
    assert "card_already_revoked" in again.err
    assert "card_not_found" in cardservice(env, "card", "suspend", "2000000998", ok=False).err

    created = cardservice(env, "apikey", "create", "counter 1").out
    found = re.search(r"key (\d+) \(counter 1\): (csk_\S+)", created)
    assert found is not None, created
    key_id, plain = found.groups()
    listed = cardservice(env, "apikey", "list").out
    assert "counter 1" in listed
    assert "active" in listed
    assert plain not in listed  # the key itself is shown once, never again
    cardservice(env, "apikey", "revoke", key_id)
    assert "revoked" in cardservice(env, "apikey", "list").out
    assert "api_key_not_found" in cardservice(env, "apikey", "revoke", "999", ok=False).err

    actor = cli_actor()
    entries = audit_entries(empty_db)
    assert [(action, target) for action, _, target, _ in entries] == [
        ("card.issue", number),
        ("card.issue", second),
        ("card.suspend", number),
        ("card.reinstate", number),
        ("card.revoke", number),
        ("api_key.create", key_id),
        ("api_key.revoke", key_id),
    ]
    assert {detail["actor"] for *_, detail in entries} == {actor}
    assert actor.startswith("cli:")
    create_detail = entries[5][3]
    assert (create_detail["name"], create_detail["prefix"]) == ("counter 1", plain[:12])
    assert all(plain not in str(detail) for *_, detail in entries)


def test_bad_kana_is_refused(env: dict[str, str]) -> None:
    out = cardservice(
        env, "patron", "create", "--family-name", "X", "--given-name", "Y",
        "--family-kana", "yamada", "--given-kana", "ハナコ", "--birth-date", "1990-04-01",
        "--email", "x@example.org", ok=False,
    )  # fmt: skip
    assert "kana_invalid" in out.err


def test_keys_rotate_list_and_prune(tmp_path: Path) -> None:
    env = {"CARDSERVICE_DATA_DIR": str(tmp_path)}
    first = cardservice(env, "keys", "list").out
    assert first.count("\n") == 1
    assert "signing" in first
    rotated = cardservice(env, "keys", "rotate", "--overlap-hours", "48").out
    assert "published now, signs from " in rotated
    listed = cardservice(env, "keys", "list").out.splitlines()
    assert len(listed) == 2
    assert [line.split("\t")[1] for line in listed] == ["signing", "published"]
    assert "removed: none" in cardservice(env, "keys", "prune").out
    assert (tmp_path / "keys").stat().st_mode & 0o777 == 0o700


def test_rotating_with_no_overlap_signs_with_the_new_key_at_once(tmp_path: Path) -> None:
    env = {"CARDSERVICE_DATA_DIR": str(tmp_path)}
    old = cardservice(env, "keys", "list").out.split("\t")[0]
    rotated = cardservice(env, "keys", "rotate", "--overlap-hours", "0").out
    found = re.fullmatch(r"new key (\S+) published now, signs now\n", rotated)
    assert found is not None, rotated
    new = found.group(1)
    listed = [line.split("\t") for line in cardservice(env, "keys", "list").out.splitlines()]
    assert [(kid, mark) for kid, mark, *_ in listed] == [(old, "published"), (new, "signing")]
    # The old key keeps verifying what it signed: published until its last token expires.
    now = datetime.now(UTC)
    ring = Keyring.load_or_create(tmp_path / "keys", now=now)
    (old_key,) = [key for key in ring.keys if key.kid == old]
    assert old_key.verify_until is not None
    assert (old_key.verify_until - now).days > 365
    assert {key["kid"] for key in ring.jwks(now)["keys"]} == {old, new}
    # The setting means the same: 0 is now, not "unset".
    zero = {**env, "CARDSERVICE_KEY_OVERLAP_HOURS": "0"}
    assert cardservice(zero, "keys", "rotate").out.endswith("signs now\n")
    negative = cardservice(env, "keys", "rotate", "--overlap-hours", "-1", ok=False)
    assert "-1" in negative.err


def test_configuration_error_is_reported(tmp_path: Path) -> None:
    env = {"CARDSERVICE_DATA_DIR": str(tmp_path), "CARDSERVICE_PROFILE": "nowhere"}
    assert "CARDSERVICE_PROFILE" in cardservice(env, "migrate", ok=False).err


def test_key_commands_report_bad_configuration_in_one_line(tmp_path: Path) -> None:
    env = {"CARDSERVICE_DATA_DIR": str(tmp_path)}
    cardservice(env, "keys", "list")
    negative = {**env, "CARDSERVICE_KEY_OVERLAP_HOURS": "-1"}
    refused = cardservice(negative, "keys", "rotate", ok=False)
    assert refused.err == (
        "Error: configuration: CARDSERVICE_KEY_OVERLAP_HOURS: must be between 0 and 8760\n"
    ), refused.err
    (tmp_path / "keys" / "keyring.json").write_text("{not json")
    for command in ("list", "rotate", "prune"):
        broken = cardservice(env, "keys", command, ok=False)
        assert broken.err.startswith("Error: configuration: "), broken.err
        assert "keyring.json: unreadable" in broken.err
        assert "Traceback" not in broken.err
