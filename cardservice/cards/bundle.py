"""The offline bundle's envelope: a compact JWS (RFC 7515), EdDSA over the JSON payload
that ``cards.feed`` builds, header exactly ``{"alg": "EdDSA", "typ": "revocation-feed+jws",
"kid": ...}``. Signing is the server's; opening is the scanner's, which needs neither the
database nor the web stack (this module imports neither)."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, datetime
from typing import Any, Final

import msgspec
from cryptography.exceptions import InvalidSignature

from cardservice.cards.keys import Keyring, NoSigningKey, UnknownKey
from cardservice.errors import InvalidInput

FEED_TYPE: Final = "revocation-feed+jws"
ALGORITHM: Final = "EdDSA"
_JWS: Final = re.compile(r"([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)")
_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder()


class BundleRejected(InvalidInput):
    """The bundle is not a signed feed of this library."""

    code = "bundle_rejected"


def _b64url(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _b64url_decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def sign_bundle(payload: dict[str, Any], keyring: Keyring, now: datetime) -> bytes:
    """The compact JWS of ``payload`` (ASCII bytes), signed with the key in use at ``now``."""
    key = keyring.signing_key(now)
    if key.private_key is None:  # signing_key only returns keys that have one
        raise NoSigningKey("the signing key has no private key")
    header = _encoder.encode({"alg": ALGORITHM, "typ": FEED_TYPE, "kid": key.kid})
    signing_input = _b64url(header) + b"." + _b64url(_encoder.encode(payload))
    return signing_input + b"." + _b64url(key.private_key.sign(signing_input))


def open_bundle(bundle: str, trusted: Keyring, now: datetime | None = None) -> dict[str, Any]:
    """The payload of a bundle signed by a key in ``trusted``; ``BundleRejected`` (with a
    ``reason``: malformed, bad_header, unknown_key, bad_signature) otherwise.

    ``trusted`` is the scanner's key set: the one it was set up with, then the ``jwks`` of
    its last accepted bundle. Wherever the bundle came from (the server, a USB stick, another
    scanner), only the signature decides.
    """
    match = _JWS.fullmatch(bundle.strip())
    if match is None:
        raise BundleRejected(reason="malformed")
    try:
        header = _decoder.decode(_b64url_decode(match.group(1)))
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise BundleRejected(reason="malformed") from None
    if not isinstance(header, dict) or header != {
        "alg": ALGORITHM,
        "typ": FEED_TYPE,
        "kid": header.get("kid"),
    }:
        raise BundleRejected(reason="bad_header")
    try:
        public_key = trusted.verification_key(str(header["kid"]), now or datetime.now(UTC))
    except UnknownKey:
        raise BundleRejected(reason="unknown_key") from None
    signed = bundle.strip()[: match.end(2)].encode("ascii")
    try:
        public_key.verify(_b64url_decode(match.group(3)), signed)
    except (InvalidSignature, binascii.Error, ValueError):
        raise BundleRejected(reason="bad_signature") from None
    try:
        payload = _decoder.decode(_b64url_decode(match.group(2)))
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise BundleRejected(reason="malformed") from None
    if not isinstance(payload, dict):
        raise BundleRejected(reason="malformed")
    return payload
