"""``cardservice staff``: the staff accounts of the review console and the counter."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from cardservice.cli import checks
from cardservice.cli.checks import checked, fields_as_options
from cardservice.cli.common import one_session, run
from cardservice.settings import Settings

if TYPE_CHECKING:
    from cardservice.staff.models import StaffUser

_ROLES = ["reviewer", "counter", "admin"]


@click.group()
def staff() -> None:
    """Staff accounts for the review console and the counter."""


@staff.command("create")
@click.argument("username")
@click.option(
    "--role",
    type=click.Choice(_ROLES),
    required=True,
    help="reviewer: the application queue and the card desk; counter: the counter station "
    "and looking patrons up; admin: all of these, the audit log, notices and webhooks.",
)
@click.option(
    "--display-name",
    default="",
    callback=checked(checks.optional_label),
    help="Shown in the console; the username if empty. At most 100 characters.",
)
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
        with fields_as_options({"username": "'USERNAME'"}):
            async with one_session(settings) as session:
                user = await create_staff(
                    session, username, password, role, display_name=display_name
                )
                return user.username

    click.echo(f"staff {run(work)} created ({role})")


@staff.command("list")
def staff_list() -> None:
    """List staff accounts with their role and state."""
    from cardservice.staff.service import list_staff  # noqa: PLC0415

    def state(user: StaffUser, now: datetime) -> str:
        if user.disabled_at:
            return "disabled " + user.disabled_at.isoformat()
        if user.is_locked(now) and user.locked_until:
            return "locked until " + user.locked_until.isoformat()
        return "active"

    async def work(settings: Settings) -> list[str]:
        now = datetime.now(UTC)
        async with one_session(settings) as session:
            return [
                f"{u.id}\t{u.username}\t{u.role}\t{state(u, now)}\t{u.display_name}"
                for u in await list_staff(session)
            ]

    for line in run(work):
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
        async with one_session(settings) as session:
            await change(session, username)

    run(work)
