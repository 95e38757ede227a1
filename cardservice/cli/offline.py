"""``cardservice offline``: the reference offline scanner (``cards.offline``).

``sync`` brings a scanner's directory up to date from the server (a delta after the first
time) or from a bundle file copied from anywhere; ``verify`` judges scans with no server and
prints one JSON verdict a line, with the age of its data. Neither needs the service's
settings: a scanner is not a server.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import click
import msgspec

from cardservice.cli.common import reported

DIR_OPTION = click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="CARDSERVICE_OFFLINE_DIR",
    required=True,
    help="The scanner's data directory (CARDSERVICE_OFFLINE_DIR).",
)


@click.group()
def offline() -> None:
    """Offline scanning: sync the signed revocation feed, verify cards with no server."""


# Generous: a full bundle of 100,000 revocations is about 7 MB (README, bench-offline).
MAX_BUNDLE_BYTES = 256 * 1024 * 1024
# What an operator does about each BundleRejected reason (cards.offline.apply_bundle).
_REJECTED = {
    "malformed": "not a signed feed bundle (a compact JWS), or cut short",
    "bad_header": "not a revocation feed (its header is not the feed's)",
    "bad_signature": "the signature does not hold: altered, or not signed by the library",
    "unknown_key": "signed by a key this scanner does not trust; if it missed a key "
    "rotation, set it up again with --trust-jwks FILE (the library's JWKS)",
    "bad_jwks": "the key set is not one of Ed25519 keys named by their thumbprints",
    "untrusted": "no keys to check it with: give --trust-jwks FILE on the first sync",
    "wrong_issuer": "signed for another library (issuer)",
    "out_of_order": "a delta made for another cursor, or by a server restored from a backup "
    "since this scanner's last sync: sync with --full",
    "older": "made before the data this scanner holds (an old copy): nothing was changed",
}


def _jwks(text: str | bytes, source: str) -> object:
    try:
        return json.loads(text)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise click.ClickException(f"jwks_unreadable: {source} is not a JWKS (JSON)") from None


def _safe_for_keys(server: str) -> bool:
    """Whether the first key set may be fetched from ``server``: HTTPS, or this machine."""
    try:
        parts = urlsplit(server)
        host = parts.hostname or ""
    except ValueError:
        return True  # not a URL at all: the fetch reports it (server_unreachable)
    return parts.scheme == "https" or host in {"localhost", "127.0.0.1", "::1"}


def _read_bundle(path: Path) -> str:
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_BUNDLE_BYTES + 1)
    except OSError as error:
        raise click.ClickException(f"bundle_unreadable: {path}: {error.strerror}") from None
    if len(raw) > MAX_BUNDLE_BYTES:
        raise click.ClickException(f"bundle_rejected: malformed: {path} is over 256 MB")
    # A JWS is ASCII; anything else cannot verify and is reported as malformed.
    return raw.decode("ascii", errors="replace")


def _fetch(url: str, api_key: str | None) -> tuple[int, str]:
    import httpx  # noqa: PLC0415  # keep `--help` fast

    headers = {"X-API-Key": api_key} if api_key else {}
    try:
        response = httpx.get(url, headers=headers, timeout=60)
    except (httpx.HTTPError, httpx.InvalidURL) as error:  # InvalidURL is no HTTPError
        raise click.ClickException(f"server_unreachable: {error}") from error
    return response.status_code, response.text


@offline.command("sync")
@DIR_OPTION
@click.option("--server", help="The service's base URL, e.g. https://cards.example.org.")
@click.option(
    "--api-key", envvar="CARDSERVICE_SCANNER_API_KEY", help="(CARDSERVICE_SCANNER_API_KEY)"
)
@click.option(
    "--bundle",
    "bundle_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Apply this bundle file instead of asking the server (a copy from anywhere).",
)
@click.option(
    "--trust-jwks",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Trust the keys in this JWKS file: on the first sync instead of the server's "
    "/.well-known/jwks.json, or to set the scanner up again after a missed key rotation.",
)
@click.option("--full", is_flag=True, help="Ask for the whole feed, not a delta.")
def offline_sync(  # noqa: PLR0917  # click passes every option by keyword
    directory: Path,
    server: str | None,
    api_key: str | None,
    bundle_file: Path | None,
    trust_jwks: Path | None,
    full: bool,
) -> None:
    """Bring the scanner's data up to date; prints the cursor, the counts and the data's age."""
    from cardservice.cards.bundle import BundleRejected  # noqa: PLC0415
    from cardservice.cards.offline import apply_bundle, load_state, save_state  # noqa: PLC0415

    if (server is None) == (bundle_file is None):
        raise click.UsageError("give exactly one of --server and --bundle")
    with reported():
        state = load_state(directory)
    trust: object | None = None
    if trust_jwks is not None:
        trust = _jwks(trust_jwks.read_bytes(), str(trust_jwks))
    elif state is None and server is not None:
        if not _safe_for_keys(server):  # whoever is on the path would choose the keys for good
            raise click.ClickException(
                "jwks_insecure: the first keys come over HTTPS (or from this machine), "
                "else give them with --trust-jwks FILE"
            )
        status, body = _fetch(f"{server.rstrip('/')}/.well-known/jwks.json", None)
        if status != 200:
            raise click.ClickException(f"jwks_unavailable: HTTP {status}")
        trust = _jwks(body, "the server's /.well-known/jwks.json")
    if bundle_file is not None:
        bundle = _read_bundle(bundle_file)
    else:
        query = "" if state is None or full else "?" + urlencode({"since": state.cursor})
        status, bundle = _fetch(f"{(server or '').rstrip('/')}/api/v1/offline/feed{query}", api_key)
        if status == 409:  # feed_cursor_ahead, README "Offline scanners"
            raise click.ClickException(
                "feed_cursor_ahead: the server's feed is behind this scanner (a restored "
                "database, or another server): sync again with --full"
            )
        if status != 200:
            raise click.ClickException(f"feed_refused: HTTP {status} {bundle[:300]}")
    now = datetime.now(UTC)
    try:
        new_state = apply_bundle(state, bundle, trust=trust, now=now)
    except BundleRejected as error:
        reason = str(error.detail.get("reason", ""))
        raise click.ClickException(
            f"bundle_rejected: {reason}: {_REJECTED.get(reason, error.message)}"
        ) from None
    save_state(directory, new_state)
    click.echo(
        json.dumps(
            {
                "cursor": new_state.cursor,
                "numbers": len(new_state.numbers),
                "tokens": len(new_state.tokens),
                # As verify writes it (msgspec): 2026-11-30T10:37:46Z.
                "data_as_of": datetime.fromtimestamp(new_state.data_at, UTC)
                .isoformat()
                .replace("+00:00", "Z"),
                "data_age_seconds": max(0, int(now.timestamp()) - new_state.data_at),
            }
        )
    )


@offline.command("verify")
@DIR_OPTION
@click.option(
    "--max-age",
    type=click.IntRange(min=0),
    default=86_400,
    show_default=True,
    help="Seconds after which the data is reported stale.",
)
@click.argument("scans", nargs=-1)
def offline_verify(directory: Path, max_age: int, scans: tuple[str, ...]) -> None:
    """Verify SCANS (barcodes, card tokens, rotating codes; or one a line on standard
    input) with no server. Prints one JSON verdict a line: status, reason, user_number,
    expires_on, data_age_seconds, data_as_of, stale. Exits 0 whatever the verdicts."""
    from cardservice.cards.device_proof import time_step  # noqa: PLC0415
    from cardservice.cards.offline import (  # noqa: PLC0415
        OfflineVerifier,
        load_seen,
        load_state,
        save_seen,
    )

    with reported():
        state = load_state(directory)
        seen = load_seen(directory)
    if state is None:
        raise click.ClickException("offline_not_synced: run `cardservice offline sync` first")
    verifier = OfflineVerifier(state, max_age_seconds=max_age, replay=seen)
    inputs = scans or tuple(line.strip() for line in sys.stdin if line.strip())
    now = datetime.now(UTC)
    for scanned in inputs:
        click.echo(msgspec.json.encode(verifier.verify(scanned, now=now)).decode())
    save_seen(directory, verifier.replay, keep_after_step=time_step(now) - 2)
