"""The ``cardservice`` command: serve, migrate, patrons and cards, API keys, signing keys."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from cardservice.errors import ConfigurationError, DomainError
from cardservice.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from cardservice.cards.models import Card
    from cardservice.services import Services

T = TypeVar("T")


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except ConfigurationError as exc:
        raise click.ClickException(f"configuration: {exc}") from exc


def _run(work: Callable[[Settings], Coroutine[Any, Any, T]]) -> T:
    """Run one piece of async work with the service's parts, reporting domain errors."""
    settings = _settings()
    try:
        return asyncio.run(work(settings))
    except DomainError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}") from exc


@asynccontextmanager
async def _session(settings: Settings) -> AsyncIterator[AsyncSession]:
    """One transaction on a database opened for one command, closed afterwards."""
    from cardservice.db.engine import Database  # noqa: PLC0415  # keep `--help` fast

    db = Database(settings.async_database_url)
    try:
        async with db.transaction() as session:
            yield session
    finally:
        await db.dispose()


@click.group()
def main() -> None:
    """Digital library cards: registration, signed cards, barcodes and verification."""


@main.command()
def migrate() -> None:
    """Bring the database schema up to date."""
    _migrate(_settings())
    click.echo("database is up to date")


@main.command()
@click.option("--host", help="Address to listen on (CARDSERVICE_HOST).")
@click.option("--port", type=int, help="Port (CARDSERVICE_PORT).")
@click.option("--workers", type=int, help="Worker processes (CARDSERVICE_WORKERS).")
@click.option("--no-migrate", is_flag=True, help="Do not migrate the database first.")
def serve(host: str | None, port: int | None, workers: int | None, no_migrate: bool) -> None:
    """Run the service with uvicorn."""
    # Workers read settings from the environment, so options become environment too.
    for name, value in (("HOST", host), ("PORT", port), ("WORKERS", workers)):
        if value is not None:
            os.environ[f"CARDSERVICE_{name}"] = str(value)
    settings = _settings()
    if not no_migrate:
        _migrate(settings)
    _serve(settings)


@main.command()
def demo() -> None:
    """Start on the embedded defaults with a sample card and API key, ready to try."""
    from cardservice.demo import prepare_demo  # noqa: PLC0415

    settings = _settings()
    _migrate(settings)
    lines = asyncio.run(prepare_demo(settings))
    click.echo("\n".join(lines))
    _serve(settings)


def _migrate(settings: Settings) -> None:
    from cardservice.db.migrate import upgrade  # noqa: PLC0415  # keep `--help` fast

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    asyncio.run(upgrade(settings.async_database_url))


def _serve(settings: Settings) -> None:
    import uvicorn  # noqa: PLC0415

    click.echo(
        f"cardservice ({settings.mode}, profile {settings.profile.id}) on "
        f"http://{settings.host}:{settings.port}  API docs: /api/docs"
    )
    uvicorn.run(
        "cardservice.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level=settings.log_level.lower(),
        proxy_headers=settings.production,
        server_header=False,
    )


@main.command()
def jobs() -> None:
    """Run the scheduled jobs once (for cron; every app process also runs them every 10 min)."""
    from cardservice.db.engine import Database  # noqa: PLC0415
    from cardservice.jobs import run_jobs  # noqa: PLC0415

    async def work(settings: Settings) -> list[str]:
        db = Database(settings.async_database_url)
        try:
            report = await run_jobs(db, settings.profile, base_url=settings.base_url)
        finally:
            await db.dispose()
        if report.failed:
            raise click.ClickException("; ".join(report.lines()))
        return report.lines()

    click.echo("\n".join(_run(work)))


@main.group()
def patron() -> None:
    """Patron records."""


@patron.command("create")
@click.option("--family-name", required=True)
@click.option("--given-name", required=True)
@click.option("--family-kana", required=True, help="Katakana (hiragana is converted).")
@click.option("--given-kana", required=True, help="Katakana (hiragana is converted).")
@click.option("--birth-date", required=True, type=click.DateTime(["%Y-%m-%d"]))
@click.option("--email", required=True)
@click.option("--phone", default="")
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
    """Create a patron and issue a digital card; prints the user number."""
    from cardservice.patrons.service import NewPatron, create_patron_with_card  # noqa: PLC0415
    from cardservice.services import Services  # noqa: PLC0415

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
                        birth_date=birth_date.date(),
                        email=email,
                        phone=phone,
                    ),
                    svc.policy,
                )
                return card.user_number, card.expires_on
        finally:
            await svc.close()

    number, expires_on = _run(work)
    click.echo(f"user number {number}, valid through {expires_on.isoformat()}")


@patron.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check and compare every row; write nothing.")
def patron_import(file: Path, dry_run: bool) -> None:
    """Load the library system's patron export (CSV, columns per the profile's [import]).

    Idempotent by user number; prints each row it could not take with its line number, then
    the counts of created, updated, unchanged and refused rows."""
    from cardservice.patrons.importer import ImportReport, import_patrons  # noqa: PLC0415
    from cardservice.services import Services  # noqa: PLC0415

    async def work(settings: Settings) -> ImportReport:
        svc = Services.build(settings)
        try:
            return await import_patrons(
                svc.db, file, settings.profile.patron_import, svc.policy, dry_run=dry_run
            )
        finally:
            await svc.close()

    report = _run(work)
    for refusal in report.refusals:
        click.echo(refusal.text)
    click.echo(report.summary())


@main.group()
def card() -> None:
    """Cards: reissue, revoke, suspend, reinstate (each recorded for the library system)."""


_REASONS = ["lost", "reissued", "name_changed", "withdrawn", "staff"]


async def _card_action(
    settings: Settings,
    user_number: str,
    act: Callable[[AsyncSession, Card, Services], Awaitable[T]],
) -> T:
    """Find the card (scanner-style input accepted), then ``act(session, card, services)``
    in one transaction, as the system (the audit log says so)."""
    from cardservice.patrons.desk import card_by_number  # noqa: PLC0415
    from cardservice.services import Services  # noqa: PLC0415

    svc = Services.build(settings)
    try:
        async with svc.db.transaction() as session:
            found = await card_by_number(session, svc.policy.number_format, user_number)
            return await act(session, found, svc)
    finally:
        await svc.close()


@card.command("reissue")
@click.argument("user_number")
@click.option("--reason", type=click.Choice(["lost", "name_changed"]), required=True)
@click.option("--family-name", help="The new family name (name_changed).")
@click.option("--given-name", help="The new given name (name_changed).")
@click.option("--family-kana", help="The new family name in katakana (hiragana is converted).")
@click.option("--given-kana", help="The new given name in katakana (hiragana is converted).")
def card_reissue(
    *,
    user_number: str,
    reason: str,
    family_name: str | None,
    given_name: str | None,
    family_kana: str | None,
    given_kana: str | None,
) -> None:
    """Issue a new card with a NEW user number now; the old number is revoked (reissued).

    Prints the new number. The patron is emailed it when they have an email address."""
    from cardservice.patrons import desk  # noqa: PLC0415

    names = (family_name, given_name, family_kana, given_kana)
    new_name = None
    if reason == "name_changed":
        if not all(names):
            raise click.UsageError(
                "--reason name_changed needs --family-name, --given-name, --family-kana "
                "and --given-kana"
            )
        try:
            new_name = desk.parse_new_name(*(value or "" for value in names))
        except desk.NameInvalid as exc:
            fields = ", ".join(f"{name}: {code}" for name, code in exc.fields.items())
            raise click.ClickException(f"{exc.code}: {fields}") from exc
    elif any(names):
        raise click.UsageError("the new name options go with --reason name_changed only")

    async def act(session: AsyncSession, found: Card, svc: Services) -> tuple[str, str, date]:
        old = found.user_number
        new = await desk.reissue(
            session,
            found,
            reason,
            new_name=new_name,
            staff=None,
            policy=svc.policy,
            profile=svc.settings.profile,
            base_url=svc.settings.base_url,
        )
        return old, new.user_number, new.expires_on

    old, number, expires_on = _run(lambda settings: _card_action(settings, user_number, act))
    click.echo(
        f"new user number {number}, valid through {expires_on.isoformat()}; "
        f"{old} revoked (reissued)"
    )


@card.command("revoke")
@click.argument("user_number")
@click.option("--reason", type=click.Choice(_REASONS), required=True)
def card_revoke(user_number: str, reason: str) -> None:
    """Revoke a card for good; its number is never handed out again."""
    from cardservice.patrons import desk  # noqa: PLC0415

    async def act(session: AsyncSession, found: Card, svc: Services) -> None:
        await desk.revoke(session, found, reason, svc.policy, staff=None)

    _run(lambda settings: _card_action(settings, user_number, act))
    click.echo(f"revoked ({reason})")


@card.command("suspend")
@click.argument("user_number")
@click.option(
    "--reason", type=click.Choice(["staff", "reported_lost"]), default="staff", show_default=True
)
def card_suspend(user_number: str, reason: str) -> None:
    """Suspend a card until it is reinstated."""
    from cardservice.patrons import desk  # noqa: PLC0415

    async def act(session: AsyncSession, found: Card, _svc: Services) -> None:
        await desk.suspend(session, found, reason, staff=None)

    _run(lambda settings: _card_action(settings, user_number, act))
    click.echo("suspended")


@card.command("reinstate")
@click.argument("user_number")
def card_reinstate(user_number: str) -> None:
    """Lift a suspension."""
    from cardservice.patrons import desk  # noqa: PLC0415

    async def act(session: AsyncSession, found: Card, _svc: Services) -> None:
        await desk.reinstate(session, found, staff=None)

    _run(lambda settings: _card_action(settings, user_number, act))
    click.echo("active")


@main.group()
def apikey() -> None:
    """API keys for scanners, kiosks and the library system."""


@apikey.command("create")
@click.argument("name")
def apikey_create(name: str) -> None:
    """Create a key; it is shown once, store it in the scanner's settings."""
    from cardservice.security.apikeys import create_api_key  # noqa: PLC0415

    async def work(settings: Settings) -> tuple[int, str]:
        async with _session(settings) as session:
            row, plain = await create_api_key(session, name)
            return row.id, plain

    key_id, plain = _run(work)
    click.echo(f"key {key_id} ({name}): {plain}")


@apikey.command("list")
def apikey_list() -> None:
    """List keys (never the keys themselves)."""
    from cardservice.security.apikeys import list_api_keys  # noqa: PLC0415

    async def work(settings: Settings) -> list[str]:
        async with _session(settings) as session:
            return [
                f"{k.id}\t{k.prefix}…\t{k.name}\t"
                f"{'revoked ' + k.revoked_at.isoformat() if k.revoked_at else 'active'}"
                for k in await list_api_keys(session)
            ]

    for line in _run(work):
        click.echo(line)


@apikey.command("revoke")
@click.argument("key_id", type=int)
def apikey_revoke(key_id: int) -> None:
    """Revoke a key; it stops working on the next request."""
    from cardservice.security.apikeys import revoke_api_key  # noqa: PLC0415

    async def work(settings: Settings) -> None:
        async with _session(settings) as session:
            await revoke_api_key(session, key_id)

    _run(work)
    click.echo(f"key {key_id} revoked")


@main.group()
def keys() -> None:
    """Card-token signing keys."""


@keys.command("list")
def keys_list() -> None:
    """Show each key, when it signs from and until when it verifies."""
    from cardservice.services import load_keyring  # noqa: PLC0415

    settings = _settings()
    ring = load_keyring(settings)
    now = datetime.now(UTC)
    signing = ring.signing_key(now).kid
    for key in ring.keys:
        until = key.verify_until.isoformat() if key.verify_until else "-"
        mark = "signing" if key.kid == signing else "published"
        click.echo(f"{key.kid}\t{mark}\tsigns from {key.sign_from.isoformat()}\tuntil {until}")


@keys.command("rotate")
@click.option(
    "--overlap-hours",
    type=int,
    help="Hours the new key is published before it signs (CARDSERVICE_KEY_OVERLAP_HOURS).",
)
def keys_rotate(overlap_hours: int | None) -> None:
    """Create a new signing key: published now, used after the overlap."""
    from cardservice.cards.keys import Keyring  # noqa: PLC0415

    settings = _settings()
    if settings.signing_key_files:
        raise click.ClickException(
            "keys come from CARDSERVICE_SIGNING_KEY_FILES; rotate them there"
        )
    directory = settings.data_dir / "keys"
    now = datetime.now(UTC)
    ring = Keyring.load_or_create(directory, now=now)
    overlap = timedelta(hours=overlap_hours or settings.key_overlap_hours)
    # A token lives at most as long as a card: validity plus the renewal window.
    card = settings.profile.card
    lifetime = timedelta(
        days=366 * card.validity_years + card.renewal_window_days + 31 * card.renewal_window_months
    )
    new = ring.rotate(directory, now=now, overlap=overlap, max_token_lifetime=lifetime)
    click.echo(f"new key {new.kid} published now, signs from {new.sign_from.isoformat()}")


@keys.command("prune")
def keys_prune() -> None:
    """Delete keys whose last token has expired."""
    from cardservice.cards.keys import Keyring  # noqa: PLC0415

    settings = _settings()
    directory = settings.data_dir / "keys"
    now = datetime.now(UTC)
    removed = Keyring.load_or_create(directory, now=now).prune(directory, now=now)
    click.echo("removed: " + (", ".join(removed) if removed else "none"))


@main.group()
def staff() -> None:
    """Staff accounts for the review console and the counter."""


_ROLES = ["reviewer", "counter", "admin"]


@staff.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice(_ROLES), required=True)
@click.option("--display-name", default="", help="Shown in the console; the username if empty.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def staff_create(username: str, role: str, display_name: str, password_stdin: bool) -> None:
    """Create a staff account; asks for the password twice, hidden, unless --password-stdin."""
    import sys  # noqa: PLC0415

    from cardservice.staff.service import create_staff  # noqa: PLC0415

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)

    async def work(settings: Settings) -> str:
        async with _session(settings) as session:
            user = await create_staff(session, username, password, role, display_name=display_name)
            return user.username

    click.echo(f"staff {_run(work)} created ({role})")


@staff.command("list")
def staff_list() -> None:
    """List staff accounts with their role and state."""
    from cardservice.staff.models import StaffUser  # noqa: PLC0415
    from cardservice.staff.service import list_staff  # noqa: PLC0415

    def state(user: StaffUser, now: datetime) -> str:
        if user.disabled_at:
            return "disabled " + user.disabled_at.isoformat()
        if user.is_locked(now) and user.locked_until:
            return "locked until " + user.locked_until.isoformat()
        return "active"

    async def work(settings: Settings) -> list[str]:
        now = datetime.now(UTC)
        async with _session(settings) as session:
            return [
                f"{u.id}\t{u.username}\t{u.role}\t{state(u, now)}\t{u.display_name}"
                for u in await list_staff(session)
            ]

    for line in _run(work):
        click.echo(line)


@staff.command("disable")
@click.argument("username")
def staff_disable(username: str) -> None:
    """Disable an account for good; it can no longer log in."""
    from cardservice.staff.service import disable_staff  # noqa: PLC0415

    _staff_change(username, disable_staff)
    click.echo(f"staff {username} disabled")


@staff.command("unlock")
@click.argument("username")
def staff_unlock(username: str) -> None:
    """Lift a lockout after too many failed logins."""
    from cardservice.staff.service import unlock_staff  # noqa: PLC0415

    _staff_change(username, unlock_staff)
    click.echo(f"staff {username} unlocked")


def _staff_change(username: str, change: Callable[..., Awaitable[object]]) -> None:

    async def work(settings: Settings) -> None:
        async with _session(settings) as session:
            await change(session, username)

    _run(work)
