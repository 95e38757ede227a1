"""`cardservice export patrons` run as an operator runs it (the console script in a
subprocess), on both engines: the same CSV as the administrators' download, to standard
output or to a private file, and the export in the audit log naming the operator."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import stat
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select

from cardservice.cards.models import Card
from cardservice.events.export import HEADER
from cardservice.services import Services
from cardservice.settings import Settings
from cardservice.staff.models import AuditEntry
from tests.cli_support import COMMAND, cardservice, cli_env
from tests.factories import make_card


@pytest.fixture
def env(empty_db: Settings) -> dict[str, str]:
    return cli_env(empty_db, empty_db.data_dir)


def _with_cards(settings: Settings) -> list[Card]:
    async def go() -> list[Card]:
        svc = Services.build(settings)
        try:
            await make_card(svc, email="a@example.org")
            await make_card(svc, email="b@example.org")
            async with svc.db.read() as session:
                return list(await session.scalars(select(Card).order_by(Card.id)))
        finally:
            await svc.close()

    return asyncio.run(go())


def _audited(settings: Settings) -> list[dict[str, object]]:
    async def go() -> list[dict[str, object]]:
        svc = Services.build(settings)
        try:
            async with svc.db.read() as session:
                entries = await session.scalars(
                    select(AuditEntry).where(AuditEntry.action == "export.patrons_csv")
                )
                return [entry.detail for entry in entries]
        finally:
            await svc.close()

    return asyncio.run(go())


def test_the_export_goes_to_stdout_or_a_private_file(
    env: dict[str, str], empty_db: Settings, tmp_path: Path
) -> None:
    cards = _with_cards(empty_db)
    ran = cardservice(env, "export", "patrons")
    assert ran.out.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(ran.out.removeprefix("\ufeff"), newline="")))
    assert tuple(rows[0]) == HEADER
    assert [row[0] for row in rows[1:]] == [card.user_number for card in cards]
    assert rows[1][HEADER.index("birth_date")] == "1990-04-01"
    assert rows[1][HEADER.index("expires_on")] == cards[0].expires_on.isoformat()

    target = tmp_path / "ils" / "patrons.csv"
    target.parent.mkdir()
    written = cardservice(env, "export", "patrons", "--output", str(target))
    assert f"written to {target}" in written.err
    assert stat.S_IMODE(target.stat().st_mode) == 0o600  # every patron's details
    content = target.read_bytes()
    assert content.count(b"\r\n") == 3  # CRLF lines (standard output was read as text)
    assert content.decode().replace("\r\n", "\n") == ran.out
    audited = _audited(empty_db)
    assert [entry["to"] for entry in audited] == ["stdout", "file"]
    assert all(str(entry["actor"]).startswith("cli:") for entry in audited)


def test_an_output_that_cannot_be_written_is_a_clear_error(tmp_path: Path) -> None:
    # Refused before the database is opened: no database is needed (nor exported, nor audited).
    env = {
        "CARDSERVICE_DATA_DIR": str(tmp_path / "data"),
        "CARDSERVICE_DATABASE_URL": f"sqlite:///{tmp_path / 'none.db'}",
    }
    ran = cardservice(
        env, "export", "patrons", "--output", str(tmp_path / "missing" / "p.csv"), ok=False
    )
    assert ran.code == 2
    assert "--output" in ran.err
    assert "cannot write" in ran.err
    assert "Traceback" not in ran.err


def test_a_reader_that_goes_away_is_one_line(env: dict[str, str], empty_db: Settings) -> None:
    """``cardservice export patrons | head -1``: the pipe closed before the export ends is
    said in one line, not as a database error, nor with a traceback."""
    _with_cards(empty_db)
    with subprocess.Popen(  # our own console script, fixed arguments
        [str(COMMAND), "export", "patrons"],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as export:
        assert export.stdout is not None
        assert export.stderr is not None
        export.stdout.close()  # gone before the first line is written
        err = export.stderr.read().decode()
        assert export.wait(timeout=120) == 1
    assert err == "Error: the output was closed before it was all written\n", err
