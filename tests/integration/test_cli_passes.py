"""``cardservice passes dev-certs`` in a subprocess, as an operator runs it: the chain it
writes signs passes that openssl verifies against its root, with the settings it prints;
``serve`` refuses wallet files it cannot use before it starts."""

from __future__ import annotations

import stat
from datetime import UTC, date, datetime
from pathlib import Path

from cardservice.passkit.dev import DEV_PASS_TYPE_ID, DEV_TEAM_ID
from cardservice.passkit.wallet import AppleWallet
from cardservice.settings import Settings
from passes.apple import STRING_KEYS, AppleCard, build_pkpass
from tests.cli_support import cardservice
from tests.pass_support import PASS_TYPE_ID, TEAM_ID, opened_pass, pass_document, write_chain


def test_dev_certs_make_a_chain_that_signs_verifiable_passes(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = {"CARDSERVICE_DATA_DIR": str(data_dir), "CARDSERVICE_PROFILE": "example"}
    ran = cardservice(env, "passes", "dev-certs")
    chain = data_dir / "apple-dev"
    printed = dict(
        line.split("=", 1) for line in ran.out.splitlines() if line.startswith("CARDSERVICE_")
    )
    assert printed["CARDSERVICE_APPLE_PASS_TYPE_ID"] == DEV_PASS_TYPE_ID
    assert printed["CARDSERVICE_APPLE_PASS_KEY"] == str(chain / "pass.key")
    assert stat.S_IMODE((chain / "pass.key").stat().st_mode) == 0o600
    again = cardservice(env, "passes", "dev-certs", ok=False)
    assert "--force" in again.err
    (tmp_path / "a-file").write_text("")
    nowhere = cardservice(
        env, "passes", "dev-certs", "--dir", str(tmp_path / "a-file" / "d"), ok=False
    )
    assert nowhere.err.startswith(f"Error: cannot write to {tmp_path / 'a-file' / 'd'}: "), (
        nowhere.err
    )
    assert "Traceback" not in nowhere.err

    settings = Settings.from_env({**env, **printed})
    assert settings.apple_passes_configured
    wallet = AppleWallet.of(settings)
    assert wallet is not None
    card = AppleCard(
        pass_type_id=wallet.pass_type_id,
        team_id=DEV_TEAM_ID,
        serial="0" * 32,
        organization="横浜市立みなと図書館",
        user_number="2000000012",
        expires_on=date(2029, 11, 30),
        expires_at=datetime(2029, 11, 30, 15, tzinfo=UTC),
        state="active",
        barcodes=[],
        strings={"en": dict.fromkeys(STRING_KEYS, "x")},
        authentication_token="t" * 43,
        web_service_url=wallet.web_service_url,
        card_page_url=wallet.card_page_url,
    )
    body = build_pkpass(card, signer=wallet.signer, images=wallet.images).body
    files = opened_pass(body, chain / "root.pem", tmp_path / "verify")
    assert pass_document(files)["teamIdentifier"] == DEV_TEAM_ID


def test_serve_refuses_wallet_files_it_cannot_use_in_one_line(tmp_path: Path) -> None:
    """A pass key that is not the certificate's, or a Google key file that is not one, stops
    ``cardservice serve`` before it listens: one line naming the setting, no traceback."""
    chain = tmp_path / "chain"
    write_chain(chain)
    write_chain(tmp_path / "other")
    (tmp_path / "google.json").write_text("{}")
    apple = {
        "CARDSERVICE_DATA_DIR": str(tmp_path / "data"),
        "CARDSERVICE_PROFILE": "example",
        "CARDSERVICE_APPLE_PASS_TYPE_ID": PASS_TYPE_ID,
        "CARDSERVICE_APPLE_TEAM_ID": TEAM_ID,
        "CARDSERVICE_APPLE_PASS_CERTIFICATE": str(chain / "pass.pem"),
        "CARDSERVICE_APPLE_PASS_KEY": str(tmp_path / "other" / "pass.key"),
        "CARDSERVICE_APPLE_WWDR_CERTIFICATE": str(chain / "wwdr.pem"),
    }
    google = {
        "CARDSERVICE_DATA_DIR": str(tmp_path / "data"),
        "CARDSERVICE_PROFILE": "example",
        "CARDSERVICE_GOOGLE_WALLET_ISSUER_ID": "3388000000012345678",
        "CARDSERVICE_GOOGLE_WALLET_KEY_FILE": str(tmp_path / "google.json"),
    }
    for env, setting in ((apple, "APPLE_PASS_KEY"), (google, "GOOGLE_WALLET_KEY_FILE")):
        ran = cardservice(env, "serve", "--port", "1", ok=False)
        assert ran.err.startswith(f"Error: configuration: CARDSERVICE_{setting}: "), ran.err
        assert len(ran.err.strip().splitlines()) == 1, ran.err
        assert "Traceback" not in ran.out + ran.err
    assert not (tmp_path / "data").exists()  # refused before the database was touched
