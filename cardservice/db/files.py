"""Private files on disk: the data directory is 0700, the SQLite database 0600.

The database holds names, addresses and encrypted ID images, and the data directory holds
the keys that decrypt them: nobody but the service's own user may read either. Modes are
set exactly (``chmod``), not through the umask, and an existing directory or file made by an
older version is tightened too.

SQLite creates the ``-wal`` and ``-shm`` files with the mode of the database file itself
(``findCreateFileMode`` in its Unix VFS), so creating the database 0600 before SQLite opens
it is enough for all three; any of them already present are tightened as well.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Final

DIRECTORY_MODE: Final = 0o700
FILE_MODE: Final = 0o600
SQLITE_COMPANIONS: Final = ("", "-wal", "-shm", "-journal")


def private_directory(directory: Path) -> Path:
    """Create ``directory`` (and its parents) if needed and make it 0700; returns it.

    Parents that are created get the umask's mode: only the directory itself is the
    service's own. Raises ``OSError`` if it cannot be created or changed.
    """
    directory.mkdir(mode=DIRECTORY_MODE, parents=True, exist_ok=True)
    directory.chmod(DIRECTORY_MODE)  # mkdir's mode is masked by the umask
    return directory


def private_sqlite_file(path: str) -> None:
    """Create the SQLite database at ``path`` empty and 0600 if it does not exist, and make
    it and its ``-wal``, ``-shm`` and ``-journal`` files 0600 if they do.

    ``path`` is a file path as in a ``sqlite:///path`` URL; ``""`` and ``:memory:`` (an
    in-memory database) are left alone. An empty file is a valid empty SQLite database.
    A missing directory is left for SQLite to report when it opens the file.
    """
    if path in ("", ":memory:") or path.startswith("file:") or not Path(path).parent.is_dir():
        return
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
    try:
        os.fchmod(descriptor, FILE_MODE)
    finally:
        os.close(descriptor)
    for suffix in SQLITE_COMPANIONS[1:]:
        companion = Path(path + suffix)
        if companion.exists():
            companion.chmod(FILE_MODE)


def truncate_sqlite_wal(path: str, *, busy_ms: int = 1000) -> bool:
    """Copy the SQLite WAL at ``path`` into the database and truncate it to zero bytes;
    True when that completed, False when a reader or writer held it up for ``busy_ms``.

    Purged data is overwritten in the database (``secure_delete``), but the WAL still holds
    the frames that wrote it until they are checkpointed and the file truncated. A busy
    checkpoint is left to SQLite's own (automatic, passive) checkpoints.
    """
    connection = sqlite3.connect(path, isolation_level=None, timeout=busy_ms / 1000)
    try:
        row = connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    except sqlite3.OperationalError:  # locked beyond the timeout
        return False
    finally:
        connection.close()
    return row is not None and row[0] == 0
