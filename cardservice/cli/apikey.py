"""``cardservice apikey``: the API keys of scanners, kiosks and the library system.

Creating and revoking a key are audited (``api_key.create``, ``api_key.revoke``, target
``api_key`` and its id; the detail holds the name and the shown prefix, never the key),
in the same transaction, as the staff pages audit their acts."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from cardservice.cli import checks
from cardservice.cli.checks import checked
from cardservice.cli.common import one_session, run
from cardservice.db.base import ID_MAX
from cardservice.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from cardservice.security.models import ApiKey


async def _audit(session: AsyncSession, action: str, row: ApiKey) -> None:
    from cardservice.staff import audit  # noqa: PLC0415

    await audit.record(
        session,
        staff_id=None,
        action=action,
        target_type="api_key",
        target_id=row.id,
        detail={"name": row.name, "prefix": row.prefix},
    )


@click.group()
def apikey() -> None:
    """API keys for scanners, kiosks and the library system."""


@apikey.command("create")
@click.argument("name", callback=checked(checks.label))
def apikey_create(name: str) -> None:
    """Create a key; it is shown once, store it in the scanner's settings.

    NAME says where it is used (at most 100 characters, no control characters)."""
    from cardservice.security.apikeys import create_api_key  # noqa: PLC0415

    async def work(settings: Settings) -> tuple[int, str]:
        async with one_session(settings) as session:
            row, plain = await create_api_key(session, name)
            await _audit(session, "api_key.create", row)
            return row.id, plain

    key_id, plain = run(work)
    click.echo(f"key {key_id} ({name}): {plain}")


@apikey.command("list")
def apikey_list() -> None:
    """List keys (never the keys themselves)."""
    from cardservice.security.apikeys import list_api_keys  # noqa: PLC0415

    async def work(settings: Settings) -> list[str]:
        async with one_session(settings) as session:
            return [
                f"{k.id}\t{k.prefix}…\t{k.name}\t"
                f"{'revoked ' + k.revoked_at.isoformat() if k.revoked_at else 'active'}"
                for k in await list_api_keys(session)
            ]

    for line in run(work):
        click.echo(line)


@apikey.command("revoke")
@click.argument("key_id", type=click.IntRange(1, ID_MAX))
def apikey_revoke(key_id: int) -> None:
    """Revoke a key; every running worker refuses it within CARDSERVICE_API_KEY_RECHECK_SECONDS
    (default 5)."""
    from cardservice.security.apikeys import revoke_api_key  # noqa: PLC0415

    async def work(settings: Settings) -> None:
        async with one_session(settings) as session:
            await _audit(session, "api_key.revoke", await revoke_api_key(session, key_id))

    run(work)
    click.echo(f"key {key_id} revoked")
