"""A rotation by another process reaches a running keyring without a restart: the watcher
(``follow_rotations``) reloads it within ``ROTATION_BOUND``, and a broken manifest keeps the
keys in use, logged once."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cardservice.cards.keys import (
    MANIFEST_NAME,
    RELOAD_INTERVAL,
    ROTATION_BOUND,
    Keyring,
    follow_rotations,
)

DAY = timedelta(days=1)


async def test_the_watcher_picks_up_a_rotation_within_the_bound(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    serving = Keyring.load_or_create(tmp_path, now=now - DAY)
    first = serving.signing_key(now).kid
    stop = asyncio.Event()
    watcher = asyncio.create_task(follow_rotations(serving, stop))
    try:
        operator = Keyring.load_or_create(tmp_path, now=now)
        new = operator.rotate(tmp_path, now=now, overlap=timedelta(0), max_token_lifetime=DAY)
        rotated_at = time.monotonic()
        while serving.signing_key(datetime.now(UTC)).kid != new.kid:
            assert time.monotonic() - rotated_at < ROTATION_BOUND.total_seconds()
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.wait_for(watcher, timeout=RELOAD_INTERVAL.total_seconds() + 1)
    assert [key["kid"] for key in serving.jwks(datetime.now(UTC))["keys"]] == [first, new.kid]


async def test_key_files_are_not_watched(tmp_path: Path) -> None:
    path = tmp_path / "key.pem"
    path.write_bytes(
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    keyring = Keyring.from_files([path])
    assert keyring.directory is None
    # Returns at once: the operator's files are read at start only.
    await asyncio.wait_for(follow_rotations(keyring, asyncio.Event()), timeout=1)
    assert not keyring.refresh()


def test_a_broken_manifest_keeps_the_keys_and_is_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    now = datetime.now(UTC)
    serving = Keyring.load_or_create(tmp_path, now=now)
    kid = serving.signing_key(now).kid
    (tmp_path / MANIFEST_NAME).write_text("{not json")
    with caplog.at_level(logging.ERROR, logger="cardservice.cards.keys"):
        assert not serving.refresh()
        assert not serving.refresh()
    assert caplog.text.count("signing keys not reloaded") == 1
    assert serving.signing_key(now).kid == kid
