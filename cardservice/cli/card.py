"""``cardservice card``: reissue, revoke, suspend and reinstate a card by its user number, as
the system (the audit log says so), through the same functions as the staff card desk."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import TYPE_CHECKING, TypeVar

import click

from cardservice.cli import checks
from cardservice.cli.checks import checked
from cardservice.cli.common import run
from cardservice.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from cardservice.cards.models import Card
    from cardservice.services import Services

T = TypeVar("T")

# The reasons a card is revoked without a new one, as the staff card desk offers them
# (``patrons.desk.actions.REVOKE_REASONS``; kept here as words so that ``--help`` loads no
# models). A card replaced by a new number (reissued, name_changed) is ``card reissue``'s:
# revoked under those reasons alone, the counter would tell of a new card never issued.
REVOKE_REASONS = ["lost", "withdrawn", "staff"]


@click.group()
def card() -> None:
    """Cards: reissue, revoke, suspend, reinstate (each recorded for the library system)."""


async def _card_action(
    settings: Settings,
    user_number: str,
    act: Callable[[AsyncSession, Card, Services], Awaitable[T]],
) -> T:
    """Find the card (scanner-style input accepted), then ``act(session, card, services)``
    in one transaction, as the system (the audit log says so)."""
    from cardservice.patrons.desk.record import card_by_number  # noqa: PLC0415
    from cardservice.services import Services  # noqa: PLC0415

    svc = Services.build(settings)
    try:
        async with svc.db.transaction() as session:
            found = await card_by_number(session, svc.policy.number_format, user_number)
            return await act(session, found, svc)
    finally:
        await svc.close()


@card.command("reissue")
@click.argument("user_number", callback=checked(checks.plain))
@click.option("--reason", type=click.Choice(["lost", "name_changed"]), required=True)
@click.option(
    "--family-name", callback=checked(checks.name), help="The new family name (name_changed)."
)
@click.option(
    "--given-name", callback=checked(checks.name), help="The new given name (name_changed)."
)
@click.option(
    "--family-kana",
    callback=checked(checks.kana),
    help="The new family name in katakana (hiragana is converted).",
)
@click.option(
    "--given-kana",
    callback=checked(checks.kana),
    help="The new given name in katakana (hiragana is converted).",
)
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
    from cardservice.patrons.desk import actions  # noqa: PLC0415

    names = (family_name, given_name, family_kana, given_kana)
    new_name = None
    if reason == "name_changed":
        if not all(names):
            raise click.UsageError(
                "--reason name_changed needs --family-name, --given-name, --family-kana "
                "and --given-kana"
            )
        try:
            new_name = actions.parse_new_name(*(value or "" for value in names))
        except actions.NameInvalid as exc:
            fields = ", ".join(f"{name}: {code}" for name, code in exc.fields.items())
            raise click.ClickException(f"{exc.code}: {fields}") from exc
    elif any(names):
        raise click.UsageError("the new name options go with --reason name_changed only")

    async def act(session: AsyncSession, found: Card, svc: Services) -> tuple[str, str, date]:
        old = found.user_number
        new = await actions.reissue(
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

    old, number, expires_on = run(lambda settings: _card_action(settings, user_number, act))
    click.echo(
        f"new user number {number}, valid through {expires_on.isoformat()}; "
        f"{old} revoked (reissued)"
    )


@card.command("revoke")
@click.argument("user_number", callback=checked(checks.plain))
@click.option("--reason", type=click.Choice(REVOKE_REASONS), required=True)
def card_revoke(user_number: str, reason: str) -> None:
    """Revoke a card for good, with no new one; its number is never handed out again.
    To replace a card with a new number, use "cardservice card reissue"."""
    from cardservice.patrons.desk import actions  # noqa: PLC0415

    async def act(session: AsyncSession, found: Card, svc: Services) -> None:
        await actions.revoke(session, found, reason, svc.policy, staff=None)

    run(lambda settings: _card_action(settings, user_number, act))
    click.echo(f"revoked ({reason})")


@card.command("suspend")
@click.argument("user_number", callback=checked(checks.plain))
@click.option(
    "--reason", type=click.Choice(["staff", "reported_lost"]), default="staff", show_default=True
)
def card_suspend(user_number: str, reason: str) -> None:
    """Suspend a card until it is reinstated."""
    from cardservice.patrons.desk import actions  # noqa: PLC0415

    async def act(session: AsyncSession, found: Card, _svc: Services) -> None:
        await actions.suspend(session, found, reason, staff=None)

    run(lambda settings: _card_action(settings, user_number, act))
    click.echo("suspended")


@card.command("reinstate")
@click.argument("user_number", callback=checked(checks.plain))
def card_reinstate(user_number: str) -> None:
    """Lift a suspension."""
    from cardservice.patrons.desk import actions  # noqa: PLC0415

    async def act(session: AsyncSession, found: Card, _svc: Services) -> None:
        await actions.reinstate(session, found, staff=None)

    run(lambda settings: _card_action(settings, user_number, act))
    click.echo("active")
