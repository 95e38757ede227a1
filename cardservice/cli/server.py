"""Running the service: ``serve``, ``demo``, ``migrate`` and ``jobs`` (once, for cron)."""

from __future__ import annotations

import asyncio
import os

import click

from cardservice.cli import checks
from cardservice.cli.checks import checked
from cardservice.cli.common import reported, run, settings_from_env
from cardservice.settings import Settings


@click.command()
def migrate() -> None:
    """Bring the database schema up to date."""
    _migrate(settings_from_env())
    click.echo("database is up to date")


@click.command()
@click.option(
    "--host", callback=checked(checks.plain), help="Address to listen on (CARDSERVICE_HOST)."
)
@click.option("--port", type=click.IntRange(1, 65535), help="Port (CARDSERVICE_PORT).")
@click.option(
    "--workers", type=click.IntRange(1, 64), help="Worker processes (CARDSERVICE_WORKERS)."
)
@click.option("--no-migrate", is_flag=True, help="Do not migrate the database first.")
def serve(host: str | None, port: int | None, workers: int | None, no_migrate: bool) -> None:
    """Run the service with uvicorn."""
    settings = _settings_with(host=host, port=port, workers=workers)
    _check_mail(settings)
    _check_wallets(settings)
    if no_migrate:
        _check_schema(settings)
    else:
        _migrate(settings)
    _serve(settings)


@click.command()
@click.option(
    "--host", callback=checked(checks.plain), help="Address to listen on (CARDSERVICE_HOST)."
)
@click.option(
    "--port", type=click.IntRange(1, 65535), help="Port (CARDSERVICE_PORT); links follow it."
)
def demo(host: str | None, port: int | None) -> None:
    """Start on the embedded defaults with a sample card and API key, ready to try."""
    from cardservice.demo import prepare_demo  # noqa: PLC0415

    settings = _settings_with(host=host, port=port)
    _check_mail(settings)
    if not settings.apple_passes_configured:
        with reported(settings):  # a data directory that cannot be written: one line
            settings = _with_dev_apple_passes(settings)
    _check_wallets(settings)
    _migrate(settings)
    with reported(settings):
        lines = asyncio.run(prepare_demo(settings))
    click.echo("\n".join(lines))
    _serve(settings)


def _with_dev_apple_passes(settings: Settings) -> Settings:
    """The demo offers Apple Wallet passes, signed with a development chain kept in the data
    directory (``apple-dev``; made on first start). Workers read the environment."""
    from cardservice.db.files import private_directory  # noqa: PLC0415
    from cardservice.passkit.dev import (  # noqa: PLC0415
        DEV_PASS_TYPE_ID,
        DEV_TEAM_ID,
        dev_settings,
        has_dev_chain,
        write_dev_chain,
    )

    private_directory(settings.data_dir)
    directory = settings.data_dir / "apple-dev"
    if not has_dev_chain(directory):
        write_dev_chain(directory, DEV_PASS_TYPE_ID, DEV_TEAM_ID)
    os.environ.update(dev_settings(directory, DEV_PASS_TYPE_ID, DEV_TEAM_ID))
    click.echo(f"Apple Wallet passes: signed with the development chain in {directory}")
    return settings_from_env()


def _check_mail(settings: Settings) -> None:
    """Read CARDSERVICE_SMTP_URL once before serving: a malformed one ends the command with
    one line naming it, rather than a traceback from every worker's start."""
    from cardservice.mail.smtp import SmtpTarget  # noqa: PLC0415

    if settings.smtp_url:
        with reported():
            SmtpTarget.from_url(settings.smtp_url)


def _check_wallets(settings: Settings) -> None:
    """Read the wallets' files (Apple's certificates, key and images, the APNs key, Google's
    key) once before serving: one that cannot be used ends the command with one line
    naming its setting, rather than a traceback from every worker's start."""
    from cardservice.passkit.wallet import AppleWallet  # noqa: PLC0415
    from passes.google_sync import wallet_sync_of  # noqa: PLC0415

    async def check() -> None:
        google = wallet_sync_of(settings)
        if google is not None:
            await google.objects.aclose()
        apple = AppleWallet.of(settings)
        if apple is not None and apple.pusher is not None:
            await apple.pusher.aclose()

    with reported():
        asyncio.run(check())


def _settings_with(**options: int | str | None) -> Settings:
    """The settings with the command's options in place of CARDSERVICE_HOST, _PORT, _WORKERS.

    Workers read settings from the environment, so the options become environment too; the
    base URL, unless set, follows the host and port (``Settings.from_env``)."""
    for name, value in options.items():
        if value is not None:
            os.environ[f"CARDSERVICE_{name.upper()}"] = str(value)
    return settings_from_env()


def _migrate(settings: Settings) -> None:
    from cardservice.db.files import private_directory  # noqa: PLC0415
    from cardservice.db.migrate import upgrade  # noqa: PLC0415  # keep `--help` fast

    with reported(settings):
        private_directory(settings.data_dir)
        asyncio.run(upgrade(settings.async_database_url))


def _check_schema(settings: Settings) -> None:
    """With --no-migrate, the database must already be at the current schema: one that is
    not (never migrated, or behind this version) ends the command with one line saying to
    migrate, rather than a service whose every page and job fails on a missing table."""
    from sqlalchemy import text  # noqa: PLC0415
    from sqlalchemy.engine import make_url  # noqa: PLC0415

    from cardservice.cli.common import check_sqlite_directory  # noqa: PLC0415
    from cardservice.db.engine import Database  # noqa: PLC0415

    async def current() -> set[str]:
        db = Database(settings.async_database_url)
        try:
            async with db.read() as session:
                rows = await session.scalars(text("SELECT version_num FROM alembic_version"))
                return set(rows)
        finally:
            await db.dispose()

    check_sqlite_directory(settings)
    with reported(settings):
        found = asyncio.run(current())
    if not found or _behind(found):
        url = make_url(settings.async_database_url).render_as_string(hide_password=True)
        raise click.ClickException(
            f"database {url}: the schema is not up to date; run `cardservice migrate` first "
            "(or serve without --no-migrate)"
        )


def _behind(found: set[str]) -> bool:
    """Whether an upgrade to the heads would apply anything to a database at ``found`` (the
    heads depend on one another, so the table does not simply list them all); revisions this
    version does not know of are behind, or ahead, as well."""
    from alembic.script import ScriptDirectory  # noqa: PLC0415
    from alembic.script.revision import RevisionError  # noqa: PLC0415

    from cardservice.db.migrate import alembic_config  # noqa: PLC0415

    revisions = ScriptDirectory.from_config(alembic_config()).revision_map
    try:
        return bool(list(revisions.iterate_revisions("heads", tuple(found), implicit_base=True)))
    except RevisionError:  # a revision unknown here, or ones that overlap
        return True


def _serve(settings: Settings) -> None:
    import uvicorn  # noqa: PLC0415

    from cardservice.logs import uvicorn_log_config  # noqa: PLC0415

    click.echo(
        f"cardservice ({settings.mode}, profile {settings.profile.id}) on "
        f"{settings.host}:{settings.port}, at {settings.base_url}  "
        f"API docs: {settings.base_url}/api/docs"
    )
    uvicorn.run(
        "cardservice.app:serve_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level=settings.log_level.lower(),
        log_config=uvicorn_log_config(),  # link tokens redacted from the access log
        proxy_headers=settings.production,
        server_header=False,
    )


@click.command()
def jobs() -> None:
    """Run the scheduled jobs once (for cron; every app process also runs them every 10 min)."""
    from sqlalchemy import text  # noqa: PLC0415

    from cardservice.db.engine import Database  # noqa: PLC0415
    from cardservice.jobs import run_jobs  # noqa: PLC0415
    from cardservice.passkit.wallet import AppleWallet  # noqa: PLC0415
    from passes.google_sync import wallet_sync_of  # noqa: PLC0415

    async def work(settings: Settings) -> list[str]:
        db = Database(settings.async_database_url)
        google = wallet_sync_of(settings)
        apple = AppleWallet.of(settings)
        try:
            # A database that cannot be reached or is not migrated: one line, not a
            # traceback from every job.
            async with db.read() as session:
                await session.execute(text("SELECT 1 FROM alembic_version"))
            report = await run_jobs(
                db, settings.profile, base_url=settings.base_url, google=google, apple=apple
            )
        finally:
            if google is not None:
                await google.objects.aclose()
            if apple is not None and apple.pusher is not None:
                await apple.pusher.aclose()
            await db.dispose()
        if report.failed:
            raise click.ClickException("; ".join(report.lines()))
        return report.lines()

    click.echo("\n".join(run(work)))
