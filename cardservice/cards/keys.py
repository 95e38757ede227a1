"""The Ed25519 keyring that signs card tokens.

A card's QR code holds a token that anyone with the library's public keys can verify,
offline too, so the public keys are published as a JWKS and a key's life has three phases:

1. *published*: from its creation. Verifiers that cache the JWKS learn the key before
   any token signed with it reaches them (the overlap).
2. *signing*: from ``sign_from``, the newest such key with a private key signs.
3. *retired*: at ``verify_until`` the key leaves the JWKS and tokens it signed stop
   verifying. Rotation sets it late enough that every token it signed has expired.

Keys live in memory. On disk (the service's ``data/keys`` directory) each private key is a
PKCS#8 PEM file ``{kid}.pem`` and ``keyring.json`` lists ``kid``, ``sign_from`` and
``verify_until`` per key (``cards.keyfiles``: 0600 files in a 0700 directory, changed under
an exclusive ``flock`` so that several workers starting or rotating at once cannot create
diverging keys). One key is a ``cards.signing_key.SigningKey``.

A rotation by another process (``cardservice keys rotate``) reaches every running worker
within ``ROTATION_BOUND`` (5 seconds), with no restart: each worker runs
``follow_rotations``, which looks at the manifest every ``RELOAD_INTERVAL`` (one ``stat``),
and a token whose kid is unknown makes the keyring look at once, so a token signed by a
worker that already reloaded verifies on one that has not yet. Keys configured as files
(``Keyring.from_files``) are the operator's: they are read at start only.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from cardservice.cards.keyfiles import (
    DIRECTORY_MODE,
    MANIFEST_NAME,
    Stamp,
    load_pem_file,
    locked,
    manifest_stamp,
    read_keys,
    write_manifest,
    write_private_key,
)
from cardservice.cards.signing_key import EPOCH, SigningKey, jwk_thumbprint, require_utc
from cardservice.errors import ConfigurationError, DomainError, InvalidInput, Kind
from cardservice.settings import KEY_OVERLAP_HOURS_MAX

__all__ = [
    "EPOCH",
    "MANIFEST_NAME",
    "RELOAD_INTERVAL",
    "ROTATION_BOUND",
    "Keyring",
    "NoSigningKey",
    "SigningKey",
    "UnknownKey",
    "follow_rotations",
    "jwk_thumbprint",
]

log = logging.getLogger(__name__)

# How often each worker looks for a rotation, and the bound this gives, stated in the README:
# one interval, plus the time to read the files and a busy event loop's delay.
RELOAD_INTERVAL = timedelta(seconds=2)
ROTATION_BOUND = timedelta(seconds=5)
# The longest overlap a rotation takes (a year; why: settings.KEY_OVERLAP_HOURS_MAX).
MAX_OVERLAP = timedelta(hours=KEY_OVERLAP_HOURS_MAX)


class UnknownKey(DomainError):  # named like errors.py's NotFound, Conflict
    """No published key has this kid."""

    code = "key_unknown"
    kind = Kind.NOT_FOUND


class NoSigningKey(DomainError):
    """No key may sign at this time."""

    code = "signing_key_unavailable"
    kind = Kind.UNAVAILABLE


@dataclass(frozen=True, slots=True)
class _KeySet:
    """An immutable snapshot; the keyring swaps it whole so readers never see half a change."""

    keys: tuple[SigningKey, ...]
    by_kid: dict[str, SigningKey]
    # Keyed by the tuple of published kids: the JSON only changes when that set does.
    jwks_cache: dict[tuple[str, ...], bytes] = field(default_factory=dict)

    @classmethod
    def of(cls, keys: Iterable[SigningKey]) -> _KeySet:
        # Sorted oldest first so "newest" is the last match and the JWKS order is stable.
        ordered = tuple(sorted(keys, key=lambda k: (k.sign_from, k.kid)))
        by_kid = {key.kid: key for key in ordered}
        if len(by_kid) != len(ordered):
            raise ValueError("duplicate kid in keyring")
        return cls(ordered, by_kid)


class Keyring:
    """Ed25519 keys held in memory; see the module docstring for their life cycle."""

    def __init__(self, keys: Iterable[SigningKey]) -> None:
        self._set = _KeySet.of(keys)
        self._stamp: Stamp | None = None
        # Where the keys were loaded from; None for operator-managed key files.
        self.directory: Path | None = None

    @property
    def keys(self) -> tuple[SigningKey, ...]:
        """All keys, oldest ``sign_from`` first."""
        return self._set.keys

    def signing_key(self, now: datetime) -> SigningKey:
        """The newest key whose ``sign_from`` has come and that holds a private key."""
        for key in reversed(self._set.keys):
            if key.can_sign(now):
                return key
        raise NoSigningKey(f"no key may sign at {now.isoformat()}")

    def verification_key(self, kid: str, now: datetime) -> Ed25519PublicKey:
        """The public key for ``kid`` if it is published at ``now``; else ``UnknownKey``.

        A kid not held yet may be a rotation another worker has already picked up: the
        keyring then looks at the manifest once (one ``stat`` unless it changed) and retries.
        """
        key = self._set.by_kid.get(kid)
        if key is None and self.directory is not None and self.refresh():
            key = self._set.by_kid.get(kid)
        if key is None or not key.is_published(now):
            raise UnknownKey()
        return key.public_key

    def jwks(self, now: datetime) -> dict[str, list[dict[str, str]]]:
        """The JWK Set of every key published at ``now``, including not-yet-signing ones."""
        return {"keys": [key.public_jwk() for key in self._set.keys if key.is_published(now)]}

    def jwks_bytes(self, now: datetime) -> bytes:
        """Canonical JSON of ``jwks(now)`` for serving, cached per set of published keys."""
        keyset = self._set
        published = tuple(key.kid for key in keyset.keys if key.is_published(now))
        cached = keyset.jwks_cache.get(published)
        if cached is None:
            cached = json.dumps(self.jwks(now), sort_keys=True, separators=(",", ":")).encode()
            keyset.jwks_cache[published] = cached
        return cached

    # --- storage -------------------------------------------------------------------------

    @classmethod
    def load_or_create(cls, directory: Path, *, now: datetime) -> Keyring:
        """Load the keyring in ``directory``; on first start create it with one key.

        The first key signs from ``now``. A directory holding key files but no manifest is
        an error, not a first start: a new key would silently invalidate every issued card.
        """
        require_utc(now, "now")
        directory.mkdir(mode=DIRECTORY_MODE, parents=True, exist_ok=True)
        with locked(directory, exclusive=True):
            manifest = directory / MANIFEST_NAME
            if not manifest.exists():
                orphans = sorted(path.name for path in directory.glob("*.pem"))
                if orphans:
                    raise ConfigurationError(
                        str(manifest), f"missing, but key files exist: {', '.join(orphans)}"
                    )
                first = SigningKey.generate(sign_from=now)
                write_private_key(directory, first)
                write_manifest(directory, [first])
            keyring = cls(read_keys(directory))
            keyring._stamp = manifest_stamp(directory)
        keyring.directory = directory
        return keyring

    @classmethod
    def from_files(cls, paths: list[Path]) -> Keyring:
        """Keys an operator manages: PEM files, the LAST one signs, the others only verify.

        Every key signs from the epoch and never retires; to retire a key, remove its file
        from the configuration. Earlier files may hold a private (PKCS#8) or a public
        (SubjectPublicKeyInfo) key; a private key there is used only to verify.
        """
        if not paths:
            raise ConfigurationError("key files", "no key file configured")
        keys = [load_pem_file(path, verify_only=True) for path in paths[:-1]]
        keys.append(load_pem_file(paths[-1], verify_only=False))
        seen = {key.kid for key in keys}
        if len(seen) != len(keys):
            raise ConfigurationError("key files", "the same key is configured twice")
        return cls(keys)

    def rotate(
        self, directory: Path, *, now: datetime, overlap: timedelta, max_token_lifetime: timedelta
    ) -> SigningKey:
        """Create a key that signs from ``now + overlap`` and schedule the older keys' end.

        The new key is published at once, so verifiers caching the JWKS for less than
        ``overlap`` know it before it signs. Each older key keeps signing until then and
        verifies until ``new.sign_from + max_token_lifetime``, when the last token it can
        have signed has expired (an earlier ``verify_until`` is kept). Pass the longest card
        validity as ``max_token_lifetime``. Raises ``InvalidInput`` for an overlap below 0 or
        above ``MAX_OVERLAP`` (a year), or a lifetime that is not positive.

        Works on the directory's current manifest, not on this keyring's snapshot, so a
        rotation by another worker is not lost; this keyring then reflects the result.
        """
        require_utc(now, "now")
        if not timedelta(0) <= overlap <= MAX_OVERLAP or max_token_lifetime <= timedelta(0):
            raise InvalidInput(
                f"overlap must be between 0 and {KEY_OVERLAP_HOURS_MAX} hours, "
                "and max_token_lifetime more than 0"
            )
        new = SigningKey.generate(sign_from=now + overlap)
        retire_at = new.sign_from + max_token_lifetime
        with locked(directory, exclusive=True):
            older = [_retire_by(key, retire_at) for key in read_keys(directory)]
            write_private_key(directory, new)
            write_manifest(directory, [*older, new])
            self._replace([*older, new], directory)
        return new

    def prune(self, directory: Path, *, now: datetime) -> list[str]:
        """Delete the keys whose ``verify_until`` has passed; returns their kids."""
        require_utc(now, "now")
        with locked(directory, exclusive=True):
            keys = read_keys(directory)
            kept = [key for key in keys if key.is_published(now)]
            gone = [key.kid for key in keys if not key.is_published(now)]
            # Manifest first: a crash between the two steps leaves an unlisted file, never a
            # listed key without its file.
            write_manifest(directory, kept)
            for kid in gone:
                (directory / f"{kid}.pem").unlink(missing_ok=True)
            self._replace(kept, directory)
        return gone

    def reload_if_changed(self, directory: Path) -> bool:
        """Reload when the manifest changed since it was last read; True if it did.

        Costs one ``stat`` when nothing changed, so a worker may call it often (for example
        once a minute, or before serving the JWKS) to pick up a rotation by another process.
        A manifest that fails to load raises ``ConfigurationError`` and keeps the current keys.
        """
        if manifest_stamp(directory) == self._stamp:
            return False
        with locked(directory, exclusive=False):
            self._replace(read_keys(directory), directory)
        return True

    def refresh(self) -> bool:
        """``reload_if_changed`` on the keyring's directory; a broken manifest is logged and
        the keys in hand are kept (the operator sees the log, tokens keep verifying)."""
        if self.directory is None:
            return False
        try:
            changed = self.reload_if_changed(self.directory)
        except ConfigurationError:
            log.exception("signing keys not reloaded; keeping the keys in use")
            # Not again until the manifest changes: one log line per broken version.
            self._stamp = manifest_stamp(self.directory)
            return False
        if changed:
            log.info("signing keys reloaded: %s", ", ".join(key.kid for key in self.keys))
        return changed

    def _replace(self, keys: Iterable[SigningKey], directory: Path) -> None:
        # Build first, then swap one attribute: a concurrent reader sees old or new, whole.
        self._set = _KeySet.of(keys)
        self._stamp = manifest_stamp(directory)


async def follow_rotations(keyring: Keyring, stop: asyncio.Event) -> None:
    """Until ``stop`` is set, pick up a rotation or prune by another process every
    ``RELOAD_INTERVAL`` (off the event loop), so each worker follows it within
    ``ROTATION_BOUND``. Returns at once for a keyring of operator-managed key files."""
    if keyring.directory is None:
        return
    interval = RELOAD_INTERVAL.total_seconds()
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval)
        except TimeoutError:
            await asyncio.to_thread(keyring.refresh)


def _retire_by(key: SigningKey, retire_at: datetime) -> SigningKey:
    if key.verify_until is not None and key.verify_until <= retire_at:
        return key
    return replace(key, verify_until=retire_at)
