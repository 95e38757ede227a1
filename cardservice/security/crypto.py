"""Encryption at rest for ID images and other sensitive blobs: AES-256-GCM.

A blob is ``version (1 byte) | key id (4 bytes) | nonce (12 bytes) | ciphertext+tag``.
The header is authenticated along with the caller's ``aad`` (say, the application id and
the document side), so a blob cannot be moved to another record or relabelled unnoticed.
The key id lets a future key rotation keep decrypting old blobs: decrypt takes every key
still in use and picks the one the blob names.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from cardservice.errors import DomainError, Kind

VERSION = 1
KEY_BYTES = 32
NONCE_BYTES = 12  # 96 bits, the size GCM is designed for
KEY_ID_BYTES = 4
_HEADER_BYTES = 1 + KEY_ID_BYTES + NONCE_BYTES


class DecryptionError(DomainError):
    """Stored data could not be decrypted: tampered with, truncated, or its key is gone."""

    code = "decryption_failed"
    kind = Kind.UNAVAILABLE


def key_id(key: bytes) -> bytes:
    """A short public name for ``key``; it reveals nothing usable about the key."""
    _check_key(key)
    return hashlib.sha256(b"cardservice key id\0" + key).digest()[:KEY_ID_BYTES]


def encrypt(key: bytes, plaintext: bytes, *, aad: bytes) -> bytes:
    # A random nonce per blob: 2**32 blobs under one key keep the collision risk within
    # NIST's bound, far beyond the number of ID images a library holds.
    header = bytes([VERSION]) + key_id(key) + os.urandom(NONCE_BYTES)
    return header + AESGCM(key).encrypt(header[-NONCE_BYTES:], plaintext, header + aad)


def decrypt(keys: bytes | Iterable[bytes], blob: bytes, *, aad: bytes) -> bytes:
    """The plaintext, or :class:`DecryptionError` when anything about ``blob`` is off."""
    if len(blob) < _HEADER_BYTES + 16 or blob[0] != VERSION:
        raise DecryptionError
    header = blob[:_HEADER_BYTES]
    key = _find_key([keys] if isinstance(keys, bytes) else keys, header[1 : 1 + KEY_ID_BYTES])
    try:
        return AESGCM(key).decrypt(header[-NONCE_BYTES:], blob[_HEADER_BYTES:], header + aad)
    except InvalidTag:
        raise DecryptionError from None


def _find_key(keys: Iterable[bytes], wanted: bytes) -> bytes:
    for key in keys:
        if key_id(key) == wanted:
            return key
    raise DecryptionError("No configured key can decrypt this data.", code="decryption_no_key")


def _check_key(key: bytes) -> None:
    if len(key) != KEY_BYTES:
        raise ValueError(f"an encryption key is {KEY_BYTES} bytes, not {len(key)}")
