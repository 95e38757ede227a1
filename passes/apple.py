"""The Apple Wallet library card: a signed ``.pkpass`` (a store card).

:func:`build_pkpass` is a pure builder behind ``passes.base`` (``(filename, content_type,
body)``): the card service decides what the pass says (:class:`AppleCard`), this module
lays it out as Apple's pass format asks (Apple, "Wallet Passes": ``Pass``, "Creating the
Source for a Pass", "Building a Pass"):

- ``pass.json``: a ``storeCard`` with the library's name, the user number, the expiry date
  and the card's status; the barcodes in order of preference, Codabar first (Wallet shows
  the first format the device supports: Codabar from iOS 27), then Code 128 and the QR code
  with the signed card token for older iOS; ``webServiceURL`` and ``authenticationToken``
  so Wallet asks for updates; ``voided`` once the card is revoked;
- the images (``icon.png`` is required; ``logo.png``), given by the caller;
- ``en.lproj/pass.strings`` and ``ja.lproj/pass.strings``: the labels and status words in
  each language, so Wallet shows the pass in the device's language;
- ``manifest.json``: the SHA-1 of every other file (Apple's manifest uses SHA-1);
- ``signature``: the detached PKCS #7 signature of the manifest (``apple_signing``).
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Final, Literal

from passes.apple_signing import PassSigner
from passes.base import BuiltPass

PKPASS_CONTENT_TYPE: Final = "application/vnd.apple.pkpass"
# The images shipped with the package, used where a deployment supplies none.
DEFAULT_IMAGES_DIR: Final = Path(__file__).resolve().parent / "images"
IMAGE_NAMES: Final = (
    "icon.png",
    "icon@2x.png",
    "icon@3x.png",
    "logo.png",
    "logo@2x.png",
    "logo@3x.png",
)
CODABAR: Final = "PKBarcodeFormatCodabar"  # iOS 27 and later
CODE128: Final = "PKBarcodeFormatCode128"
QR: Final = "PKBarcodeFormatQR"
# Every key pass.json looks up in pass.strings; each language must give all of them.
STRING_KEYS: Final = (
    "description",
    "library",
    "label.number",
    "label.expires",
    "label.status",
    "label.usage",
    "label.card_page",
    "status.active",
    "status.expired",
    "status.suspended",
    "status.revoked",
    "change.status",
    "change.expires",
    "back.usage",
    "back.replaced",
    "back.revoked",
)
PassState = Literal["active", "expired", "suspended", "revoked"]
# A zip entry's date: fixed, so the same files make the same archive.
_ZIP_DATE: Final = (2026, 1, 1, 0, 0, 0)


class PassContentError(ValueError):
    """What the builder was given cannot make a valid pass (the message says what)."""


@dataclass(frozen=True, slots=True)
class PassBarcode:
    """One entry of ``barcodes``: a PassKit format, the encoded message, the text shown
    under it (``altText``) if any."""

    format: str
    message: str
    alt_text: str | None = None

    def as_json(self) -> dict[str, str]:
        entry = {"format": self.format, "message": self.message}
        entry["messageEncoding"] = "iso-8859-1"
        if self.alt_text:
            entry["altText"] = self.alt_text
        return entry


@dataclass(frozen=True, slots=True)
class AppleCard:
    """What one library card's pass says.

    ``organization``: the library's name (``organizationName``); ``expires_on`` the last
    day the card is valid and ``expires_at`` the moment after which Wallet shows the pass
    as expired (the end of that day, timezone-aware); ``state`` the card's status;
    ``barcodes`` in order of preference; ``strings`` per language (``"ja"``, ``"en"``) a
    text for every key of :data:`STRING_KEYS`; ``card_page_url`` where the patron sees the
    card (and, once revoked, adds the new one). ``authentication_token``: at least 16
    characters (Apple's minimum); ``web_service_url``: the base URL Wallet appends
    ``/v1/...`` to."""

    pass_type_id: str
    team_id: str
    serial: str
    organization: str
    user_number: str
    expires_on: date
    expires_at: datetime
    state: PassState
    barcodes: Sequence[PassBarcode]
    strings: Mapping[str, Mapping[str, str]]
    authentication_token: str
    web_service_url: str
    card_page_url: str
    # A revoked card that a new card replaced (a reissue): the void pass's back points to
    # the new card on the card page; otherwise it says the card is no longer valid.
    replaced: bool = False

    @property
    def voided(self) -> bool:
        """A revoked card's pass is void: Wallet greys it and stops offering its barcode."""
        return self.state == "revoked"


def pass_json(card: AppleCard) -> dict[str, object]:
    """The ``pass.json`` document of ``card`` (see the module's docstring)."""
    if len(card.authentication_token) < 16:
        raise PassContentError("the authentication token must be at least 16 characters")
    if not card.expires_at.tzinfo:
        raise PassContentError("expires_at must carry its timezone")
    back: list[dict[str, object]] = [
        {"key": "usage", "label": "label.usage", "value": "back.usage"},
        {
            "key": "card_page",
            "label": "label.card_page",
            "value": card.card_page_url,
            "attributedValue": f'<a href="{card.card_page_url}">{card.card_page_url}</a>',
        },
    ]
    if card.voided:
        # Only a reissued card has a new one to add; any other revocation just ends.
        ended = "back.replaced" if card.replaced else "back.revoked"
        back.insert(0, {"key": "replaced", "label": "label.status", "value": ended})
    document: dict[str, object] = {
        "formatVersion": 1,
        "passTypeIdentifier": card.pass_type_id,
        "teamIdentifier": card.team_id,
        "serialNumber": card.serial,
        "organizationName": card.organization,
        "description": "description",
        "logoText": "library",
        "foregroundColor": "rgb(0, 0, 0)",
        "backgroundColor": "rgb(255, 255, 255)",
        "labelColor": "rgb(22, 64, 120)",
        # A library card is personal: Wallet offers no "share".
        "sharingProhibited": True,
        "webServiceURL": card.web_service_url,
        "authenticationToken": card.authentication_token,
        "expirationDate": card.expires_at.isoformat(),
        "storeCard": {
            "headerFields": [
                {
                    "key": "status",
                    "label": "label.status",
                    "value": f"status.{card.state}",
                    "changeMessage": "change.status",
                }
            ],
            "primaryFields": [
                {"key": "number", "label": "label.number", "value": card.user_number}
            ],
            "secondaryFields": [
                {
                    "key": "expires",
                    "label": "label.expires",
                    # The date as the library writes it, whatever the device's timezone.
                    "value": f"{card.expires_on.isoformat()}T00:00:00Z",
                    "dateStyle": "PKDateStyleLong",
                    "timeStyle": "PKDateStyleNone",
                    "ignoresTimeZone": True,
                    "changeMessage": "change.expires",
                }
            ],
            "backFields": back,
        },
    }
    if card.voided:
        document["voided"] = True
    else:
        document["barcodes"] = [barcode.as_json() for barcode in card.barcodes]
    return document


def pass_strings(texts: Mapping[str, str]) -> bytes:
    """A ``pass.strings`` file: ``"key" = "text";`` lines, UTF-8 (Wallet accepts UTF-8
    and UTF-16), every key of :data:`STRING_KEYS` present."""
    missing = [key for key in STRING_KEYS if not texts.get(key)]
    if missing:
        raise PassContentError(f"pass.strings lacks {', '.join(missing)}")
    lines = [f"{_quoted(key)} = {_quoted(texts[key])};" for key in STRING_KEYS]
    return ("\n".join(lines) + "\n").encode()


def _quoted(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def default_images() -> dict[str, bytes]:
    """The icon and logo shipped in ``passes/images``."""
    return {name: (DEFAULT_IMAGES_DIR / name).read_bytes() for name in IMAGE_NAMES}


def manifest(files: Mapping[str, bytes]) -> bytes:
    """``manifest.json``: each file's name and the hex SHA-1 of its bytes."""
    hashes = {
        name: hashlib.sha1(body, usedforsecurity=False).hexdigest() for name, body in files.items()
    }
    return json.dumps(hashes, sort_keys=True, indent=1).encode()


def build_pkpass(card: AppleCard, *, signer: PassSigner, images: Mapping[str, bytes]) -> BuiltPass:
    """The signed pass: ``(f"{serial}.pkpass", application/vnd.apple.pkpass, zip)``.

    ``images`` maps file names (``icon.png`` required; see :data:`IMAGE_NAMES`) to PNG
    bytes. Raises :class:`PassContentError` when the icon, a language's strings or the
    token's length is missing, or when the signer's certificate names another pass type."""
    if "icon.png" not in images:
        raise PassContentError("a pass needs icon.png")
    if signer.pass_type_id not in (None, card.pass_type_id):
        raise PassContentError("the pass certificate is for another pass type id")
    files: dict[str, bytes] = {
        "pass.json": json.dumps(pass_json(card), ensure_ascii=False, indent=1).encode()
    }
    for name in IMAGE_NAMES:
        if name in images:
            files[name] = images[name]
    for lang, texts in sorted(card.strings.items()):
        files[f"{lang}.lproj/pass.strings"] = pass_strings(texts)
    manifest_bytes = manifest(files)
    files["manifest.json"] = manifest_bytes
    files["signature"] = signer.sign(manifest_bytes)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, body in files.items():
            entry = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            entry.compress_type = zipfile.ZIP_DEFLATED
            bundle.writestr(entry, body)
    return BuiltPass(f"{card.serial}.pkpass", PKPASS_CONTENT_TYPE, archive.getvalue())
