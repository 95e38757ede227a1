"""The keyring on disk: ``{kid}.pem`` private keys (PKCS#8) and the ``keyring.json`` manifest
listing ``kid``, ``sign_from`` and ``verify_until`` per key, in a 0700 directory.

Every file is created 0600 from its first instant and written whole (a new manifest replaces
the old one by rename), under ``locked``: an exclusive ``flock`` for changes, a shared one
for reads, so that several workers starting or rotating at once cannot create diverging keys
and a prune cannot delete a file between reading the manifest and the files it lists.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from cardservice.cards.signing_key import EPOCH, SigningKey, jwk_thumbprint
from cardservice.errors import ConfigurationError

MANIFEST_NAME = "keyring.json"
LOCK_NAME = ".keyring.lock"

# A kid is a SHA-256 thumbprint: 32 bytes are 43 base64url characters. Checking the shape
# before a kid becomes a file name keeps a tampered manifest from pointing outside the
# directory.
KID_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")

PRIVATE_FILE_MODE = 0o600
DIRECTORY_MODE = 0o700

# The manifest's identity: os.replace gives a new inode, so this changes on every write
# even when the mtime resolution is coarse.
Stamp = tuple[int, int, int]


@contextmanager
def locked(directory: Path, *, exclusive: bool) -> Iterator[None]:
    # Shared for readers so that a prune cannot delete a file between reading the manifest
    # and reading the key files it lists.
    fd = os.open(directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, PRIVATE_FILE_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def manifest_stamp(directory: Path) -> Stamp | None:
    try:
        info = (directory / MANIFEST_NAME).stat()
    except FileNotFoundError:
        return None
    return (info.st_ino, info.st_mtime_ns, info.st_size)


def create_private_file(path: Path, content: bytes) -> None:
    """Write a new file that is 0600 from its first instant; never overwrites."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    try:
        os.fchmod(fd, PRIVATE_FILE_MODE)  # exact mode whatever the umask
        os.write(fd, content)
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        path.unlink(missing_ok=True)
        raise
    os.close(fd)


def fsync_directory(directory: Path) -> None:
    # Makes a new or renamed entry durable, so a power cut cannot lose a key in use.
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_private_key(directory: Path, key: SigningKey) -> None:
    if key.private_key is None:
        raise ValueError("a verify-only key has no private key to write")
    pem = key.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    create_private_file(directory / f"{key.kid}.pem", pem)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def write_manifest(directory: Path, keys: Iterable[SigningKey]) -> None:
    entries = [
        {"kid": key.kid, "sign_from": _iso(key.sign_from), "verify_until": _iso(key.verify_until)}
        for key in sorted(keys, key=lambda k: (k.sign_from, k.kid))
    ]
    content = json.dumps({"keys": entries}, indent=2, sort_keys=True).encode() + b"\n"
    temporary = directory / f".{MANIFEST_NAME}.{secrets.token_hex(8)}.tmp"
    create_private_file(temporary, content)
    try:
        os.replace(temporary, directory / MANIFEST_NAME)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    fsync_directory(directory)


def read_keys(directory: Path) -> list[SigningKey]:
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
    key = load_pem_file(directory / f"{kid}.pem", verify_only=False)
    if key.kid != kid:
        raise ConfigurationError(str(directory / f"{kid}.pem"), "holds a key with another kid")
    return replace(key, sign_from=sign_from, verify_until=verify_until)


def load_pem_file(path: Path, *, verify_only: bool) -> SigningKey:
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
