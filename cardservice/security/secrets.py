"""Application secrets: from settings when given, else generated once into the data directory.

A generated secret is written to a private temporary file and then hard-linked into place,
so a second worker starting at the same moment either wins the link or reads the complete
file the first one published; it never reads a half-written secret. Files are 0600 in a
0700 directory, and a secret file others can read is refused rather than used.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import os
import re
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from cardservice.errors import ConfigurationError
from cardservice.settings import PREFIX, Settings

SECRET_BYTES = 32
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")


@dataclass(frozen=True, slots=True)
class AppSecrets:
    # Signs and encrypts session cookies and CSRF tokens.
    session_key: bytes
    # AES-256-GCM key for ID images at rest (see ``security/crypto.py``).
    document_key: bytes

    def __repr__(self) -> str:
        return "AppSecrets(<hidden>)"  # keep keys out of logs and tracebacks


def app_secrets(settings: Settings) -> AppSecrets:
    return AppSecrets(
        session_key=load_or_create_secret(
            settings.data_dir, "session", configured=settings.secret_key, setting="SECRET_KEY"
        ),
        document_key=load_or_create_secret(
            settings.data_dir,
            "document",
            configured=settings.document_key,
            setting="DOCUMENT_KEY",
        ),
    )


def load_or_create_secret(
    data_dir: Path,
    name: str,
    nbytes: int = SECRET_BYTES,
    *,
    configured: str = "",
    setting: str = "",
) -> bytes:
    """``configured`` (base64) if given, else ``data_dir/secrets/name``, made on first use."""
    if not _NAME.match(name):
        raise ValueError(f"secret names are lower-case words, not {name!r}")
    if configured:
        return _decode(configured, nbytes, PREFIX + (setting or name.upper()))
    directory = _private_directory(data_dir / "secrets")
    path = directory / name
    if not path.exists():
        _publish(path, base64.b64encode(secrets.token_bytes(nbytes)) + b"\n")
    return _read(path, nbytes)


def _decode(text: str, nbytes: int, where: str) -> bytes:
    # Accept standard and URL-safe base64, padded or not: people paste either.
    cleaned = text.strip().translate(str.maketrans("-_", "+/"))
    try:
        raw = base64.b64decode(cleaned + "=" * (-len(cleaned) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigurationError(where, "must be base64") from None
    if len(raw) != nbytes:
        raise ConfigurationError(where, f"must decode to {nbytes} bytes, not {len(raw)}")
    return raw


def _private_directory(directory: Path) -> Path:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    # mkdir's mode is masked by the umask, and an existing directory keeps its own.
    directory.chmod(0o700)
    return directory


def _publish(path: Path, content: bytes) -> None:
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        # Fails if another process published first; then theirs is the secret.
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        temporary.unlink()


def _read(path: Path, nbytes: int) -> bytes:
    mode = path.stat().st_mode
    if stat.S_IMODE(mode) & 0o077:
        raise ConfigurationError(str(path), "others can read this secret; chmod 600 it")
    return _decode(path.read_text("ascii"), nbytes, str(path))


def derive_key(app: AppSecrets, label: str) -> bytes:
    """A 32-byte key for one purpose (``label``), HMAC-SHA256 of the session secret."""
    return hmac.new(app.session_key, b"cardservice/" + label.encode(), hashlib.sha256).digest()


def rate_limit_key(app: AppSecrets) -> bytes:
    """The key that hashes what rate limits count (addresses, accounts) before it is stored."""
    return derive_key(app, "rate-limit")
