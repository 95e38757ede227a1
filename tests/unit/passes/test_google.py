"""The "Save to Google Wallet" JWT as Google's reference documents it ("Google Wallet API
JWT": iss the service account's email, aud "google", typ "savetowallet", iat, origins, and
payload.genericClasses / genericObjects; "genericobject": id, classId, cardTitle, header,
barcode of type CODABAR), signed RS256 and verified here with the account's public key; plus
RFC 7519's exp, SAVE_LINK_LIFETIME after iat, so that an old link cannot be replayed."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
import zxingcpp
from PIL import Image

from cardservice.cards.barcodes import render_barcode
from cardservice.cards.numbers import barcode_value, compose
from cardservice.cards.service import CardPolicy
from cardservice.errors import ConfigurationError
from cardservice.profiles import load_profile
from passes.google import (
    SAVE_LINK_LIFETIME,
    SAVE_URL,
    CardPass,
    GoogleWallet,
    ServiceAccount,
    from_settings,
    save_url,
)
from tests.google_wallet_support import (
    ACCOUNT_EMAIL,
    ISSUER_ID,
    KEY_ID,
    key_file_json,
    private_key,
    write_key_file,
)

NOW = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)


def _wallet(profile_name: str, tmp_path: Path) -> GoogleWallet:
    profile = load_profile(profile_name)
    wallet = from_settings(
        issuer_id=ISSUER_ID,
        key_file=write_key_file(tmp_path),
        base_url="https://cards.example.org/",
        profile_id=profile.id,
        library_name=profile.library.name,
        colours=profile.colours,
        symbology=profile.barcode.symbology,
    )
    assert wallet is not None
    return wallet


def _card(profile_name: str) -> CardPass:
    profile = load_profile(profile_name)
    policy = CardPolicy.of(profile)
    number = compose(policy.number_format, 1234)
    return CardPass(
        user_number=number,
        barcode_value=barcode_value(profile.barcode.symbology, policy.number_format, number),
        holder_name="山田 花子",
        expires_on=date(2029, 11, 30),
    )


def _claims(url: str) -> tuple[dict[str, object], dict[str, object]]:
    assert url.startswith(SAVE_URL)
    token = url.removeprefix(SAVE_URL)
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(
        token,
        private_key().public_key(),
        algorithms=["RS256"],
        audience="google",
        issuer=ACCOUNT_EMAIL,
        # NOW is in the past: the expiry is checked against the clock in its own test.
        options={"require": [*DOCUMENTED_CLAIMS, "exp"], "verify_exp": False},
    )
    return header, claims


# The claims Google's reference lists for a save JWT ("Google Wallet API JWT").
DOCUMENTED_CLAIMS = ("iss", "aud", "typ", "iat", "payload", "origins")


@pytest.mark.parametrize("profile_name", ["example", "kashiwa", "yokohama"])
def test_save_link_is_the_documented_jwt(profile_name: str, tmp_path: Path) -> None:
    wallet, card = _wallet(profile_name, tmp_path), _card(profile_name)
    header, claims = _claims(save_url(wallet, card, now=NOW))
    assert header == {"alg": "RS256", "typ": "JWT", "kid": KEY_ID}
    assert claims["typ"] == "savetowallet"
    assert claims["iat"] == int(NOW.timestamp())
    # Google's claims and RFC 7519's expiry, nothing else.
    assert set(claims) == {*DOCUMENTED_CLAIMS, "exp"}
    assert claims["exp"] == int((NOW + SAVE_LINK_LIFETIME).timestamp())
    assert claims["origins"] == ["https://cards.example.org"]
    payload = claims["payload"]
    assert isinstance(payload, dict)
    assert set(payload) == {"genericClasses", "genericObjects"}
    class_id = f"{ISSUER_ID}.{profile_name}-card"
    assert payload["genericClasses"] == [{"id": class_id}]
    [pass_object] = payload["genericObjects"]
    assert pass_object["id"] == f"{ISSUER_ID}.{profile_name}-{card.user_number}"
    assert pass_object["classId"] == class_id
    assert pass_object["state"] == "ACTIVE"
    name = load_profile(profile_name).library.name
    assert pass_object["cardTitle"] == {
        "defaultValue": {"language": "ja", "value": name.ja},
        "translatedValues": [{"language": "en", "value": name.en}],
    }
    assert pass_object["header"] == {"defaultValue": {"language": "ja", "value": "山田 花子"}}
    assert pass_object["hexBackgroundColor"] == load_profile(profile_name).colours.background
    assert pass_object["barcode"] == {
        "type": "CODABAR",
        "value": card.barcode_value,
        "alternateText": card.user_number,
    }
    assert pass_object["validTimeInterval"] == {"end": {"date": "2029-11-30T23:59:59+09:00"}}
    [expiry] = pass_object["textModulesData"]
    assert expiry["body"] == "2029年11月30日"


def test_a_save_link_stops_working_after_its_lifetime(tmp_path: Path) -> None:
    """A link signed now verifies now; one signed a lifetime and a minute ago is expired
    for any JWT consumer that checks ``exp`` (here PyJWT, against the clock)."""
    assert timedelta(minutes=5) <= SAVE_LINK_LIFETIME <= timedelta(hours=24)
    wallet, card = _wallet("example", tmp_path), _card("example")
    public_key = private_key().public_key()

    def decode(url: str) -> dict[str, Any]:
        return jwt.decode(
            url.removeprefix(SAVE_URL),
            public_key,
            algorithms=["RS256"],
            audience="google",
            options={"require": ["exp", "iat"]},
        )

    now = datetime.now(UTC)
    fresh = decode(save_url(wallet, card))  # the pages' call: signed at this moment
    assert abs(fresh["iat"] - now.timestamp()) < 60
    assert fresh["exp"] == fresh["iat"] + SAVE_LINK_LIFETIME.total_seconds()
    old = save_url(wallet, card, now=now - SAVE_LINK_LIFETIME - timedelta(minutes=1))
    with pytest.raises(jwt.ExpiredSignatureError):
        decode(old)


def test_the_pass_barcode_is_what_the_counter_scans(tmp_path: Path) -> None:
    """Google draws the value as Codabar; drawn by our renderer, zxing-cpp reads back the
    text that the card page's barcode gives the counter scanner."""
    wallet, card = _wallet("kashiwa", tmp_path), _card("kashiwa")
    _, claims = _claims(save_url(wallet, card, now=NOW))
    barcode = claims["payload"]["genericObjects"][0]["barcode"]  # type: ignore[index]
    png = render_barcode("codabar", barcode["value"], "png", module_px=3).body
    png_path = tmp_path / "pass.png"
    png_path.write_bytes(png)
    with Image.open(png_path) as image:
        [read] = zxingcpp.read_barcodes(image)
    assert read.format == zxingcpp.BarcodeFormat.Codabar
    assert read.text == card.barcode_value  # start/stop B, as Kashiwa's scanners expect


def test_not_configured_is_none(tmp_path: Path) -> None:
    profile = load_profile("example")
    assert (
        from_settings(
            issuer_id="",
            key_file=None,
            base_url="https://cards.example.org",
            profile_id=profile.id,
            library_name=profile.library.name,
            colours=profile.colours,
            symbology="codabar",
        )
        is None
    )


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"{}",
        json.dumps({**json.loads(key_file_json()), "type": "authorized_user"}).encode(),
        json.dumps({**json.loads(key_file_json()), "private_key": "-----BEGIN x"}).encode(),
    ],
)
def test_a_key_file_that_is_not_a_service_account_key_names_the_setting(raw: bytes) -> None:
    with pytest.raises(ConfigurationError, match="CARDSERVICE_GOOGLE_WALLET_KEY_FILE"):
        ServiceAccount.from_json(raw, source="CARDSERVICE_GOOGLE_WALLET_KEY_FILE")


def test_a_missing_key_file_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="CARDSERVICE_GOOGLE_WALLET_KEY_FILE"):
        ServiceAccount.from_file(
            tmp_path / "absent.json", setting="CARDSERVICE_GOOGLE_WALLET_KEY_FILE"
        )
