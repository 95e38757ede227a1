"""``cardservice patron``: create a patron with a card, and load the library system's export."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from cardservice.cli import checks
from cardservice.cli.checks import checked
from cardservice.cli.common import run, settings_from_env
from cardservice.settings import Settings

if TYPE_CHECKING:
    from cardservice.patrons.importer import ImportReport


@click.group()
def patron() -> None:
    """Patron records."""


@patron.command("create")
@click.option("--family-name", required=True, callback=checked(checks.name))
@click.option("--given-name", required=True, callback=checked(checks.name))
@click.option(
    "--family-kana",
    required=True,
    callback=checked(checks.kana),
    help="Katakana (hiragana is converted).",
)
@click.option(
    "--given-kana",
    required=True,
    callback=checked(checks.kana),
    help="Katakana (hiragana is converted).",
)
@click.option(
    "--birth-date",
    required=True,
    type=click.DateTime(["%Y-%m-%d"]),
    help="YYYY-MM-DD; not in the future, at most 120 years ago.",
)
@click.option("--email", required=True, callback=checked(checks.email))
@click.option("--phone", default="", callback=checked(checks.phone))
def patron_create(
    *,
    family_name: str,
    given_name: str,
    family_kana: str,
    given_kana: str,
    birth_date: datetime,
    email: str,
    phone: str,
) -> None:
    """Create a patron and issue a digital card; prints the user number (audited as
    card.issue).

    Every value is checked as the application form checks it (names, kana, date of birth,
    email, phone); a refused one ends the command with exit status 2, nothing written."""
    from cardservice.patrons.service import NewPatron, create_patron_with_card  # noqa: PLC0415
    from cardservice.services import Services  # noqa: PLC0415
    from cardservice.staff import audit  # noqa: PLC0415

    born = checks.birth_date(
        birth_date.date(), "--birth-date", settings_from_env().profile.library.timezone
    )

    async def work(settings: Settings) -> tuple[str, date]:
        svc = Services.build(settings)
        try:
            async with svc.db.transaction() as session:
                card = await create_patron_with_card(
                    session,
                    NewPatron(
                        family_name=family_name,
                        given_name=given_name,
                        family_kana=family_kana,
                        given_kana=given_kana,
                        birth_date=born,
                        email=email,
                        phone=phone,
                    ),
                    svc.policy,
                )
                await audit.record(
                    session,
                    staff_id=None,
                    action="card.issue",
                    target_type="card",
                    target_id=card.user_number,
                    detail={"patron_id": card.patron_id},
                )
                return card.user_number, card.expires_on
        finally:
            await svc.close()

    number, expires_on = run(work)
    click.echo(f"user number {number}, valid through {expires_on.isoformat()}")


# The exit status of an import that refused some rows (1 and 2 are click's own errors).
REFUSED_ROWS_EXIT = 3


@patron.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check and compare every row; write nothing.")
def patron_import(file: Path, dry_run: bool) -> None:
    """Load the library system's patron export (CSV, columns per the profile's [import]).

    Idempotent by user number; prints each row it could not take with its line number, then
    the counts of created, updated, unchanged and refused rows. Exits 0 when every row was
    taken, and 3 when some were refused (the others are taken all the
    same), so a scheduled import can tell."""
    from cardservice.patrons.importer import import_patrons  # noqa: PLC0415
    from cardservice.services import Services  # noqa: PLC0415

    async def work(settings: Settings) -> ImportReport:
        svc = Services.build(settings)
        try:
            return await import_patrons(
                svc.db, file, settings.profile.patron_import, svc.policy, dry_run=dry_run
            )
        finally:
            await svc.close()

    report = run(work)
    for refusal in report.refusals:
        click.echo(refusal.text)
    click.echo(report.summary())
    if report.refusals:
        raise SystemExit(REFUSED_ROWS_EXIT)
