"""The rotating card code (cards.device_proof): a token bound to a phone's P-256 key and a
signature over the current 30-second step. The phone is played by ``cryptography`` signing
as WebCrypto does (raw r||s). A screenshot replayed after the leeway, a code from another
phone, a tampered code and a second showing of the same step are all rejected, each with
its stable code."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from cardservice.cards.device_proof import (
    STEP_SECONDS,
    DeviceProofRejected,
    ReplayGuard,
    device_public_jwk,
    proof_message,
    time_step,
    verify_rotating_code,
)
from cardservice.cards.keys import Keyring, SigningKey
from cardservice.cards.tokens import CardTokenVerifier, TokenRejected, sign_card_token
from cardservice.errors import InvalidInput

T0 = datetime(2027, 4, 1, 10, 0, 0, tzinfo=UTC)
JTI = "k3J9aQ2mZx0Lr5Wc8VbN1g"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Phone:
    """A phone's non-extractable key, as the card page's script uses it."""

    def __init__(self) -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())
        numbers = self._key.public_key().public_numbers()
        self.jwk = {
            "kty": "EC",
            "crv": "P-256",
            "x": _b64(numbers.x.to_bytes(32, "big")),
            "y": _b64(numbers.y.to_bytes(32, "big")),
        }

    def code(self, token: str, now: datetime, jti: str = JTI) -> str:
        step = time_step(now)
        der = self._key.sign(proof_message(jti, step), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        return f"{token}~{step}~{_b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


@pytest.fixture
def keyring() -> Keyring:
    return Keyring([SigningKey.generate(sign_from=T0 - timedelta(days=1))])


@pytest.fixture
def tokens(keyring: Keyring) -> CardTokenVerifier:
    return CardTokenVerifier(keyring, issuer="https://lib.example", audience="library-card")


def _token(keyring: Keyring, device_jwk: dict[str, str] | None) -> str:
    return sign_card_token(
        keyring,
        user_number="A1234567",
        expires_at=T0 + timedelta(days=365),
        jti=JTI,
        issuer="https://lib.example",
        audience="library-card",
        now=T0 - timedelta(hours=1),
        device_jwk=device_jwk,
    )


def _reason(code: str, tokens: CardTokenVerifier, now: datetime, **options: object) -> str:
    with pytest.raises((DeviceProofRejected, TokenRejected)) as caught:
        verify_rotating_code(code, tokens, now=now, **options)  # type: ignore[arg-type]
    return caught.value.code


def test_a_fresh_code_verifies_and_a_second_showing_is_refused(
    keyring: Keyring, tokens: CardTokenVerifier
) -> None:
    phone = Phone()
    code = phone.code(_token(keyring, phone.jwk), T0)
    guard = ReplayGuard()
    proven = verify_rotating_code(code, tokens, now=T0 + timedelta(seconds=5), replay=guard)
    assert (proven.claims.user_number, proven.step) == ("A1234567", time_step(T0))
    assert proven.claims.device_jwk == phone.jwk
    # The same code shown again (a screenshot passed on at once) to the same verifier.
    assert _reason(code, tokens, T0 + timedelta(seconds=10), replay=guard) == (
        "device_proof_replayed"
    )
    # The next step's code is a new code.
    verify_rotating_code(
        phone.code(_token(keyring, phone.jwk), T0 + timedelta(seconds=STEP_SECONDS)),
        tokens,
        now=T0 + timedelta(seconds=STEP_SECONDS),
        replay=guard,
    )


def test_a_screenshot_replayed_after_the_leeway_is_stale(
    keyring: Keyring, tokens: CardTokenVerifier
) -> None:
    phone = Phone()
    step_start = datetime.fromtimestamp(time_step(T0) * STEP_SECONDS, UTC)
    code = phone.code(_token(keyring, phone.jwk), step_start)
    # Within one step either way: accepted (a phone clock a little off).
    verify_rotating_code(code, tokens, now=step_start + timedelta(seconds=59))
    verify_rotating_code(code, tokens, now=step_start - timedelta(seconds=30))
    # Two steps on: the leeway is over.
    assert _reason(code, tokens, step_start + timedelta(seconds=60)) == "device_proof_stale"
    assert _reason(code, tokens, step_start - timedelta(seconds=31)) == "device_proof_stale"
    # A wider leeway is the verifier's choice.
    verify_rotating_code(code, tokens, now=step_start + timedelta(seconds=60), leeway_steps=2)


def test_a_code_from_another_phone_or_tampered_is_refused(
    keyring: Keyring, tokens: CardTokenVerifier
) -> None:
    mine, theirs = Phone(), Phone()
    token = _token(keyring, mine.jwk)
    # Their phone signs the step, but the token binds my key.
    assert _reason(theirs.code(token, T0), tokens, T0) == "device_proof_bad_signature"
    code = mine.code(token, T0)
    body, step, signature = code.split("~")
    # Another step claimed with this step's signature.
    assert _reason(f"{body}~{int(step) + 1}~{signature}", tokens, T0) == (
        "device_proof_bad_signature"
    )
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    assert _reason(f"{body}~{step}~{flipped}", tokens, T0) == "device_proof_bad_signature"
    # Another token (here: their key bound) under my signature: the library's signature
    # on the token no longer holds if it is edited, and another token binds another key.
    assert _reason(f"{_token(keyring, theirs.jwk)}~{step}~{signature}", tokens, T0) == (
        "device_proof_bad_signature"
    )
    assert _reason(f"{body[:-3]}xyz~{step}~{signature}", tokens, T0) == "token_bad_signature"
    for malformed in ("", "~~", f"{body}~{step}", f"{body}~-1~{signature}", f"{body}~{step}~x"):
        assert _reason(malformed, tokens, T0) == "device_proof_malformed", malformed


def test_a_token_without_a_bound_key_gives_no_rotating_code(
    keyring: Keyring, tokens: CardTokenVerifier
) -> None:
    code = Phone().code(_token(keyring, None), T0)
    assert _reason(code, tokens, T0) == "device_proof_unbound"


def test_only_a_public_p256_key_can_be_bound() -> None:
    jwk = Phone().jwk
    exported = {**jwk, "ext": True, "key_ops": ["verify"]}  # as WebCrypto exports it
    assert device_public_jwk(exported) == jwk
    bad = [
        {**jwk, "crv": "P-384"},
        {**jwk, "kty": "OKP"},
        {**jwk, "x": jwk["y"]},  # not on the curve
        {**jwk, "y": "short"},
        {"kty": "EC", "crv": "P-256"},
        "a string",
    ]
    for candidate in bad:
        with pytest.raises(InvalidInput) as caught:
            device_public_jwk(candidate)
        assert caught.value.code == "device_key_invalid"
