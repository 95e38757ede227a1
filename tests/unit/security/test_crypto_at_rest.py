"""AES-256-GCM at rest: round trip, and any change to blob, context or key is refused."""

from __future__ import annotations

import os

import pytest

from cardservice.security.crypto import (
    KEY_BYTES,
    DecryptionError,
    decrypt,
    encrypt,
    key_id,
)

KEY = bytes(range(32))
AAD = b"application:42:front"
IMAGE = b"\x89PNG\r\n\x1a\n" + os.urandom(2000)


def test_round_trip() -> None:
    blob = encrypt(KEY, IMAGE, aad=AAD)
    assert decrypt(KEY, blob, aad=AAD) == IMAGE
    assert IMAGE not in blob


def test_layout_version_key_id_nonce() -> None:
    blob = encrypt(KEY, b"x", aad=AAD)
    assert blob[0] == 1
    assert blob[1:5] == key_id(KEY)
    assert len(blob) == 1 + 4 + 12 + 1 + 16  # header, one byte, the GCM tag


def test_fresh_nonce_every_time() -> None:
    first, second = encrypt(KEY, IMAGE, aad=AAD), encrypt(KEY, IMAGE, aad=AAD)
    assert first[5:17] != second[5:17]
    assert first != second


@pytest.mark.parametrize("position", [0, 3, 10, 20, -1])
def test_any_flipped_byte_is_refused(position: int) -> None:
    blob = bytearray(encrypt(KEY, IMAGE, aad=AAD))
    blob[position] ^= 0x01
    with pytest.raises(DecryptionError):
        decrypt(KEY, bytes(blob), aad=AAD)


def test_other_context_is_refused() -> None:
    blob = encrypt(KEY, IMAGE, aad=AAD)
    with pytest.raises(DecryptionError) as caught:
        decrypt(KEY, blob, aad=b"application:43:front")
    assert caught.value.code == "decryption_failed"


def test_truncated_is_refused() -> None:
    blob = encrypt(KEY, IMAGE, aad=AAD)
    for cut in (0, 5, 20, len(blob) - 1):
        with pytest.raises(DecryptionError):
            decrypt(KEY, blob[:cut], aad=AAD)


def test_key_ring_picks_the_key_the_blob_names() -> None:
    old, new = KEY, bytes(reversed(KEY))
    old_blob = encrypt(old, IMAGE, aad=AAD)
    new_blob = encrypt(new, IMAGE, aad=AAD)
    ring = [new, old]
    assert decrypt(ring, old_blob, aad=AAD) == IMAGE
    assert decrypt(ring, new_blob, aad=AAD) == IMAGE
    with pytest.raises(DecryptionError) as caught:
        decrypt([new], old_blob, aad=AAD)
    assert caught.value.code == "decryption_no_key"


def test_key_must_be_256_bits() -> None:
    with pytest.raises(ValueError, match=str(KEY_BYTES)):
        encrypt(KEY[:16], IMAGE, aad=AAD)
