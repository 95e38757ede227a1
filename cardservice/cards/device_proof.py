"""The rotating card code: a card token bound to the phone's key, plus a proof of "now".

A screenshot of the card's QR code can be shown anywhere, again and again. The rotating
code cannot: the phone makes an ECDSA P-256 key pair with WebCrypto (``extractable:
false``, kept in IndexedDB: the private key never leaves the browser, not even to this
page's script), registers the public key once (``POST /card/device-key``, in the patron's
session) and gets a card token whose RFC 7800 ``cnf.jwk`` claim holds that public key.
Every 30 seconds the card page signs the current time step with the private key and shows::

    <card token>~<time step>~<signature>

- time step: ``floor(unix seconds / 30)`` in decimal (``STEP_SECONDS``);
- signature: ECDSA P-256 with SHA-256 (WebCrypto's ``{name: "ECDSA", hash: "SHA-256"}``),
  raw ``r || s`` (64 bytes, IEEE P1363, as WebCrypto returns it), base64url without
  padding, over the ASCII bytes of ``cardservice-device-proof/v1.<jti>.<time step>``.

A verifier (online or offline) checks the token with the library's key (``cards.tokens``)
and the signature with the token's device key; no server is needed. It accepts a step at
most ``leeway_steps`` (default 1) from its own: a code lives at most about 60 seconds
after its step began, plus the phone's clock error within 30 seconds. A verifier that
keeps a :class:`ReplayGuard` also refuses the second showing of the same step of the same
card (``device_proof_replayed``): a screenshot passed on within the leeway fails there.

Limits: the screenshot is useless after the leeway, but a live relay (a second phone
filming the first in real time) is not stopped; nor is a patron lending the phone itself.
The replay guard is per verifier (per process, per scanner): two scanners may each accept
the same step once. Size, measured with a 50-character issuer: a plain token is 418
characters (QR version 13 at error correction level L, byte mode), the bound token 606 (the
public JWK adds 188), the rotating code 702 (version 18, 89 modules a side): 16rem wide on
the card page, about 2.6 CSS pixels (8 device pixels on a 3x screen) a module, which
zxing-cpp reads back from a screenshot (tests/e2e/test_rotating_code_browser.py).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from cardservice.cards.tokens import CardClaims, CardTokenVerifier
from cardservice.errors import InvalidInput

STEP_SECONDS: Final = 30
SEPARATOR: Final = "~"
PROOF_CONTEXT: Final = "cardservice-device-proof/v1"
_CODE: Final = re.compile(r"([A-Za-z0-9_.-]+)~([0-9]{1,12})~([A-Za-z0-9_-]{86})")
_COORDINATE: Final = re.compile(r"[A-Za-z0-9_-]{43}")


class DeviceProofRejected(InvalidInput):
    """The rotating code's device proof does not hold; ``code`` says why."""

    code = "device_proof_rejected"


def device_public_jwk(jwk: object) -> dict[str, str]:
    """The public part of an EC P-256 JWK, as the token binds it: exactly ``kty``, ``crv``,
    ``x``, ``y`` (a private ``d`` or any other member is refused). Raises
    ``InvalidInput(code="device_key_invalid")`` if it is not such a key, or not on the curve.
    """
    if not isinstance(jwk, dict) or jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
        raise InvalidInput("a device key is an EC P-256 public JWK", code="device_key_invalid")
    if "d" in jwk:  # a private key sent over the wire is no longer the phone's alone
        raise InvalidInput("send the public key only", code="device_key_invalid")
    x, y = jwk.get("x"), jwk.get("y")
    if not (isinstance(x, str) and isinstance(y, str)):
        raise InvalidInput("x and y are required", code="device_key_invalid")
    public = {"kty": "EC", "crv": "P-256", "x": x, "y": y}
    try:
        _public_key(public)
    except ValueError:
        raise InvalidInput("not a point on P-256", code="device_key_invalid") from None
    return public


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _public_key(jwk: dict[str, str]) -> ec.EllipticCurvePublicKey:
    """The key of a P-256 JWK; ``ValueError`` if it is not one."""
    if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
        raise ValueError("not an EC P-256 key")
    x, y = jwk.get("x", ""), jwk.get("y", "")
    if not (_COORDINATE.fullmatch(x) and _COORDINATE.fullmatch(y)):
        raise ValueError("coordinates must be 32 bytes in base64url")
    point = b"\x04" + _b64url_decode(x) + _b64url_decode(y)
    return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)


def time_step(now: datetime) -> int:
    """The 30-second step of ``now`` (an aware datetime)."""
    return int(now.timestamp()) // STEP_SECONDS


def proof_message(jti: str, step: int) -> bytes:
    """What the phone signs for ``step``."""
    return f"{PROOF_CONTEXT}.{jti}.{step}".encode("ascii")


def is_rotating_code(scanned: str) -> bool:
    """Whether a scanned QR text is a rotating code rather than a bare card token."""
    return SEPARATOR in scanned


class ReplayGuard:
    """Remembers the ``(jti, step)`` pairs accepted lately (at most ``capacity``, the
    oldest forgotten first; anything older than the leeway is refused by the step check)."""

    def __init__(self, capacity: int = 100_000) -> None:
        self._seen: OrderedDict[tuple[str, int], None] = OrderedDict()
        self._capacity = capacity

    def first_use(self, jti: str, step: int) -> bool:
        """True the first time a pair is shown (and remembers it), False after."""
        key = (jti, step)
        if key in self._seen:
            return False
        self._seen[key] = None
        if len(self._seen) > self._capacity:
            self._seen.popitem(last=False)
        return True

    def pairs(self) -> list[tuple[str, int]]:
        return list(self._seen)


@dataclass(frozen=True, slots=True)
class ProvenCard:
    claims: CardClaims
    step: int


def verify_rotating_code(
    code: str,
    tokens: CardTokenVerifier,
    *,
    now: datetime | None = None,
    leeway_steps: int = 1,
    replay: ReplayGuard | None = None,
) -> ProvenCard:
    """The card claims of a rotating code whose token and device proof both hold.

    Raises ``TokenRejected`` (``token_*`` codes) for the token, and ``DeviceProofRejected``
    with the stable codes ``device_proof_malformed`` (not ``token~step~signature``),
    ``device_proof_unbound`` (the token binds no device key), ``device_proof_stale`` (the
    step is more than ``leeway_steps`` from now: a replay after the leeway, or a phone
    clock far off), ``device_proof_bad_signature`` (another device's key, or tampered) and
    ``device_proof_replayed`` (this step of this card was already shown to this verifier).
    Checked in that order after the token; the replay guard only remembers accepted codes.
    """
    now = now or datetime.now(UTC)
    match = _CODE.fullmatch(code) if len(code) <= 8192 else None
    if match is None:
        raise DeviceProofRejected(code="device_proof_malformed")
    token, step_text, signature = match.groups()
    claims = tokens.verify(token, now=now)
    if claims.device_jwk is None:
        raise DeviceProofRejected(code="device_proof_unbound")
    step = int(step_text)
    if abs(step - time_step(now)) > leeway_steps:
        raise DeviceProofRejected(code="device_proof_stale")
    raw = _b64url_decode(signature)
    der = encode_dss_signature(int.from_bytes(raw[:32]), int.from_bytes(raw[32:]))
    try:
        _public_key(claims.device_jwk).verify(
            der, proof_message(claims.jti, step), ec.ECDSA(hashes.SHA256())
        )
    except (InvalidSignature, ValueError, binascii.Error):
        raise DeviceProofRejected(code="device_proof_bad_signature") from None
    if replay is not None and not replay.first_use(claims.jti, step):
        raise DeviceProofRejected(code="device_proof_replayed")
    return ProvenCard(claims, step)
