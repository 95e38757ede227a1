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
``verify_until`` per key. Every file is created 0600 from the start and the directory is
0700. Changes happen under an exclusive ``flock`` so that several server workers starting
or rotating at once cannot create diverging keys.

A rotation by another process (``cardservice keys rotate``) reaches every running worker
within ``ROTATION_BOUND`` (5 seconds), with no restart: each worker runs
``follow_rotations``, which looks at the manifest every ``RELOAD_INTERVAL`` (one ``stat``),
and a token whose kid is unknown makes the keyring look at once, so a token signed by a
worker that already reloaded verifies on one that has not yet. Keys configured as files
(``Keyring.from_files``) are the operator's: they are read at start only.
"""

from __future__ import annotations

import asyncio
import base64
import fcntl
import hashlib
import json
import logging
import os
import re
import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from cardservice.errors import ConfigurationError, DomainError, InvalidInput, Kind

log = logging.getLogger(__name__)

MANIFEST_NAME = "keyring.json"
LOCK_NAME = ".keyring.lock"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# A kid is a SHA-256 thumbprint: 32 bytes are 43 base64url characters. Checking the shape
# before a kid becomes a file name keeps a tampered manifest from pointing outside the
# directory.
KID_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")

_PRIVATE_FILE_MODE = 0o600
_DIRECTORY_MODE = 0o700

# How often each worker looks for a rotation, and the bound this gives, stated in the README:
# one interval, plus the time to read the files and a busy event loop's delay.
RELOAD_INTERVAL = timedelta(seconds=2)
ROTATION_BOUND = timedelta(seconds=5)


class UnknownKey(DomainError):  # named like errors.py's NotFound, Conflict
    """No published key has this kid."""

    code = "key_unknown"
    kind = Kind.NOT_FOUND


class NoSigningKey(DomainError):
    """No key may sign at this time."""

    code = "signing_key_unavailable"
    kind = Kind.UNAVAILABLE


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _raw_public_bytes(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def jwk_thumbprint(public_key: Ed25519PublicKey) -> str:
    """RFC 7638 thumbprint of the key's OKP JWK, base64url without padding.

    RFC 7638 fixes the input: only the required members (crv, kty, x), sorted, no spaces.
    """
    x = _b64url(_raw_public_bytes(public_key))
    canonical = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": x}, separators=(",", ":"))
    return _b64url(hashlib.sha256(canonical.encode("ascii")).digest())


def _require_utc(value: datetime, what: str) -> None:
    # A naive datetime would be read in the host's local zone: refuse it rather than guess.
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware")


@dataclass(frozen=True, slots=True)
class SigningKey:
    """One key of the keyring; ``private_key`` is None for a verify-only key."""

    kid: str
    private_key: Ed25519PrivateKey | None = field(repr=False)
    public_key: Ed25519PublicKey
    sign_from: datetime
    verify_until: datetime | None

    def __post_init__(self) -> None:
        _require_utc(self.sign_from, "sign_from")
        if self.verify_until is not None:
            _require_utc(self.verify_until, "verify_until")

    @classmethod
    def generate(cls, *, sign_from: datetime) -> SigningKey:
        private_key = Ed25519PrivateKey.generate()
        public_key = private_key.public_key()
        return cls(jwk_thumbprint(public_key), private_key, public_key, sign_from, None)

    def is_published(self, now: datetime) -> bool:
        """True until ``verify_until`` (exclusive); a key is published before it signs."""
        return self.verify_until is None or now < self.verify_until

    def can_sign(self, now: datetime) -> bool:
        return self.private_key is not None and self.sign_from <= now and self.is_published(now)

    def public_jwk(self) -> dict[str, str]:
        return {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": _b64url(_raw_public_bytes(self.public_key)),
            "kid": self.kid,
            "alg": "EdDSA",
            "use": "sig",
        }


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


# The manifest's identity: os.replace gives a new inode, so this changes on every write
# even when the mtime resolution is coarse.
_Stamp = tuple[int, int, int]


class Keyring:
    """Ed25519 keys held in memory; see the module docstring for their life cycle."""

    def __init__(self, keys: Iterable[SigningKey]) -> None:
        self._set = _KeySet.of(keys)
        self._stamp: _Stamp | None = None
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
        _require_utc(now, "now")
        directory.mkdir(mode=_DIRECTORY_MODE, parents=True, exist_ok=True)
        with _locked(directory, exclusive=True):
            manifest = directory / MANIFEST_NAME
            if not manifest.exists():
                orphans = sorted(path.name for path in directory.glob("*.pem"))
                if orphans:
                    raise ConfigurationError(
                        str(manifest), f"missing, but key files exist: {', '.join(orphans)}"
                    )
                first = SigningKey.generate(sign_from=now)
                _write_private_key(directory, first)
                _write_manifest(directory, [first])
            keyring = cls(_read_keys(directory))
            keyring._stamp = _manifest_stamp(directory)
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
        keys = [_load_pem_file(path, verify_only=True) for path in paths[:-1]]
        keys.append(_load_pem_file(paths[-1], verify_only=False))
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
        validity as ``max_token_lifetime``.

        Works on the directory's current manifest, not on this keyring's snapshot, so a
        rotation by another worker is not lost; this keyring then reflects the result.
        """
        _require_utc(now, "now")
        if overlap < timedelta(0) or max_token_lifetime <= timedelta(0):
            raise InvalidInput("overlap must be >= 0 and max_token_lifetime > 0")
        new = SigningKey.generate(sign_from=now + overlap)
        retire_at = new.sign_from + max_token_lifetime
        with _locked(directory, exclusive=True):
            older = [_retire_by(key, retire_at) for key in _read_keys(directory)]
            _write_private_key(directory, new)
            _write_manifest(directory, [*older, new])
            self._replace([*older, new], directory)
        return new

    def prune(self, directory: Path, *, now: datetime) -> list[str]:
        """Delete the keys whose ``verify_until`` has passed; returns their kids."""
        _require_utc(now, "now")
        with _locked(directory, exclusive=True):
            keys = _read_keys(directory)
            kept = [key for key in keys if key.is_published(now)]
            gone = [key.kid for key in keys if not key.is_published(now)]
            # Manifest first: a crash between the two steps leaves an unlisted file, never a
            # listed key without its file.
            _write_manifest(directory, kept)
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
        if _manifest_stamp(directory) == self._stamp:
            return False
        with _locked(directory, exclusive=False):
            self._replace(_read_keys(directory), directory)
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
            self._stamp = _manifest_stamp(self.directory)
            return False
        if changed:
            log.info("signing keys reloaded: %s", ", ".join(key.kid for key in self.keys))
        return changed

    def _replace(self, keys: Iterable[SigningKey], directory: Path) -> None:
        # Build first, then swap one attribute: a concurrent reader sees old or new, whole.
        self._set = _KeySet.of(keys)
        self._stamp = _manifest_stamp(directory)


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


# --- files -------------------------------------------------------------------------------


@contextmanager
def _locked(directory: Path, *, exclusive: bool) -> Iterator[None]:
    # Shared for readers so that a prune cannot delete a file between reading the manifest
    # and reading the key files it lists.
    fd = os.open(directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, _PRIVATE_FILE_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _manifest_stamp(directory: Path) -> _Stamp | None:
    try:
        info = (directory / MANIFEST_NAME).stat()
    except FileNotFoundError:
        return None
    return (info.st_ino, info.st_mtime_ns, info.st_size)


def _create_private_file(path: Path, content: bytes) -> None:
    """Write a new file that is 0600 from its first instant; never overwrites."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _PRIVATE_FILE_MODE)
    try:
        os.fchmod(fd, _PRIVATE_FILE_MODE)  # exact mode whatever the umask
        os.write(fd, content)
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        path.unlink(missing_ok=True)
        raise
    os.close(fd)


def _fsync_directory(directory: Path) -> None:
    # Makes a new or renamed entry durable, so a power cut cannot lose a key in use.
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_private_key(directory: Path, key: SigningKey) -> None:
    if key.private_key is None:
        raise ValueError("a verify-only key has no private key to write")
    pem = key.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _create_private_file(directory / f"{key.kid}.pem", pem)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def _write_manifest(directory: Path, keys: Iterable[SigningKey]) -> None:
    entries = [
        {"kid": key.kid, "sign_from": _iso(key.sign_from), "verify_until": _iso(key.verify_until)}
        for key in sorted(keys, key=lambda k: (k.sign_from, k.kid))
    ]
    content = json.dumps({"keys": entries}, indent=2, sort_keys=True).encode() + b"\n"
    temporary = directory / f".{MANIFEST_NAME}.{secrets.token_hex(8)}.tmp"
    _create_private_file(temporary, content)
    try:
        os.replace(temporary, directory / MANIFEST_NAME)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _fsync_directory(directory)


def _read_keys(directory: Path) -> list[SigningKey]:
    manifest = directory / MANIFEST_NAME
    entries = _read_manifest(manifest)
    keys = [_load_entry(directory, manifest, entry) for entry in entries]
    if len({key.kid for key in keys}) != len(keys):
        raise ConfigurationError(str(manifest), "a kid is listed twice")
    return keys


def _read_manifest(manifest: Path) -> list[Any]:
    try:
        document = json.loads(manifest.read_bytes())
    except FileNotFoundError:
        raise ConfigurationError(str(manifest), "missing") from None
    except (OSError, ValueError) as error:
        raise ConfigurationError(str(manifest), f"unreadable: {error}") from None
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ConfigurationError(str(manifest), 'expected an object with a "keys" list')
    entries: list[Any] = document["keys"]
    return entries


def _parse_instant(manifest: Path, value: object, name: str) -> datetime:
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            if parsed.tzinfo is not None:
                return parsed.astimezone(UTC)
    raise ConfigurationError(str(manifest), f"{name} must be an ISO 8601 instant with offset")


def _load_entry(directory: Path, manifest: Path, entry: object) -> SigningKey:
    if not isinstance(entry, dict):
        raise ConfigurationError(str(manifest), "each key entry must be an object")
    kid = entry.get("kid")
    if not isinstance(kid, str) or not KID_PATTERN.fullmatch(kid):
        raise ConfigurationError(str(manifest), f"invalid kid {kid!r}")
    sign_from = _parse_instant(manifest, entry.get("sign_from"), "sign_from")
    raw_until = entry.get("verify_until")
    verify_until = (
        None if raw_until is None else _parse_instant(manifest, raw_until, "verify_until")
    )
    key = _load_pem_file(directory / f"{kid}.pem", verify_only=False)
    if key.kid != kid:
        raise ConfigurationError(str(directory / f"{kid}.pem"), "holds a key with another kid")
    return replace(key, sign_from=sign_from, verify_until=verify_until)


def _load_pem_file(path: Path, *, verify_only: bool) -> SigningKey:
    """A key from a PEM file, signing from the epoch; raises ``ConfigurationError``."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigurationError(str(path), "key file missing") from None
    except OSError as error:
        raise ConfigurationError(str(path), f"key file unreadable: {error.strerror}") from None
    private_key: Ed25519PrivateKey | None = None
    try:
        if b"PUBLIC KEY-----" in data and verify_only:
            public = serialization.load_pem_public_key(data)
        else:
            private = serialization.load_pem_private_key(data, password=None)
            if not isinstance(private, Ed25519PrivateKey):
                raise ConfigurationError(str(path), "not an Ed25519 private key")
            private_key = None if verify_only else private
            public = private.public_key()
    except (ValueError, TypeError, UnsupportedAlgorithm):
        # The library's message could quote key material; say only what is wrong.
        raise ConfigurationError(str(path), "not a valid unencrypted PEM key") from None
    if not isinstance(public, Ed25519PublicKey):
        raise ConfigurationError(str(path), "not an Ed25519 key")
    return SigningKey(jwk_thumbprint(public), private_key, public, EPOCH, None)
