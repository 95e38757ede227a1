"""The data directory is 0700 and the SQLite files 0600 (database, WAL, shared memory),
whatever the umask, for a fresh install and for one made by an older version."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from cardservice.db.engine import Database
from cardservice.db.files import private_directory
from tests.cli_support import cardservice


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def loose_umask() -> Iterator[None]:
    """The usual umask (0644 files, 0755 directories), as an operator's shell has."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.mark.usefixtures("loose_umask")
def test_migrate_makes_a_private_data_directory(tmp_path: Path) -> None:
    data_dir = tmp_path / "srv" / "data"
    cardservice({"CARDSERVICE_DATA_DIR": str(data_dir)}, "migrate")
    assert mode(data_dir) == 0o700
    database = data_dir / "cardservice.db"
    assert mode(database) == 0o600
    assert database.stat().st_size > 0  # migrated, not just created
    assert mode(tmp_path / "srv") == 0o755  # parents are not the service's to change


@pytest.mark.usefixtures("loose_umask")
async def test_wal_and_shared_memory_files_are_private_too(tmp_path: Path) -> None:
    database = tmp_path / "cardservice.db"
    db = Database(f"sqlite+aiosqlite:///{database}")
    try:
        async with db.transaction() as session:
            await session.execute(text("CREATE TABLE t (x TEXT)"))
            await session.execute(text("INSERT INTO t VALUES ('hanako')"))
        # While a connection is open, SQLite keeps the WAL and the shared-memory file.
        files = [database, Path(f"{database}-wal"), Path(f"{database}-shm")]
        assert [mode(f) for f in files] == [0o600, 0o600, 0o600]
    finally:
        await db.dispose()


@pytest.mark.usefixtures("loose_umask")
async def test_files_an_older_version_left_open_are_tightened(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o755)
    database = data_dir / "cardservice.db"
    for path in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
        path.touch(mode=0o644)
    private_directory(data_dir)
    db = Database(f"sqlite+aiosqlite:///{database}")
    await db.dispose()
    assert mode(data_dir) == 0o700
    assert sorted((p.name, mode(p)) for p in data_dir.iterdir()) == [
        ("cardservice.db", 0o600),
        ("cardservice.db-shm", 0o600),
        ("cardservice.db-wal", 0o600),
    ]
