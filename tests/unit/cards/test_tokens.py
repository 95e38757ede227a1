"""Card tokens: what is signed, and every way a token is refused, each with its own code."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
import time_machine
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from cardservice.cards.keys import Keyring, SigningKey
from cardservice.cards.tokens import (
    CARD_TOKEN_TYPE,
    CardClaims,
    CardTokenVerifier,
    Rejection,
    TokenRejected,
    sign_card_token,
)
from cardservice.errors import DomainError, InvalidInput, Kind

ISSUER = "https://library.example.jp"
AUDIENCE = "https://library.example.jp/counter"
T0 = datetime(2025, 4, 1, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)
EXPIRES = T0 + 365 * DAY
USER = "2100012345678"
JTI = "01JQZ3K8Y5W4V2N6M8P0R1T3X5"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _json(value: object) -> str:
    return _b64(json.dumps(value).encode())


def _parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header, payload, _ = token.split(".")
    return json.loads(_unb64(header)), json.loads(_unb64(payload))


@pytest.fixture
def key() -> SigningKey:
    return SigningKey.generate(sign_from=T0 - DAY)


@pytest.fixture
def keyring(key: SigningKey) -> Keyring:
    return Keyring([key])


@pytest.fixture
def verifier(keyring: Keyring) -> CardTokenVerifier:
    return CardTokenVerifier(keyring, issuer=ISSUER, audience=AUDIENCE)


def _sign(keyring: Keyring, *, now: datetime = T0, expires_at: datetime = EXPIRES) -> str:
    return sign_card_token(
        keyring,
        user_number=USER,
        expires_at=expires_at,
        jti=JTI,
        issuer=ISSUER,
        audience=AUDIENCE,
        now=now,
    )


def _claims(**changes: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": USER,
        "iat": int(T0.timestamp()),
        "exp": int(EXPIRES.timestamp()),
        "jti": JTI,
    }
    claims.update(changes)
    return {name: value for name, value in claims.items() if value is not _DROP}


_DROP = object()


def _forge(
    key: SigningKey,
    *,
    header: dict[str, Any] | None = None,
    claims: dict[str, Any] | None = None,
    signer: Ed25519PrivateKey | None = None,
) -> str:
    """A token built by hand, Ed25519-signed (by ``key`` unless ``signer`` is given)."""
    head = (
        header if header is not None else {"alg": "EdDSA", "typ": CARD_TOKEN_TYPE, "kid": key.kid}
    )
    signing_input = f"{_json(head)}.{_json(claims if claims is not None else _claims())}"
    private = signer or key.private_key
    assert private is not None
    return f"{signing_input}.{_b64(private.sign(signing_input.encode()))}"


def _rejected(verifier: CardTokenVerifier, token: str, *, now: datetime = T0) -> str:
    with pytest.raises(TokenRejected) as caught:
        verifier.verify(token, now=now)
    return caught.value.code


# --- what is signed ----------------------------------------------------------------------


def test_header_is_exactly_alg_typ_kid(keyring: Keyring, key: SigningKey) -> None:
    header, _ = _parts(_sign(keyring))
    assert header == {"alg": "EdDSA", "typ": "card+jwt", "kid": key.kid}


def test_claims_are_exactly_the_six_and_carry_no_personal_data(keyring: Keyring) -> None:
    _, claims = _parts(_sign(keyring))
    assert claims == {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": USER,
        "iat": int(T0.timestamp()),
        "exp": int(EXPIRES.timestamp()),
        "jti": JTI,
    }


def test_a_signed_token_verifies_to_its_claims(
    keyring: Keyring, key: SigningKey, verifier: CardTokenVerifier
) -> None:
    assert verifier.verify(_sign(keyring), now=T0) == CardClaims(
        user_number=USER, jti=JTI, issued_at=T0, expires_at=EXPIRES, kid=key.kid
    )


def test_a_token_verifies_with_pyjwt_and_the_published_jwks(keyring: Keyring) -> None:
    # What an offline verifier elsewhere does: only the JWKS, a standard JWT library.
    token = _sign(keyring)
    jwks = jwt.PyJWKSet.from_dict(keyring.jwks(T0))
    kid = jwt.get_unverified_header(token)["kid"]
    claims = jwt.decode(
        token,
        jwks[kid].key,
        algorithms=["EdDSA"],
        audience=AUDIENCE,
        issuer=ISSUER,
        options={"verify_exp": False, "verify_iat": False},
    )
    assert claims["sub"] == USER


def test_verify_uses_the_current_time_by_default(
    keyring: Keyring, verifier: CardTokenVerifier
) -> None:
    token = _sign(keyring, expires_at=T0 + DAY)
    with time_machine.travel(T0 + DAY, tick=False):
        assert verifier.verify(token).jti == JTI
    with (
        time_machine.travel(T0 + DAY + timedelta(seconds=31), tick=False),
        pytest.raises(TokenRejected) as caught,
    ):
        verifier.verify(token)
    assert caught.value.code == "token_expired"


@pytest.mark.parametrize(
    "changes",
    [
        {"now": datetime(2025, 4, 1, 9, 0)},
        {"expires_at": datetime(2026, 4, 1)},
        {"expires_at": T0},
        {"user_number": ""},
        {"jti": ""},
    ],
    ids=["naive-now", "naive-expiry", "expires-at-issue", "no-user", "no-jti"],
)
def test_signing_refuses_bad_input(keyring: Keyring, changes: dict[str, Any]) -> None:
    arguments: dict[str, Any] = {
        "user_number": USER,
        "expires_at": EXPIRES,
        "jti": JTI,
        "issuer": ISSUER,
        "audience": AUDIENCE,
        "now": T0,
    } | changes
    with pytest.raises(InvalidInput):
        sign_card_token(keyring, **arguments)


# --- rejection codes ---------------------------------------------------------------------


def test_rejection_codes_are_the_published_contract() -> None:
    assert {reason.value for reason in Rejection} == {
        "token_malformed",
        "token_bad_algorithm",
        "token_bad_header",
        "token_wrong_type",
        "token_unknown_key",
        "token_bad_signature",
        "token_wrong_issuer",
        "token_wrong_audience",
        "token_not_yet_valid",
        "token_expired",
    }


def test_a_rejection_is_an_invalid_domain_error_that_does_not_echo_the_token(
    key: SigningKey, verifier: CardTokenVerifier
) -> None:
    kid = "<script>alert(1)</script>"
    token = _forge(key, header={"alg": "EdDSA", "typ": CARD_TOKEN_TYPE, "kid": kid})
    with pytest.raises(TokenRejected) as caught:
        verifier.verify(token, now=T0)
    error = caught.value
    assert isinstance(error, DomainError)
    assert error.kind == Kind.INVALID
    assert error.reason is Rejection.UNKNOWN_KEY
    assert error.as_dict()["code"] == "token_unknown_key"
    assert kid not in str(error)
    assert token not in str(error)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "abc",
        "a.b",
        "a.b.c.d",
        "a..c",
        ".b.c",
        "a b.c.d",
        "eyJhbGciOiJFZERTQSJ9.e30.c2ln==",  # padding is not base64url
        "eyJhbGciOiJFZERTQSJ9.e30.c2ln\n",
        _b64(b"not json") + ".e30.c2ln",
        _b64(b'["alg","EdDSA"]') + ".e30.c2ln",
        _b64(b'{"alg":"EdDSA"') + ".e30.c2ln",
        "A.e30.c2ln",  # one character is no whole byte
        "é.e30.c2ln",
        "a" * 9000 + ".e30.c2ln",
    ],
    ids=lambda token: repr(token)[:30],
)
def test_malformed_tokens(verifier: CardTokenVerifier, token: str) -> None:
    assert _rejected(verifier, token) == "token_malformed"


def test_a_token_that_is_not_text_is_malformed(verifier: CardTokenVerifier) -> None:
    with pytest.raises(TokenRejected) as caught:
        verifier.verify(b"a.b.c", now=T0)  # type: ignore[arg-type]
    assert caught.value.code == "token_malformed"


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
@pytest.mark.parametrize("signature", ["", _b64(b"x" * 64)])
def test_unsigned_tokens_are_a_bad_algorithm(
    key: SigningKey, verifier: CardTokenVerifier, alg: str, signature: str
) -> None:
    token = f"{_json({'alg': alg, 'typ': CARD_TOKEN_TYPE, 'kid': key.kid})}.{_json(_claims())}."
    assert _rejected(verifier, token + signature) == "token_bad_algorithm"


def _public_key_encodings(key: SigningKey) -> list[bytes]:
    public = key.public_key
    return [
        public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw),
        public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        json.dumps(Keyring([key]).jwks(T0)["keys"][0]).encode(),
    ]


@pytest.mark.parametrize("encoding", [0, 1, 2], ids=["raw", "pem", "jwk"])
def test_hs256_signed_with_the_public_key_is_a_bad_algorithm(
    key: SigningKey, verifier: CardTokenVerifier, encoding: int
) -> None:
    # Key confusion: the public key is public, so an HMAC "signed" with it is forgeable.
    header = {"alg": "HS256", "typ": CARD_TOKEN_TYPE, "kid": key.kid}
    signing_input = f"{_json(header)}.{_json(_claims(sub='9999999999999'))}"
    secret = _public_key_encodings(key)[encoding]
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    assert _rejected(verifier, f"{signing_input}.{_b64(mac)}") == "token_bad_algorithm"


@pytest.mark.parametrize(
    "alg",
    ["RS256", "ES256", "PS256", "HS512", "EdDSA ", " EdDSA", "eddsa", "EDDSA", "Ed25519", "ES256K"],
)
def test_other_algorithms_are_refused_even_with_a_valid_signature(
    key: SigningKey, verifier: CardTokenVerifier, alg: str
) -> None:
    token = _forge(key, header={"alg": alg, "typ": CARD_TOKEN_TYPE, "kid": key.kid})
    assert _rejected(verifier, token) == "token_bad_algorithm"


@pytest.mark.parametrize("alg", [_DROP, None, ["EdDSA"], 1])
def test_missing_or_non_text_algorithm_is_refused(
    key: SigningKey, verifier: CardTokenVerifier, alg: object
) -> None:
    header = {"alg": alg, "typ": CARD_TOKEN_TYPE, "kid": key.kid}
    header = {name: value for name, value in header.items() if value is not _DROP}
    assert _rejected(verifier, _forge(key, header=header)) == "token_bad_algorithm"


@pytest.mark.parametrize(
    "kid",
    [
        SigningKey.generate(sign_from=T0).kid,
        "../../etc/passwd",
        "' OR 1=1 --",
        "k" * 4000,
        "",
        "\x00",
        None,
        42,
        ["kid"],
    ],
    ids=["other", "traversal", "sql", "long", "empty", "nul", "null", "number", "list"],
)
def test_unknown_or_injected_kids(
    key: SigningKey, verifier: CardTokenVerifier, kid: object
) -> None:
    token = _forge(key, header={"alg": "EdDSA", "typ": CARD_TOKEN_TYPE, "kid": kid})
    assert _rejected(verifier, token) == "token_unknown_key"


def test_missing_kid(key: SigningKey, verifier: CardTokenVerifier) -> None:
    token = _forge(key, header={"alg": "EdDSA", "typ": CARD_TOKEN_TYPE})
    assert _rejected(verifier, token) == "token_unknown_key"


@pytest.mark.parametrize(
    ("member", "value"),
    [
        ("jku", "https://attacker.example/jwks.json"),
        (
            "jwk",
            {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
        ),
        ("x5u", "https://attacker.example/cert.pem"),
        ("x5c", ["MIIB"]),
        ("x5t", "dGh1bWI"),
        ("x5t#S256", "dGh1bWI"),
        ("crit", ["exp"]),
        ("zip", "DEF"),
        ("cty", "JWT"),
    ],
)
def test_headers_outside_the_allowlist(
    key: SigningKey, verifier: CardTokenVerifier, member: str, value: object
) -> None:
    header = {"alg": "EdDSA", "typ": CARD_TOKEN_TYPE, "kid": key.kid, member: value}
    assert _rejected(verifier, _forge(key, header=header)) == "token_bad_header"


@pytest.mark.parametrize("typ", [_DROP, "JWT", "at+jwt", "", None, "card+jwt "])
def test_wrong_type(key: SigningKey, verifier: CardTokenVerifier, typ: object) -> None:
    header = {"alg": "EdDSA", "typ": typ, "kid": key.kid}
    header = {name: value for name, value in header.items() if value is not _DROP}
    assert _rejected(verifier, _forge(key, header=header)) == "token_wrong_type"


@pytest.mark.parametrize("aud", ["https://other.example.jp/counter", _DROP, [AUDIENCE], ""])
def test_wrong_audience(key: SigningKey, verifier: CardTokenVerifier, aud: object) -> None:
    token = _forge(key, claims=_claims(aud=aud))
    assert _rejected(verifier, token) == "token_wrong_audience"


@pytest.mark.parametrize("iss", ["https://other.example.jp", _DROP, ISSUER + "/", None])
def test_wrong_issuer(key: SigningKey, verifier: CardTokenVerifier, iss: object) -> None:
    token = _forge(key, claims=_claims(iss=iss))
    assert _rejected(verifier, token) == "token_wrong_issuer"


def test_expiry_allows_the_leeway_and_no_more(
    keyring: Keyring, verifier: CardTokenVerifier
) -> None:
    token = _sign(keyring)
    assert verifier.verify(token, now=EXPIRES + timedelta(seconds=30)).jti == JTI
    assert _rejected(verifier, token, now=EXPIRES + timedelta(seconds=31)) == "token_expired"


def test_leeway_is_configurable(keyring: Keyring) -> None:
    strict = CardTokenVerifier(keyring, issuer=ISSUER, audience=AUDIENCE, leeway_seconds=0)
    token = _sign(keyring)
    assert strict.verify(token, now=EXPIRES).jti == JTI
    assert _rejected(strict, token, now=EXPIRES + timedelta(seconds=1)) == "token_expired"
    with pytest.raises(InvalidInput):
        CardTokenVerifier(keyring, issuer=ISSUER, audience=AUDIENCE, leeway_seconds=-1)


def test_a_future_nbf_is_honoured(key: SigningKey, verifier: CardTokenVerifier) -> None:
    token = _forge(key, claims=_claims(nbf=int(T0.timestamp()) + 31))
    assert _rejected(verifier, token) == "token_not_yet_valid"
    within_leeway = _forge(key, claims=_claims(nbf=int(T0.timestamp()) + 30))
    assert verifier.verify(within_leeway, now=T0).jti == JTI


def test_iat_in_the_future_beyond_leeway(key: SigningKey, verifier: CardTokenVerifier) -> None:
    token = _forge(key, claims=_claims(iat=int(T0.timestamp()) + 31))
    assert _rejected(verifier, token) == "token_not_yet_valid"
    within_leeway = _forge(key, claims=_claims(iat=int(T0.timestamp()) + 30))
    assert verifier.verify(within_leeway, now=T0).jti == JTI


def test_tampered_payload(keyring: Keyring, verifier: CardTokenVerifier) -> None:
    header, _, signature = _sign(keyring).split(".")
    forged = f"{header}.{_json(_claims(sub='9999999999999'))}.{signature}"
    assert _rejected(verifier, forged) == "token_bad_signature"


@pytest.mark.parametrize("position", [0, 20, 63])
def test_tampered_signature(keyring: Keyring, verifier: CardTokenVerifier, position: int) -> None:
    signing_input, signature = _sign(keyring).rsplit(".", 1)
    raw = bytearray(_unb64(signature))
    raw[position] ^= 0x01
    assert _rejected(verifier, f"{signing_input}.{_b64(bytes(raw))}") == "token_bad_signature"


@pytest.mark.parametrize("signature", ["", "AAAA", _b64(b"\x00" * 63), _b64(b"\x00" * 65)])
def test_signature_of_the_wrong_length(
    keyring: Keyring, verifier: CardTokenVerifier, signature: str
) -> None:
    signing_input = _sign(keyring).rsplit(".", 1)[0]
    assert _rejected(verifier, f"{signing_input}.{signature}") == "token_bad_signature"


def test_signed_by_another_key_under_our_kid(key: SigningKey, verifier: CardTokenVerifier) -> None:
    token = _forge(key, signer=Ed25519PrivateKey.generate())
    assert _rejected(verifier, token) == "token_bad_signature"


@pytest.mark.parametrize("claim", ["sub", "jti", "exp", "iat"])
def test_missing_required_claims(key: SigningKey, verifier: CardTokenVerifier, claim: str) -> None:
    token = _forge(key, claims=_claims(**{claim: _DROP}))
    assert _rejected(verifier, token) == "token_malformed"


@pytest.mark.parametrize(
    "changes",
    [
        {"sub": 2100012345678},
        {"sub": ""},
        {"jti": None},
        {"exp": str(int(EXPIRES.timestamp()))},
        {"exp": True},
        {"exp": 10**20},
        {"iat": -1},
        {"nbf": "soon"},
    ],
    ids=lambda changes: repr(changes)[:30],
)
def test_ill_typed_claims(
    key: SigningKey, verifier: CardTokenVerifier, changes: dict[str, Any]
) -> None:
    assert _rejected(verifier, _forge(key, claims=_claims(**changes))) == "token_malformed"


@pytest.mark.parametrize("payload", [b"[]", b'"sub"', b"{", b"null"])
def test_a_signed_payload_that_is_not_an_object(
    key: SigningKey, verifier: CardTokenVerifier, payload: bytes
) -> None:
    signing_input = (
        f"{_json({'alg': 'EdDSA', 'typ': CARD_TOKEN_TYPE, 'kid': key.kid})}.{_b64(payload)}"
    )
    assert key.private_key is not None
    token = f"{signing_input}.{_b64(key.private_key.sign(signing_input.encode()))}"
    assert _rejected(verifier, token) == "token_malformed"


def test_a_key_past_verify_until_is_unknown(key: SigningKey) -> None:
    retiring = SigningKey(key.kid, key.private_key, key.public_key, key.sign_from, T0 + DAY)
    keyring = Keyring([retiring])
    verifier = CardTokenVerifier(keyring, issuer=ISSUER, audience=AUDIENCE)
    token = _sign(keyring)
    assert verifier.verify(token, now=T0 + DAY - timedelta(seconds=1)).jti == JTI
    assert _rejected(verifier, token, now=T0 + DAY) == "token_unknown_key"


@given(st.text(max_size=600))
def test_arbitrary_text_is_only_ever_rejected(text: str) -> None:
    keyring = Keyring([SigningKey.generate(sign_from=T0 - DAY)])
    verifier = CardTokenVerifier(keyring, issuer=ISSUER, audience=AUDIENCE)
    with pytest.raises(TokenRejected):
        verifier.verify(text, now=T0)


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)


@given(
    st.dictionaries(
        st.sampled_from(["iss", "aud", "sub", "iat", "exp", "jti", "nbf"]), _json_values
    )
)
def test_arbitrary_signed_claims_verify_or_are_rejected(claims: dict[str, Any]) -> None:
    key = SigningKey.generate(sign_from=T0 - DAY)
    verifier = CardTokenVerifier(Keyring([key]), issuer=ISSUER, audience=AUDIENCE)
    token = _forge(key, claims=_claims() | claims)
    try:
        result = verifier.verify(token, now=T0)
    except TokenRejected:
        return
    assert result.user_number == (_claims() | claims)["sub"]


# --- keys over time ----------------------------------------------------------------------


def test_rotation_from_overlap_to_prune(tmp_path: Path) -> None:
    lifetime = 30 * DAY
    keyring = Keyring.load_or_create(tmp_path, now=T0)
    verifier = CardTokenVerifier(keyring, issuer=ISSUER, audience=AUDIENCE)
    old = keyring.keys[0]
    rotated_at = T0 + 10 * DAY
    new = keyring.rotate(tmp_path, now=rotated_at, overlap=2 * DAY, max_token_lifetime=lifetime)

    def card(now: datetime) -> str:
        return _sign(keyring, now=now, expires_at=now + lifetime)

    with time_machine.travel(rotated_at + DAY, tick=False):
        # The overlap: the old key still signs, the JWKS already announces the new one.
        old_token = card(datetime.now(UTC))
        assert verifier.verify(old_token).kid == old.kid
        assert {entry["kid"] for entry in keyring.jwks(datetime.now(UTC))["keys"]} == {
            old.kid,
            new.kid,
        }
    with time_machine.travel(new.sign_from - timedelta(seconds=1), tick=False):
        last_old_token = card(datetime.now(UTC))
        assert _parts(last_old_token)[0]["kid"] == old.kid
    with time_machine.travel(new.sign_from, tick=False):
        new_token = card(datetime.now(UTC))
        assert verifier.verify(new_token).kid == new.kid
        assert verifier.verify(old_token).kid == old.kid

    old_until = new.sign_from + lifetime
    assert next(k for k in keyring.keys if k.kid == old.kid).verify_until == old_until
    with time_machine.travel(old_until - timedelta(seconds=2), tick=False):
        # The last token the old key could sign is still good until the key retires.
        assert verifier.verify(last_old_token).kid == old.kid
    with time_machine.travel(old_until, tick=False):
        assert _rejected_now(verifier, last_old_token) == "token_unknown_key"
        assert keyring.prune(tmp_path, now=datetime.now(UTC)) == [old.kid]
        assert _rejected_now(verifier, last_old_token) == "token_unknown_key"
        assert verifier.verify(new_token).kid == new.kid


def _rejected_now(verifier: CardTokenVerifier, token: str) -> str:
    with pytest.raises(TokenRejected) as caught:
        verifier.verify(token)
    return caught.value.code


def test_a_reloaded_keyring_verifies_what_the_first_one_signed(tmp_path: Path) -> None:
    first = Keyring.load_or_create(tmp_path, now=T0)
    token = _sign(first)
    restarted = Keyring.load_or_create(tmp_path, now=T0 + DAY)
    verifier = CardTokenVerifier(restarted, issuer=ISSUER, audience=AUDIENCE)
    assert verifier.verify(token, now=T0 + DAY).user_number == USER


def test_a_verifier_sees_a_rotation_by_another_process_at_once(tmp_path: Path) -> None:
    # A token naming a kid the keyring does not hold makes it look at the manifest first.
    serving = Keyring.load_or_create(tmp_path, now=T0)
    verifier = CardTokenVerifier(serving, issuer=ISSUER, audience=AUDIENCE)
    operator = Keyring.load_or_create(tmp_path, now=T0)
    operator.rotate(tmp_path, now=T0, overlap=DAY, max_token_lifetime=400 * DAY)
    token = _sign(operator, now=T0 + DAY)

    assert verifier.verify(token, now=T0 + DAY).user_number == USER
    assert not serving.reload_if_changed(tmp_path)  # already reloaded
    other = Keyring.load_or_create(tmp_path / "elsewhere", now=T0)
    assert _rejected(verifier, _sign(other), now=T0) == "token_unknown_key"


def test_from_files_keys_round_trip(tmp_path: Path) -> None:
    paths = []
    for name in ("old", "current"):
        path = tmp_path / f"{name}.pem"
        path.write_bytes(
            Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        paths.append(path)
    old_only = Keyring.from_files(paths[:1])
    old_token = _sign(old_only)
    keyring = Keyring.from_files(paths)
    verifier = CardTokenVerifier(keyring, issuer=ISSUER, audience=AUDIENCE)
    current_token = _sign(keyring)
    assert verifier.verify(old_token, now=T0).kid == old_only.keys[0].kid
    assert verifier.verify(current_token, now=T0).kid == keyring.signing_key(T0).kid
    assert keyring.signing_key(T0).kid != old_only.keys[0].kid
