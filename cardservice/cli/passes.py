"""``cardservice passes``: wallet passes. ``dev-certs`` makes a development signing chain
for Apple Wallet passes."""

from __future__ import annotations

from pathlib import Path

import click

from cardservice.cli import checks
from cardservice.cli.checks import checked
from cardservice.cli.common import reported, settings_from_env


@click.group()
def passes() -> None:
    """Wallet passes."""


@passes.command("dev-certs")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to write root.pem, wwdr.pem, pass.pem and pass.key "
    "(default: apple-dev in the data directory).",
)
@click.option(
    "--pass-type-id",
    callback=checked(checks.plain),
    help="The pass type id (default: CARDSERVICE_APPLE_PASS_TYPE_ID, else "
    "pass.org.example.library-card).",
)
@click.option(
    "--team-id",
    callback=checked(checks.plain),
    help="The team id (default: CARDSERVICE_APPLE_TEAM_ID, else DEVTEAM000).",
)
@click.option("--force", is_flag=True, help="Replace a chain that is already there.")
def dev_certs(
    directory: Path | None, pass_type_id: str | None, team_id: str | None, force: bool
) -> None:
    """Make a self-signed chain for development: a root, a "WWDR" intermediate and a pass
    certificate with the pass type id. Passes signed with it verify with openssl against
    root.pem; no iPhone accepts them. Prints the settings that use it."""
    from cardservice.passkit.dev import DEV_PASS_TYPE_ID, DEV_TEAM_ID, write_dev_chain  # noqa: PLC0415

    settings = settings_from_env()
    target = (directory or settings.data_dir / "apple-dev").expanduser().resolve()
    type_id = pass_type_id or settings.apple_pass_type_id or DEV_PASS_TYPE_ID
    team = team_id or settings.apple_team_id or DEV_TEAM_ID
    with reported():
        try:
            values = write_dev_chain(target, type_id, team, replace=force)
        except FileExistsError:
            raise click.ClickException(
                f"{target} already holds a chain; --force replaces it"
            ) from None
        except OSError as exc:  # a directory that cannot be made or written
            raise click.ClickException(f"cannot write to {target}: {exc.strerror}") from None
    click.echo(f"development chain written to {target} (verify with -CAfile {target / 'root.pem'})")
    for name, value in values.items():
        click.echo(f"{name}={value}")
