"""Apple Wallet settings: all or nothing, APNs only with Apple Wallet, images replaced by
a deployment's own and refused when not PNG; a certificate, key or password that cannot be
used named by its setting; the web service's tags and tokens."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from cardservice.errors import ConfigurationError
from cardservice.passkit.routes import REFUSALS, AppleWalletOff, NoCardForPass
from cardservice.passkit.service import (
    authentication_token,
    moment_of_tag,
    next_update,
    presented_token,
    tag_of,
)
from cardservice.passkit.texts import ERRORS
from cardservice.passkit.wallet import AppleWallet, pass_images
from cardservice.settings import Settings
from cardservice.web.i18n import translations
from passes.apple import default_images
from tests.pass_support import PASS_TYPE_ID, TEAM_ID, write_chain


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
    # A URL where the host goes would make every push fail, quietly: refused at start.
    for host in ("https://api.push.apple.com", "api.push.apple.com/", ""):
        with pytest.raises(ConfigurationError, match="CARDSERVICE_APNS_HOST"):
            Settings.from_env({**base, "CARDSERVICE_APNS_HOST": host})
    sandbox = Settings.from_env({**base, "CARDSERVICE_APNS_HOST": "api.sandbox.push.apple.com"})
    assert sandbox.apns_host == "api.sandbox.push.apple.com"


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
    errors = [AppleWalletOff(), NoCardForPass(), *(refusal() for refusal in REFUSALS.values())]
    assert [error.message for error in errors] == list(ERRORS)
    # Each state but active has its own refusal and stable code.
    assert {state.value for state in REFUSALS} == {"revoked", "expired", "suspended"}
    codes = [error.code for error in errors[2:]]
    assert codes == ["card_revoked", "card_expired", "card_suspended"]
    for message in ERRORS:
        assert translations("ja").gettext(message) != message


def test_a_file_that_cannot_be_used_names_its_setting(tmp_path: Path) -> None:
    """Each Apple file problem names the setting to fix: the key that is not the
    certificate's, the key's password (missing, wrong, or given for a plain key), the WWDR
    certificate, a file not there."""
    chain = write_chain(tmp_path)
    encrypted = serialization.load_pem_private_key(chain.files()["pass.key"], None)
    (tmp_path / "enc.key").write_bytes(
        encrypted.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"right"),
        )
    )
    (tmp_path / "other.key").write_bytes(write_chain(tmp_path / "other").files()["pass.key"])
    (tmp_path / "junk.pem").write_text("not a certificate\n")
    base = {
        "CARDSERVICE_DATA_DIR": str(tmp_path),
        "CARDSERVICE_APPLE_PASS_TYPE_ID": PASS_TYPE_ID,
        "CARDSERVICE_APPLE_TEAM_ID": TEAM_ID,
        "CARDSERVICE_APPLE_PASS_CERTIFICATE": str(tmp_path / "pass.pem"),
        "CARDSERVICE_APPLE_PASS_KEY": str(tmp_path / "pass.key"),
        "CARDSERVICE_APPLE_WWDR_CERTIFICATE": str(tmp_path / "wwdr.pem"),
    }
    enc = {"CARDSERVICE_APPLE_PASS_KEY": str(tmp_path / "enc.key")}
    cases = [
        ({"CARDSERVICE_APPLE_PASS_KEY": str(tmp_path / "other.key")}, "APPLE_PASS_KEY: .*belong"),
        (enc, "APPLE_PASS_KEY_PASSWORD: .*not set"),
        (
            {**enc, "CARDSERVICE_APPLE_PASS_KEY_PASSWORD": "wrong"},
            "APPLE_PASS_KEY_PASSWORD: .*wrong",
        ),
        ({"CARDSERVICE_APPLE_PASS_KEY_PASSWORD": "x"}, "APPLE_PASS_KEY_PASSWORD: .*no password"),
        ({"CARDSERVICE_APPLE_PASS_KEY": str(tmp_path / "junk.pem")}, "APPLE_PASS_KEY: .*not a PEM"),
        ({"CARDSERVICE_APPLE_WWDR_CERTIFICATE": str(tmp_path / "junk.pem")}, "APPLE_WWDR_CERT"),
        ({"CARDSERVICE_APPLE_PASS_KEY": str(tmp_path / "gone.key")}, "APPLE_PASS_KEY: cannot read"),
        ({"CARDSERVICE_APPLE_PASS_CERTIFICATE": str(tmp_path)}, "APPLE_PASS_CERTIFICATE: cannot"),
        ({"CARDSERVICE_APPLE_TEAM_ID": "OTHERTEAM1"}, "APPLE_TEAM_ID: .*DEVTEAM001"),
        ({"CARDSERVICE_APPLE_PASS_TYPE_ID": "pass.other"}, "APPLE_PASS_TYPE_ID: "),
    ]
    for change, problem in cases:
        with pytest.raises(ConfigurationError, match="CARDSERVICE_" + problem):
            AppleWallet.of(Settings.from_env({**base, **change}))
    right = {**base, **enc, "CARDSERVICE_APPLE_PASS_KEY_PASSWORD": "right"}
    assert AppleWallet.of(Settings.from_env(right)) is not None
