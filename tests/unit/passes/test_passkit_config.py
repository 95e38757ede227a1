"""Apple Wallet settings: all or nothing, APNs only with Apple Wallet, images replaced by
a deployment's own and refused when not PNG; the web service's tags and tokens."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from cardservice.errors import ConfigurationError
from cardservice.passkit.routes import AppleWalletOff, CardRevokedForPass, NoCardForPass
from cardservice.passkit.service import (
    authentication_token,
    moment_of_tag,
    next_update,
    presented_token,
    tag_of,
)
from cardservice.passkit.texts import ERRORS
from cardservice.passkit.wallet import pass_images
from cardservice.settings import Settings
from cardservice.web.i18n import translations
from passes.apple import default_images


def test_apple_settings_are_all_or_nothing(tmp_path: Path) -> None:
    base = {"CARDSERVICE_DATA_DIR": str(tmp_path)}
    assert not Settings.from_env(base).apple_passes_configured
    with pytest.raises(ConfigurationError, match="CARDSERVICE_APPLE_TEAM_ID"):
        Settings.from_env({**base, "CARDSERVICE_APPLE_PASS_TYPE_ID": "pass.x"})
    with pytest.raises(ConfigurationError, match="APNS_KEY_FILE"):
        Settings.from_env(
            {**base, "CARDSERVICE_APNS_KEY_FILE": "k.p8", "CARDSERVICE_APNS_KEY_ID": "K"}
        )
    with pytest.raises(ConfigurationError, match="APNS_KEY_ID"):
        Settings.from_env({**base, "CARDSERVICE_APNS_KEY_FILE": "k.p8"})


def test_a_deployment_replaces_the_images(tmp_path: Path) -> None:
    own = default_images()["logo@2x.png"]
    (tmp_path / "icon.png").write_bytes(own)
    images = pass_images(tmp_path)
    assert images["icon.png"] == own
    assert images["logo.png"] == default_images()["logo.png"]
    (tmp_path / "logo.png").write_bytes(b"GIF89a")
    with pytest.raises(ConfigurationError, match=r"logo\.png is not a PNG"):
        pass_images(tmp_path)
    with pytest.raises(ConfigurationError, match="not a directory"):
        pass_images(tmp_path / "missing")


def test_tags_tokens_and_headers() -> None:
    moment = datetime(2029, 11, 30, 9, 0, 0, 500_000, tzinfo=UTC)
    assert moment_of_tag(tag_of(moment)) == moment.replace(microsecond=0)
    assert moment_of_tag("not-a-tag") is None
    assert moment_of_tag("9" * 40) is None
    # Twelve digits that no datetime holds (year 33658) are no tag either, not an error.
    assert moment_of_tag("999999999999") is None
    assert moment_of_tag("253402300799") == datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert next_update(moment, moment) > moment.replace(microsecond=0)
    token = authentication_token(b"k" * 32, "serial")
    assert len(token) == 43
    assert token != authentication_token(b"k" * 32, "serial2")
    assert presented_token(f"ApplePass {token}") == token
    assert presented_token(f"Bearer {token}") is None
    assert presented_token("ApplePass ") is None
    assert presented_token(None) is None


def test_the_download_refusals_are_in_the_catalogs() -> None:
    errors = [AppleWalletOff(), NoCardForPass(), CardRevokedForPass()]
    assert [error.message for error in errors] == list(ERRORS)
    for message in ERRORS:
        assert translations("ja").gettext(message) != message
