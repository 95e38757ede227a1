"""The pkpass builder: every pass verified by openssl against the development root, every
manifest hash checked; the barcode order, voiding, the strings and the refusals."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from passes.apple import (
    CODABAR,
    CODE128,
    PKPASS_CONTENT_TYPE,
    QR,
    STRING_KEYS,
    AppleCard,
    PassBarcode,
    PassContentError,
    build_pkpass,
    default_images,
)
from passes.apple_signing import DevChain, PassSigner, SignerError, dev_chain
from tests.pass_support import PASS_TYPE_ID, TEAM_ID, opened_pass, pass_document, write_chain

STRINGS = {
    "ja": {key: f"ja {key}" for key in STRING_KEYS},
    "en": {key: f'en {key} "quoted"' for key in STRING_KEYS},
}


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> tuple[DevChain, Path]:
    directory = tmp_path_factory.mktemp("chain")
    return write_chain(directory), directory / "root.pem"


def _signer(chain: DevChain) -> PassSigner:
    return PassSigner.from_pem(chain.certificate, chain.key, chain.wwdr)


def _card(**changes: object) -> AppleCard:
    card = AppleCard(
        pass_type_id=PASS_TYPE_ID,
        team_id=TEAM_ID,
        serial="s-0001",
        organization="横浜市立みなと図書館",
        user_number="2000000012",
        expires_on=date(2029, 11, 30),
        expires_at=datetime(2029, 11, 30, 15, 0, tzinfo=UTC),
        state="active",
        barcodes=[
            PassBarcode(CODABAR, "A2000000012A", "2000000012"),
            PassBarcode(CODE128, "2000000012", "2000000012"),
            PassBarcode(QR, "eyJ.token.sig"),
        ],
        strings=STRINGS,
        authentication_token="t" * 32,
        web_service_url="https://cards.example.org/api/passkit",
        card_page_url="https://cards.example.org/card",
    )
    return dataclasses.replace(card, **changes)  # type: ignore[arg-type]


def test_the_pass_verifies_and_lists_every_file(
    chain: tuple[DevChain, Path], tmp_path: Path
) -> None:
    built = build_pkpass(_card(), signer=_signer(chain[0]), images=default_images())
    assert built.filename == "s-0001.pkpass"
    assert built.content_type == PKPASS_CONTENT_TYPE
    files = opened_pass(built.body, chain[1], tmp_path)
    assert {"icon.png", "icon@2x.png", "logo.png", "ja.lproj/pass.strings"} <= set(files)
    document = pass_document(files)
    assert document["passTypeIdentifier"] == PASS_TYPE_ID
    assert document["teamIdentifier"] == TEAM_ID
    assert document["organizationName"] == "横浜市立みなと図書館"
    assert [b["format"] for b in document["barcodes"]] == [CODABAR, CODE128, QR]
    assert document["barcodes"][0]["message"] == "A2000000012A"
    assert document["barcodes"][2]["message"] == "eyJ.token.sig"
    assert "voided" not in document
    store = document["storeCard"]
    assert store["primaryFields"][0]["value"] == "2000000012"
    assert store["headerFields"][0]["value"] == "status.active"
    assert store["secondaryFields"][0]["value"].startswith("2029-11-30")
    assert document["expirationDate"] == "2029-11-30T15:00:00+00:00"
    strings = files["en.lproj/pass.strings"].decode()
    assert '"status.active" = "en status.active \\"quoted\\"";' in strings


def test_a_revoked_card_is_voided_without_barcodes(
    chain: tuple[DevChain, Path], tmp_path: Path
) -> None:
    built = build_pkpass(_card(state="revoked"), signer=_signer(chain[0]), images=default_images())
    document = pass_document(opened_pass(built.body, chain[1], tmp_path))
    assert document["voided"] is True
    assert "barcodes" not in document
    assert document["storeCard"]["backFields"][0]["value"] == "back.revoked"
    reissued = build_pkpass(
        _card(state="revoked", replaced=True), signer=_signer(chain[0]), images=default_images()
    )
    replaced = pass_document(opened_pass(reissued.body, chain[1], tmp_path / "reissued"))
    assert replaced["storeCard"]["backFields"][0]["value"] == "back.replaced"


def test_a_suspension_shows_in_the_status(chain: tuple[DevChain, Path], tmp_path: Path) -> None:
    built = build_pkpass(
        _card(state="suspended"), signer=_signer(chain[0]), images=default_images()
    )
    document = pass_document(opened_pass(built.body, chain[1], tmp_path))
    assert document["storeCard"]["headerFields"][0]["value"] == "status.suspended"
    assert document["storeCard"]["headerFields"][0]["changeMessage"] == "change.status"


def test_refusals(chain: tuple[DevChain, Path]) -> None:
    signer = _signer(chain[0])
    with pytest.raises(PassContentError, match="icon"):
        build_pkpass(_card(), signer=signer, images={})
    with pytest.raises(PassContentError, match="16"):
        build_pkpass(_card(authentication_token="short"), signer=signer, images=default_images())
    with pytest.raises(PassContentError, match="lacks"):
        build_pkpass(_card(strings={"ja": {}}), signer=signer, images=default_images())
    with pytest.raises(PassContentError, match="another pass type"):
        build_pkpass(_card(pass_type_id="pass.other"), signer=signer, images=default_images())


def test_signer_refuses_a_key_of_another_certificate(chain: tuple[DevChain, Path]) -> None:
    other = dev_chain(PASS_TYPE_ID, TEAM_ID)
    with pytest.raises(SignerError, match="does not belong"):
        PassSigner.from_pem(chain[0].certificate, other.key, chain[0].wwdr)
    with pytest.raises(SignerError, match="not a PEM certificate"):
        PassSigner.from_pem(b"junk", chain[0].key, chain[0].wwdr)
    with pytest.raises(SignerError, match="cannot read"):
        PassSigner.from_files(Path("/nonexistent/pass.pem"), Path("k"), Path("w"))
    assert "BEGIN" not in repr(_signer(chain[0]))
