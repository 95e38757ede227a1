"""One Ed25519 signing key of the card-token keyring: its kid (the RFC 7638 thumbprint), its
phases (published, signing from ``sign_from``, retired at ``verify_until``) and its JWK."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _raw_public_bytes(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def jwk_thumbprint(public_key: Ed25519PublicKey) -> str:
    """RFC 7638 thumbprint of the key's OKP JWK, base64url without padding.

    RFC 7638 fixes the input: only the required members (crv, kty, x), sorted, no spaces.
    """
    x = _b64url(_raw_public_bytes(public_key))
    canonical = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": x}, separators=(",", ":"))
    return _b64url(hashlib.sha256(canonical.encode("ascii")).digest())


def require_utc(value: datetime, what: str) -> None:
    # A naive datetime would be read in the host's local zone: refuse it rather than guess.
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware")


@dataclass(frozen=True, slots=True)
class SigningKey:
    """One key of the keyring; ``private_key`` is None for a verify-only key."""

    kid: str
    private_key: Ed25519PrivateKey | None = field(repr=False)
    public_key: Ed25519PublicKey
    sign_from: datetime
    verify_until: datetime | None

    def __post_init__(self) -> None:
        require_utc(self.sign_from, "sign_from")
        if self.verify_until is not None:
            require_utc(self.verify_until, "verify_until")

    @classmethod
    def generate(cls, *, sign_from: datetime) -> SigningKey:
        private_key = Ed25519PrivateKey.generate()
        public_key = private_key.public_key()
        return cls(jwk_thumbprint(public_key), private_key, public_key, sign_from, None)

    def is_published(self, now: datetime) -> bool:
        """True until ``verify_until`` (exclusive); a key is published before it signs."""
        return self.verify_until is None or now < self.verify_until

    def can_sign(self, now: datetime) -> bool:
        return self.private_key is not None and self.sign_from <= now and self.is_published(now)

    def public_jwk(self) -> dict[str, str]:
        return {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": _b64url(_raw_public_bytes(self.public_key)),
            "kid": self.kid,
            "alg": "EdDSA",
            "use": "sig",
        }
