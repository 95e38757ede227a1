"""Secrets generated into the data directory: 0600 in 0700, stable, or taken from settings."""

from __future__ import annotations

import base64
import os
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from cardservice.errors import ConfigurationError
from cardservice.profiles import load_profile
from cardservice.security.secrets import app_secrets, load_or_create_secret
from cardservice.settings import Settings


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_created_private_and_stable(tmp_path: Path) -> None:
    first = load_or_create_secret(tmp_path, "session")
    assert len(first) == 32
    assert _mode(tmp_path / "secrets") == 0o700
    assert _mode(tmp_path / "secrets" / "session") == 0o600
    assert load_or_create_secret(tmp_path, "session") == first
    assert load_or_create_secret(tmp_path, "document") != first
    # Only the published file is left: no temporary files lying about.
    assert sorted(p.name for p in (tmp_path / "secrets").iterdir()) == ["document", "session"]


def test_created_private_despite_a_permissive_umask(tmp_path: Path) -> None:
    previous = os.umask(0)
    try:
        load_or_create_secret(tmp_path, "session")
    finally:
        os.umask(previous)
    assert _mode(tmp_path / "secrets") == 0o700
    assert _mode(tmp_path / "secrets" / "session") == 0o600


def test_concurrent_first_loads_agree(tmp_path: Path) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = set(pool.map(lambda _: load_or_create_secret(tmp_path, "session"), range(16)))
    assert len(results) == 1


def test_configured_value_wins_and_writes_nothing(tmp_path: Path) -> None:
    raw = bytes(range(32))
    for text in (
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
    ):
        assert load_or_create_secret(tmp_path, "session", configured=text) == raw
    assert not (tmp_path / "secrets").exists()


@pytest.mark.parametrize("text", ["not base64!", base64.b64encode(b"short").decode()])
def test_bad_configured_value_names_the_setting(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigurationError, match="CARDSERVICE_SECRET_KEY"):
        load_or_create_secret(tmp_path, "session", configured=text, setting="SECRET_KEY")


def test_readable_by_others_is_refused(tmp_path: Path) -> None:
    load_or_create_secret(tmp_path, "session")
    (tmp_path / "secrets" / "session").chmod(0o644)
    with pytest.raises(ConfigurationError, match="chmod 600"):
        load_or_create_secret(tmp_path, "session")


def test_names_cannot_escape_the_directory(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="secret names"):
        load_or_create_secret(tmp_path, "../session")


def test_app_secrets_from_settings_and_files(tmp_path: Path) -> None:
    document = bytes(range(32, 64))
    settings = Settings.from_env(
        {},
        data_dir=tmp_path,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}",
        profile=load_profile("example"),
        document_key=base64.b64encode(document).decode(),
    )
    secrets = app_secrets(settings)
    assert secrets.document_key == document
    assert secrets.session_key == app_secrets(settings).session_key
    assert (tmp_path / "secrets" / "session").exists()
    assert not (tmp_path / "secrets" / "document").exists()
    assert document.hex() not in repr(secrets)
    assert "hidden" in repr(secrets)
