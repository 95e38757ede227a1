"""The offline verifier (cards.offline) judging rotating codes with no server: accepted once,
refused when replayed (also across runs of the command, through the saved list), stale,
from another phone, or listed; a profile that requires the code refuses a bare token."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest

from cardservice.cards.bundle import BundleRejected, sign_bundle
from cardservice.cards.checkdigits import CheckScheme
from cardservice.cards.device_proof import time_step
from cardservice.cards.keys import Keyring, SigningKey
from cardservice.cards.numbers import NumberFormat, compose
from cardservice.cards.offline import (
    OfflineState,
    OfflineVerifier,
    apply_bundle,
    load_seen,
    save_seen,
)
from cardservice.cards.service import CardPolicy
from cardservice.cards.tokens import sign_card_token
from cardservice.profiles import load_profile
from tests.unit.cards.test_device_proof import Phone

T0 = datetime(2027, 4, 1, 10, 0, 5, tzinfo=UTC)
FORMAT = NumberFormat(prefix="20", length=10, scheme=CheckScheme.LUHN, start="A", stop="A")
NUMBER = compose(FORMAT, 1)
JTI = "k3J9aQ2mZx0Lr5Wc8VbN1g"
CODABAR_A = {"start": "A", "stop": "A"}
KEYRING = Keyring([SigningKey.generate(sign_from=T0 - timedelta(days=1))])


def _state(**changes: object) -> OfflineState:
    fields: dict[str, object] = {
        "issuer": "https://lib.example",
        "audience": "library-card",
        "jwks": KEYRING.jwks(T0),
        "number_format": {"prefix": "20", "length": 10, "scheme": "luhn"} | CODABAR_A,
        "cursor": 7,
        "data_at": int((T0 - timedelta(hours=3)).timestamp()),
        "timezone": "Asia/Tokyo",
    }
    return OfflineState(**{**fields, **changes})  # type: ignore[arg-type]


def _token(phone: Phone | None) -> str:
    return sign_card_token(
        KEYRING,
        user_number=NUMBER,
        expires_at=datetime(2028, 3, 31, 15, 0, tzinfo=UTC),  # end of 31 March in Tokyo
        jti=JTI,
        issuer="https://lib.example",
        audience="library-card",
        now=T0 - timedelta(days=1),
        device_jwk=phone.jwk if phone else None,
    )


def test_a_rotating_code_verifies_offline_once_and_says_how_old_the_data_is() -> None:
    phone = Phone()
    verifier = OfflineVerifier(_state())
    code = phone.code(_token(phone), T0, JTI)
    verdict = verifier.verify(code, now=T0)
    assert (verdict.status, verdict.user_number, str(verdict.expires_on)) == (
        "valid",
        NUMBER,
        "2028-03-31",
    )
    assert (verdict.data_age_seconds, verdict.stale) == (3 * 3600, False)
    replayed = verifier.verify(code, now=T0 + timedelta(seconds=3))
    assert (replayed.status, replayed.reason) == ("invalid", "device_proof_replayed")
    later = OfflineVerifier(_state()).verify(code, now=T0 + timedelta(minutes=2))
    assert (later.status, later.reason) == ("invalid", "device_proof_stale")
    other = OfflineVerifier(_state()).verify(Phone().code(_token(phone), T0, JTI), now=T0)
    assert other.reason == "device_proof_bad_signature"
    stale = OfflineVerifier(_state(), max_age_seconds=3600).verify(NUMBER, now=T0)
    assert (stale.status, stale.reason, stale.stale) == ("valid", "number_not_listed", True)


def test_listed_cards_and_required_codes() -> None:
    phone = Phone()
    code = phone.code(_token(phone), T0, JTI)
    suspended = OfflineVerifier(_state(numbers={NUMBER: ["suspended", "staff_hold"]}))
    assert (suspended.verify(code, now=T0).status, suspended.verify(NUMBER, now=T0).reason) == (
        "suspended",
        "staff_hold",
    )
    revoked_token = OfflineVerifier(_state(tokens={JTI: ["renewed", None]}))
    assert revoked_token.verify(_token(None), now=T0).reason == "token_revoked"
    required = OfflineVerifier(_state(device_proof="required"))
    bare = required.verify(_token(phone), now=T0)
    assert (bare.status, bare.reason) == ("invalid", "device_proof_required")
    assert required.verify(code, now=T0).status == "valid"
    # A bound token without its proof (the code's suffix cut off) is refused anyway.
    cut = OfflineVerifier(_state()).verify(_token(phone), now=T0)
    assert (cut.status, cut.reason) == ("invalid", "device_proof_required")
    assert OfflineVerifier(_state()).verify(_token(None), now=T0).status == "valid"


def test_the_accepted_steps_outlive_one_run_of_the_command(tmp_path: Path) -> None:
    phone = Phone()
    code = phone.code(_token(phone), T0, JTI)
    first = OfflineVerifier(_state(), replay=load_seen(tmp_path))
    assert first.verify(code, now=T0).status == "valid"
    save_seen(tmp_path, first.replay, keep_after_step=time_step(T0) - 2)
    second = OfflineVerifier(_state(), replay=load_seen(tmp_path))
    assert second.verify(code, now=T0).reason == "device_proof_replayed"
    save_seen(tmp_path, second.replay, keep_after_step=time_step(T0) + 5)  # all too old now
    assert load_seen(tmp_path).pairs() == []


def test_the_scanner_needs_neither_the_database_nor_the_web_stack() -> None:
    loaded = subprocess.run(  # a fresh interpreter: what importing the verifier pulls in
        [
            sys.executable,
            "-c",
            "import sys, cardservice.cards.offline, cardservice.cards.bundle; "
            "print(sorted({'sqlalchemy', 'litestar', 'asyncpg'} & set(sys.modules)))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert loaded.stdout.strip() == "[]"


def test_the_profile_decides_whether_counters_require_the_code() -> None:
    profile = load_profile("example")
    assert CardPolicy.of(profile).require_device_proof is False
    strict = msgspec.structs.replace(
        profile, card=msgspec.structs.replace(profile.card, counter_requires_rotating_code=True)
    )
    assert CardPolicy.of(strict).require_device_proof is True


def bundle_of(keyring: Keyring, *, cursor: int, iat: datetime, since: int | None = None) -> str:
    payload = {
        "iss": "https://lib.example",
        "aud": "library-card",
        "iat": int(iat.timestamp()),
        "since": since,
        "cursor": cursor,
        "full": since is None,
        "jwks": keyring.jwks(iat),
        "number_format": {"prefix": "20", "length": 10, "scheme": "luhn"} | CODABAR_A,
        "timezone": "Asia/Tokyo",
        "device_proof": "optional",
        "numbers": [],
        "tokens": [],
    }
    return sign_bundle(payload, keyring, iat).decode()


def test_no_old_copy_sets_the_data_back_and_an_operator_can_trust_again() -> None:
    state = apply_bundle(None, bundle_of(KEYRING, cursor=7, iat=T0), trust=KEYRING.jwks(T0), now=T0)
    # An empty delta for the same cursor, made an hour earlier: it would make the data look
    # older than it is (the age the verifier reports), so it is refused like an old full one.
    old_delta = bundle_of(KEYRING, cursor=7, since=7, iat=T0 - timedelta(hours=1))
    with pytest.raises(BundleRejected) as refused:
        apply_bundle(state, old_delta, now=T0)
    assert refused.value.detail["reason"] == "older"
    later = bundle_of(KEYRING, cursor=7, since=7, iat=T0 + timedelta(minutes=5))
    assert apply_bundle(state, later, now=T0).data_at == int(T0.timestamp()) + 300

    # A scanner that missed a whole rotation's overlap does not know the new key; its
    # operator sets it up again with the library's key set, and the old data still counts.
    rotated = Keyring([SigningKey.generate(sign_from=T0 - timedelta(hours=1))])
    after = bundle_of(rotated, cursor=9, iat=T0 + timedelta(hours=1))
    with pytest.raises(BundleRejected) as unknown:
        apply_bundle(state, after, now=T0)
    assert unknown.value.detail["reason"] == "unknown_key"
    again = apply_bundle(state, after, trust=rotated.jwks(T0), now=T0)
    assert again.cursor == 9
    older = bundle_of(rotated, cursor=12, iat=T0 + timedelta(minutes=59))
    with pytest.raises(BundleRejected) as behind:
        apply_bundle(again, older, trust=rotated.jwks(T0), now=T0)
    assert behind.value.detail["reason"] == "older"
    # The server's database restored from a backup: its feed is behind the scanner (409
    # feed_cursor_ahead to a delta), and the full bundle it makes now is taken, lower
    # cursor and all; the next delta follows from there.
    restored = bundle_of(rotated, cursor=4, iat=T0 + timedelta(hours=2))
    assert apply_bundle(again, restored, now=T0).cursor == 4
