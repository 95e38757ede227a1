"""A database the command cannot use, as an operator meets it: a server that does not
answer, a data directory that is not there or cannot be written, a schema never migrated.
Each command ends with one line naming the database (its password hidden) or the path, and
exit status 1, never a traceback."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.cli_support import Ran, cardservice, free_port

# A command of each kind: a read, a write, the migration and the scheduled jobs.
COMMANDS = [("staff", "list"), ("apikey", "create", "scanner"), ("migrate",), ("jobs",)]


def one_line(ran: Ran) -> str:
    assert ran.code == 1, ran
    assert "Traceback" not in ran.err, ran.err
    assert ran.err.count("\n") == 1, ran.err
    assert ran.err.startswith("Error: "), ran.err
    return ran.err


@pytest.mark.parametrize("args", COMMANDS)
def test_a_database_server_that_does_not_answer(tmp_path: Path, args: tuple[str, ...]) -> None:
    port = free_port()
    env = {
        "CARDSERVICE_DATA_DIR": str(tmp_path),
        "CARDSERVICE_DATABASE_URL": f"postgresql+asyncpg://cards:s3cret@127.0.0.1:{port}/cards",
    }
    err = one_line(cardservice(env, *args, ok=False))
    assert f"database postgresql+asyncpg://cards:***@127.0.0.1:{port}/cards: " in err
    assert "Connect call failed" in err
    assert "s3cret" not in err


@pytest.mark.parametrize("args", [("staff", "list"), ("jobs",), ("card", "suspend", "2000000014")])
def test_a_data_directory_not_made_yet(tmp_path: Path, args: tuple[str, ...]) -> None:
    env = {"CARDSERVICE_DATA_DIR": str(tmp_path / "data")}
    err = one_line(cardservice(env, *args, ok=False))
    assert f"{tmp_path / 'data'} does not exist; run `cardservice migrate` first" in err


@pytest.mark.parametrize("args", COMMANDS[:2] + COMMANDS[3:])
def test_a_schema_never_migrated(tmp_path: Path, args: tuple[str, ...]) -> None:
    env = {"CARDSERVICE_DATA_DIR": str(tmp_path)}
    cardservice(env, "keys", "list")  # makes the data directory, not the tables
    (tmp_path / "cardservice.db").touch()
    err = one_line(cardservice(env, *args, ok=False))
    assert "no such table" in err
    assert err.endswith("; run `cardservice migrate` first\n"), err


@pytest.mark.parametrize("args", [("migrate",), ("keys", "list"), ("staff", "list"), ("demo",)])
def test_a_data_directory_that_cannot_be_made(tmp_path: Path, args: tuple[str, ...]) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    env = {"CARDSERVICE_DATA_DIR": str(blocker / "data")}
    err = one_line(cardservice(env, *args, ok=False))
    assert str(blocker) in err
    assert "Not a directory" in err or "does not exist" in err


def test_serving_without_migrating_a_schema_that_is_behind(tmp_path: Path) -> None:
    """``serve --no-migrate`` needs the schema current: never migrated, or migrated by an
    older version, it stops at once saying to migrate, instead of serving pages and jobs that
    fail on missing tables."""
    env = {"CARDSERVICE_DATA_DIR": str(tmp_path)}
    cardservice(env, "keys", "list")  # the data directory, no tables
    (tmp_path / "cardservice.db").touch()
    args = ("serve", "--no-migrate", "--port", str(free_port()))
    assert "run `cardservice migrate` first" in one_line(cardservice(env, *args, ok=False))

    cardservice(env, "migrate")
    with sqlite3.connect(tmp_path / "cardservice.db") as older:  # as an older version left it
        older.execute("DELETE FROM alembic_version")
        older.execute("INSERT INTO alembic_version VALUES ('0006')")
    err = one_line(cardservice(env, *args, ok=False))
    assert "the schema is not up to date; run `cardservice migrate` first" in err
