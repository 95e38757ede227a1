"""``cardservice sip2``: the SIP2 server for self-check kiosks, and the kiosks' accounts.

Adding and disabling a kiosk are audited (``sip2_kiosk.add``, ``sip2_kiosk.disable``, target
``sip2_kiosk`` and its id; the detail holds the name, never the password), in the same
transaction, as the other commands audit their acts.
"""

from __future__ import annotations

import asyncio
import os
import signal
import ssl
from pathlib import Path
from typing import TYPE_CHECKING

import click

from cardservice.cli import checks
from cardservice.cli.checks import checked
from cardservice.cli.common import one_session, run
from cardservice.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from cardservice.sip2.models import Sip2Kiosk

DEFAULT_PORT = 6001


async def _audit(session: AsyncSession, action: str, row: Sip2Kiosk) -> None:
    from cardservice.staff import audit  # noqa: PLC0415

    await audit.record(
        session,
        staff_id=None,
        action=action,
        target_type="sip2_kiosk",
        target_id=row.id,
        detail={"name": row.name},
    )


def _kiosk_name(raw: str, _field: str) -> str:
    from cardservice.sip2.kiosks import check_name  # noqa: PLC0415

    return check_name(raw)


@click.group()
def sip2() -> None:
    """SIP2 (3M Standard Interchange Protocol 2.00) for self-check kiosks and gates."""


@sip2.group()
def kiosk() -> None:
    """The kiosks allowed to log in (SIP2 login, message 93)."""


@kiosk.command("add")
@click.argument("name", callback=checked(_kiosk_name))
def kiosk_add(name: str) -> None:
    """Add a kiosk; its password is shown once: enter NAME and it in the kiosk's SIP2
    settings (login user id CN and password CO).

    NAME: 1 to 64 letters, digits, dots, hyphens or underscores."""
    from cardservice.sip2.kiosks import add_kiosk, new_kiosk_secret  # noqa: PLC0415

    async def work(settings: Settings) -> str:
        password, hashed = await new_kiosk_secret()  # Argon2 before the transaction
        async with one_session(settings) as session:
            await _audit(session, "sip2_kiosk.add", await add_kiosk(session, name, hashed))
        return password

    password = run(work)
    click.echo(f"kiosk {name}: login user id {name}, password {password}")
    click.echo("The password is not shown again; add the kiosk anew to get another.")


@kiosk.command("list")
def kiosk_list() -> None:
    """List kiosks (never their passwords)."""
    from cardservice.sip2.kiosks import list_kiosks  # noqa: PLC0415

    async def work(settings: Settings) -> list[str]:
        async with one_session(settings) as session:
            return [
                f"{k.name}\t"
                f"{'disabled ' + k.disabled_at.isoformat() if k.disabled_at else 'active'}\t"
                f"last login {k.last_login_at.isoformat() if k.last_login_at else 'never'}"
                for k in await list_kiosks(session)
            ]

    for line in run(work):
        click.echo(line)


@kiosk.command("disable")
@click.argument("name", callback=checked(checks.plain))
def kiosk_disable(name: str) -> None:
    """Disable a kiosk: its next login is refused (connections already logged in go on
    until they close)."""
    from cardservice.sip2.kiosks import disable_kiosk  # noqa: PLC0415

    async def work(settings: Settings) -> None:
        async with one_session(settings) as session:
            await _audit(session, "sip2_kiosk.disable", await disable_kiosk(session, name))

    run(work)
    click.echo(f"kiosk {name} disabled")


@sip2.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, callback=checked(checks.plain))
@click.option("--port", type=click.IntRange(0, 65535), default=DEFAULT_PORT, show_default=True)
@click.option("--certfile", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--keyfile", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--institution",
    default="",
    callback=checked(checks.plain),
    help="The institution id (AO) in SC Status answers; default: the profile's id.",
)
def sip2_serve(
    host: str, port: int, certfile: Path | None, keyfile: Path | None, institution: str
) -> None:
    """Serve SIP2 on HOST:PORT until stopped (SIGTERM or Ctrl-C); TLS with --certfile
    (and --keyfile, unless the key is in the certificate file)."""
    if keyfile is not None and certfile is None:
        raise click.UsageError("--keyfile needs --certfile")
    tls = None
    if certfile is not None:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        try:
            tls.load_cert_chain(certfile, keyfile)
        except (ssl.SSLError, OSError) as exc:
            raise click.ClickException(f"TLS certificate: {exc}") from exc
    run(lambda settings: _serve(settings, host, port, tls, institution))


async def _serve(
    settings: Settings, host: str, port: int, tls: ssl.SSLContext | None, institution: str
) -> None:
    from cardservice.security.secrets import app_secrets, rate_limit_key  # noqa: PLC0415
    from cardservice.services import Services  # noqa: PLC0415
    from cardservice.sip2.server import Sip2Server  # noqa: PLC0415

    svc = Services.build(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with svc.background():
            server = Sip2Server(
                svc,
                institution=institution or settings.profile.id,
                secret=rate_limit_key(app_secrets(settings)),
            )
            try:
                listening = await server.start(host, port, tls=tls)
            except OSError as error:  # the port taken or not ours, a host that is not here
                reason = os.strerror(error.errno) if error.errno else str(error)
                raise click.ClickException(f"cannot listen on {host}:{port}: {reason}") from None
            bound = listening.sockets[0].getsockname()[1]
            scheme = "TLS" if tls is not None else "TCP"
            click.echo(f"sip2 on {host}:{bound} ({scheme}), profile {settings.profile.id}")
            async with listening:
                await stop.wait()
    finally:
        await svc.close()
