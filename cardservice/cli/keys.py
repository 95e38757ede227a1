"""``cardservice keys``: the card-token signing keys in the data directory."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click

from cardservice.cli.common import reported, settings_from_env
from cardservice.settings import KEY_OVERLAP_HOURS_MAX


@click.group()
def keys() -> None:
    """Card-token signing keys."""


@keys.command("list")
def keys_list() -> None:
    """Show each key, when it signs from and until when it verifies."""
    from cardservice.services import load_keyring  # noqa: PLC0415

    settings = settings_from_env()
    with reported():
        ring = load_keyring(settings)  # on a first start, makes a key that signs from now
        now = datetime.now(UTC)
        signing = ring.signing_key(now).kid
    for key in ring.keys:
        until = key.verify_until.isoformat() if key.verify_until else "-"
        mark = "signing" if key.kid == signing else "published"
        click.echo(f"{key.kid}\t{mark}\tsigns from {key.sign_from.isoformat()}\tuntil {until}")


@keys.command("rotate")
@click.option(
    "--overlap-hours",
    type=click.IntRange(0, KEY_OVERLAP_HOURS_MAX),
    help="Hours the new key is published before it signs (CARDSERVICE_KEY_OVERLAP_HOURS); "
    "0 signs with it at once. At most 8760 (a year): the overlap only has to outlast the "
    "verifiers' cached key sets (minutes to a day), and a longer one keeps signing with the "
    "key being replaced.",
)
def keys_rotate(overlap_hours: int | None) -> None:
    """Create a new signing key: published now, used after the overlap.

    The running service picks the new key up within 5 seconds, every worker, no restart.
    With --overlap-hours 0 the new key signs at once; verifiers that cache the key set
    (/.well-known/jwks.json allows 5 minutes) may refuse the newest tokens until they fetch it
    again. Either way the older keys stay published and keep verifying the tokens they
    signed (cards shown, saved, in wallets) until the last of those expires, as a library
    expects: a routine rotation never stops a card at the counter."""
    from cardservice.cards.keys import Keyring  # noqa: PLC0415

    settings = settings_from_env()
    if settings.signing_key_files:
        raise click.ClickException(
            "keys come from CARDSERVICE_SIGNING_KEY_FILES; rotate them there"
        )
    directory = settings.data_dir / "keys"
    now = datetime.now(UTC)
    hours = settings.key_overlap_hours if overlap_hours is None else overlap_hours
    overlap = timedelta(hours=hours)
    # A token lives at most as long as a card: validity plus the renewal window.
    card = settings.profile.card
    lifetime = timedelta(
        days=366 * card.validity_years + card.renewal_window_days + 31 * card.renewal_window_months
    )
    with reported():
        ring = Keyring.load_or_create(directory, now=now)
        new = ring.rotate(directory, now=now, overlap=overlap, max_token_lifetime=lifetime)
    when = "now" if hours == 0 else f"from {new.sign_from.isoformat()}"
    click.echo(f"new key {new.kid} published now, signs {when}")


@keys.command("prune")
def keys_prune() -> None:
    """Delete keys whose last token has expired."""
    from cardservice.cards.keys import Keyring  # noqa: PLC0415

    settings = settings_from_env()
    directory = settings.data_dir / "keys"
    now = datetime.now(UTC)
    with reported():
        removed = Keyring.load_or_create(directory, now=now).prune(directory, now=now)
    click.echo("removed: " + (", ".join(removed) if removed else "none"))
