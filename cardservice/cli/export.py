"""``cardservice export patrons``: the patrons-and-cards CSV for the library system's batch
import, the same file as the administrators' download (``events/export.py``), for a
scheduled job. It is written as it is read, to standard output or to a new private file
(0600: it holds every patron's personal details), and the export is audited."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import AsyncGenerator, Iterator
from pathlib import Path
from typing import BinaryIO, cast
from zoneinfo import ZoneInfo

import click

from cardservice.cli.common import run
from cardservice.settings import Settings


@click.group()
def export() -> None:
    """Files for the library system."""


@contextlib.contextmanager
def _sink(output: Path | None) -> Iterator[BinaryIO]:
    """Standard output, or ``output`` opened before any work (a path that cannot be
    written is a usage error, exit status 2, and nothing is exported or audited)."""
    if output is None:
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    try:
        descriptor = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError as exc:
        raise click.BadParameter(
            f"cannot write {output}: {exc.strerror}", param_hint="--output"
        ) from None
    with os.fdopen(descriptor, "wb") as handle:
        yield handle


@export.command("patrons")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    help="Write to this file (made 0600) instead of standard output.",
)
def patrons(output: Path | None) -> None:
    """Every patron and card as CSV: UTF-8 with a BOM, ISO 8601 dates, one row per card."""

    async def work(settings: Settings, sink: BinaryIO) -> int:
        from cardservice.db.engine import Database  # noqa: PLC0415  # keep `--help` fast
        from cardservice.events.export import patron_card_csv  # noqa: PLC0415
        from cardservice.staff import audit  # noqa: PLC0415

        db = Database(settings.async_database_url)
        written = 0
        try:
            async with db.transaction() as session:
                await audit.record(
                    session,
                    staff_id=None,
                    action="export.patrons_csv",
                    target_type="patrons",
                    target_id="all",
                    detail={"to": "stdout" if output is None else "file"},
                )
            tz = ZoneInfo(settings.profile.library.timezone)
            # Closed even when writing fails (a reader gone): its transaction ends here.
            # An async generator function, typed as the iterator it returns.
            rows = cast("AsyncGenerator[bytes, None]", patron_card_csv(db, tz))
            async with contextlib.aclosing(rows) as chunks:
                async for chunk in chunks:
                    sink.write(chunk)
                    written += len(chunk)
        finally:
            await db.dispose()
        return written

    with _sink(output) as sink:
        written = run(lambda settings: work(settings, sink))
    if output is not None:
        click.echo(f"patrons and cards written to {output} ({written} bytes)", err=True)
