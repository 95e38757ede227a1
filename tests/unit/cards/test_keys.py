"""The Ed25519 keyring: kids, publication, files on disk, rotation and pruning."""

from __future__ import annotations

import base64
import json
import os
import stat
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cardservice.cards.keys import (
    EPOCH,
    MANIFEST_NAME,
    Keyring,
    NoSigningKey,
    SigningKey,
    UnknownKey,
    jwk_thumbprint,
)
from cardservice.errors import ConfigurationError, InvalidInput

T0 = datetime(2025, 4, 1, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _manifest(directory: Path) -> list[dict[str, str | None]]:
    entries: list[dict[str, str | None]] = json.loads((directory / MANIFEST_NAME).read_text())[
        "keys"
    ]
    return entries


def _write_pem(path: Path, key: Ed25519PrivateKey) -> Path:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


def _verify_only(key: SigningKey) -> SigningKey:
    return SigningKey(key.kid, None, key.public_key, key.sign_from, key.verify_until)


@pytest.fixture
def umask_022() -> Iterator[None]:
    # A common default: group and others could read new files unless we say otherwise.
    previous = os.umask(0o022)
    yield
    os.umask(previous)


# --- kid and JWKS ------------------------------------------------------------------------


def test_kid_is_the_rfc_7638_thumbprint_of_the_rfc_8037_example_key() -> None:
    # RFC 8037 appendix A.1 (key) and A.3 (its thumbprint).
    d = base64.urlsafe_b64decode("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=")
    public = Ed25519PrivateKey.from_private_bytes(d).public_key()
    assert jwk_thumbprint(public) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def test_generated_key_kid_is_its_thumbprint() -> None:
    key = SigningKey.generate(sign_from=T0)
    assert key.kid == jwk_thumbprint(key.public_key)
    assert len(key.kid) == 43
    assert "=" not in key.kid


def test_jwks_entry_has_exactly_the_public_members() -> None:
    d = base64.urlsafe_b64decode("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=")
    private = Ed25519PrivateKey.from_private_bytes(d)
    key = SigningKey(jwk_thumbprint(private.public_key()), private, private.public_key(), T0, None)
    assert Keyring([key]).jwks(T0) == {
        "keys": [
            {
                "kty": "OKP",
                "crv": "Ed25519",
                "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
                "kid": "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k",
                "alg": "EdDSA",
                "use": "sig",
            }
        ]
    }


def test_jwks_publishes_a_key_before_it_signs_and_drops_it_at_verify_until() -> None:
    old = SigningKey.generate(sign_from=T0)
    old = SigningKey(old.kid, old.private_key, old.public_key, T0, T0 + 10 * DAY)
    new = SigningKey.generate(sign_from=T0 + 2 * DAY)
    ring = Keyring([old, new])

    def published(now: datetime) -> list[str]:
        return [entry["kid"] for entry in ring.jwks(now)["keys"]]

    assert published(T0 + DAY) == [old.kid, new.kid]
    assert ring.signing_key(T0 + DAY).kid == old.kid
    assert published(T0 + 10 * DAY - timedelta(seconds=1)) == [old.kid, new.kid]
    assert published(T0 + 10 * DAY) == [new.kid]


def test_jwks_bytes_is_canonical_json_cached_per_published_set() -> None:
    old = SigningKey.generate(sign_from=T0)
    old = SigningKey(old.kid, old.private_key, old.public_key, T0, T0 + 10 * DAY)
    ring = Keyring([old, SigningKey.generate(sign_from=T0 + DAY)])

    first = ring.jwks_bytes(T0)
    assert first == json.dumps(ring.jwks(T0), sort_keys=True, separators=(",", ":")).encode()
    assert ring.jwks_bytes(T0 + DAY) is first  # same keys published: served from the cache
    later = ring.jwks_bytes(T0 + 10 * DAY)
    assert json.loads(later) == ring.jwks(T0 + 10 * DAY)
    assert len(json.loads(later)["keys"]) == 1


# --- choosing keys -----------------------------------------------------------------------


def test_signing_key_is_the_newest_whose_sign_from_has_come() -> None:
    first = SigningKey.generate(sign_from=T0)
    second = SigningKey.generate(sign_from=T0 + DAY)
    third = SigningKey.generate(sign_from=T0 + 2 * DAY)
    ring = Keyring([third, first, second])  # order of construction does not matter
    assert ring.signing_key(T0).kid == first.kid
    assert ring.signing_key(T0 + DAY - timedelta(microseconds=1)).kid == first.kid
    assert ring.signing_key(T0 + DAY).kid == second.kid
    assert ring.signing_key(T0 + 30 * DAY).kid == third.kid


def test_signing_key_skips_verify_only_keys() -> None:
    signer = SigningKey.generate(sign_from=T0)
    newer_verify_only = _verify_only(SigningKey.generate(sign_from=T0 + DAY))
    assert Keyring([signer, newer_verify_only]).signing_key(T0 + 2 * DAY).kid == signer.kid


def test_no_signing_key_before_the_first_sign_from() -> None:
    ring = Keyring([SigningKey.generate(sign_from=T0)])
    with pytest.raises(NoSigningKey) as caught:
        ring.signing_key(T0 - timedelta(seconds=1))
    assert caught.value.code == "signing_key_unavailable"


def test_verification_key_until_verify_until_exclusive() -> None:
    key = SigningKey.generate(sign_from=T0)
    key = SigningKey(key.kid, key.private_key, key.public_key, T0, T0 + DAY)
    ring = Keyring([key])
    assert ring.verification_key(key.kid, T0 + DAY - timedelta(microseconds=1)) == key.public_key
    with pytest.raises(UnknownKey):
        ring.verification_key(key.kid, T0 + DAY)


def test_verification_key_of_an_unknown_kid_raises() -> None:
    ring = Keyring([SigningKey.generate(sign_from=T0)])
    with pytest.raises(UnknownKey) as caught:
        ring.verification_key(SigningKey.generate(sign_from=T0).kid, T0)
    assert caught.value.code == "key_unknown"


def test_signing_key_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        SigningKey.generate(sign_from=datetime(2025, 4, 1))


def test_signing_key_repr_leaves_out_the_private_key() -> None:
    assert "private_key" not in repr(SigningKey.generate(sign_from=T0))


# --- storage -----------------------------------------------------------------------------


@pytest.mark.usefixtures("umask_022")
def test_first_start_creates_a_private_directory_key_and_manifest(tmp_path: Path) -> None:
    directory = tmp_path / "data" / "keys"
    ring = Keyring.load_or_create(directory, now=T0)

    (key,) = ring.keys
    assert key.sign_from == T0
    assert key.verify_until is None
    assert ring.signing_key(T0).kid == key.kid
    assert _mode(directory) == 0o700
    assert _mode(directory / f"{key.kid}.pem") == 0o600
    assert _mode(directory / MANIFEST_NAME) == 0o600
    # No temporary files or copies left behind; the lock file holds nothing.
    assert sorted(p.name for p in directory.iterdir()) == sorted(
        [".keyring.lock", MANIFEST_NAME, f"{key.kid}.pem"]
    )
    assert (directory / ".keyring.lock").read_bytes() == b""


def test_files_are_private_even_with_a_permissive_umask(tmp_path: Path) -> None:
    previous = os.umask(0)
    try:
        ring = Keyring.load_or_create(tmp_path / "keys", now=T0)
        ring.rotate(tmp_path / "keys", now=T0, overlap=DAY, max_token_lifetime=DAY)
    finally:
        os.umask(previous)
    assert _mode(tmp_path / "keys") == 0o700
    for path in (tmp_path / "keys").iterdir():
        assert _mode(path) == 0o600, path.name


def test_private_key_file_is_pkcs8_pem_and_manifest_lists_iso_utc(tmp_path: Path) -> None:
    ring = Keyring.load_or_create(tmp_path, now=T0)
    kid = ring.keys[0].kid
    pem = (tmp_path / f"{kid}.pem").read_bytes()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----\n")
    loaded = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(loaded, Ed25519PrivateKey)
    assert jwk_thumbprint(loaded.public_key()) == kid
    assert _manifest(tmp_path) == [
        {"kid": kid, "sign_from": "2025-04-01T09:00:00+00:00", "verify_until": None}
    ]


def test_second_start_loads_the_same_keys(tmp_path: Path) -> None:
    first = Keyring.load_or_create(tmp_path, now=T0)
    second = Keyring.load_or_create(tmp_path, now=T0 + 5 * DAY)
    assert [(k.kid, k.sign_from, k.verify_until) for k in second.keys] == [
        (k.kid, k.sign_from, k.verify_until) for k in first.keys
    ]
    assert second.signing_key(T0 + 5 * DAY).private_key is not None


def test_concurrent_first_starts_agree_on_one_key(tmp_path: Path) -> None:
    # Several server workers start at once on an empty data directory.
    directory = tmp_path / "keys"
    barrier = threading.Barrier(8)
    kids: list[str] = []

    def start() -> None:
        barrier.wait()
        kids.append(Keyring.load_or_create(directory, now=T0).keys[0].kid)

    threads = [threading.Thread(target=start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(kids)) == 1
    assert len(list(directory.glob("*.pem"))) == 1


def test_missing_key_file_names_the_file(tmp_path: Path) -> None:
    kid = Keyring.load_or_create(tmp_path, now=T0).keys[0].kid
    (tmp_path / f"{kid}.pem").unlink()
    with pytest.raises(ConfigurationError) as caught:
        Keyring.load_or_create(tmp_path, now=T0)
    assert caught.value.key == str(tmp_path / f"{kid}.pem")
    assert "missing" in caught.value.problem


def test_corrupt_key_file_names_the_file(tmp_path: Path) -> None:
    kid = Keyring.load_or_create(tmp_path, now=T0).keys[0].kid
    (tmp_path / f"{kid}.pem").write_bytes(b"-----BEGIN PRIVATE KEY-----\nnot base64\n")
    with pytest.raises(ConfigurationError) as caught:
        Keyring.load_or_create(tmp_path, now=T0)
    assert caught.value.key == str(tmp_path / f"{kid}.pem")


def test_key_file_holding_another_key_is_refused(tmp_path: Path) -> None:
    kid = Keyring.load_or_create(tmp_path, now=T0).keys[0].kid
    (tmp_path / f"{kid}.pem").unlink()
    _write_pem(tmp_path / f"{kid}.pem", Ed25519PrivateKey.generate())
    with pytest.raises(ConfigurationError, match="another kid"):
        Keyring.load_or_create(tmp_path, now=T0)


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b"[]",
        b'{"keys": {}}',
        b'{"keys": ["x"]}',
        b'{"keys": [{"kid": "../../etc/passwd", "sign_from": "2025-04-01T09:00:00+00:00"}]}',
        b'{"keys": [{"kid": "' + b"A" * 43 + b'", "sign_from": "2025-04-01T09:00:00"}]}',
        b'{"keys": [{"kid": "' + b"A" * 43 + b'", "sign_from": "yesterday"}]}',
    ],
    ids=["json", "array", "keys-object", "entry", "traversal", "naive-time", "bad-time"],
)
def test_corrupt_manifest_names_the_manifest(tmp_path: Path, content: bytes) -> None:
    Keyring.load_or_create(tmp_path, now=T0)
    (tmp_path / MANIFEST_NAME).write_bytes(content)
    with pytest.raises(ConfigurationError) as caught:
        Keyring.load_or_create(tmp_path, now=T0)
    assert caught.value.key == str(tmp_path / MANIFEST_NAME)


def test_missing_manifest_next_to_key_files_is_not_a_first_start(tmp_path: Path) -> None:
    Keyring.load_or_create(tmp_path, now=T0)
    (tmp_path / MANIFEST_NAME).unlink()
    with pytest.raises(ConfigurationError, match="key files exist"):
        Keyring.load_or_create(tmp_path, now=T0)
    assert len(list(tmp_path.glob("*.pem"))) == 1  # no second key was made


# --- operator-managed files --------------------------------------------------------------


def test_from_files_last_file_signs_and_the_others_only_verify(tmp_path: Path) -> None:
    private = [Ed25519PrivateKey.generate() for _ in range(3)]
    paths = [_write_pem(tmp_path / f"k{i}.pem", key) for i, key in enumerate(private)]
    ring = Keyring.from_files(paths)

    kids = [jwk_thumbprint(key.public_key()) for key in private]
    assert sorted(k.kid for k in ring.keys) == sorted(kids)
    assert ring.signing_key(T0).kid == kids[-1]
    assert {k.kid for k in ring.keys if k.private_key is None} == set(kids[:2])
    assert all(k.sign_from == EPOCH and k.verify_until is None for k in ring.keys)
    assert {entry["kid"] for entry in ring.jwks(T0)["keys"]} == set(kids)


def test_from_files_accepts_public_keys_for_verification(tmp_path: Path) -> None:
    old = Ed25519PrivateKey.generate()
    public_pem = tmp_path / "old.pub.pem"
    public_pem.write_bytes(
        old.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    ring = Keyring.from_files([public_pem, _write_pem(tmp_path / "new.pem", _new_key())])
    kid = jwk_thumbprint(old.public_key())
    assert ring.verification_key(kid, T0) == old.public_key()


def _new_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def test_from_files_needs_a_private_key_last(tmp_path: Path) -> None:
    public_pem = tmp_path / "only.pub.pem"
    public_pem.write_bytes(
        _new_key()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(ConfigurationError) as caught:
        Keyring.from_files([public_pem])
    assert caught.value.key == str(public_pem)


def test_from_files_refuses_other_key_types(tmp_path: Path) -> None:
    path = tmp_path / "p256.pem"
    path.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(ConfigurationError, match="Ed25519") as caught:
        Keyring.from_files([path])
    assert caught.value.key == str(path)


def test_from_files_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="no key file"):
        Keyring.from_files([])
    with pytest.raises(ConfigurationError) as caught:
        Keyring.from_files([tmp_path / "absent.pem"])
    assert caught.value.key == str(tmp_path / "absent.pem")
    path = _write_pem(tmp_path / "k.pem", _new_key())
    with pytest.raises(ConfigurationError, match="twice"):
        Keyring.from_files([path, path])


# --- rotation and pruning ----------------------------------------------------------------


def test_rotate_publishes_now_signs_after_overlap_and_schedules_the_old_keys_end(
    tmp_path: Path,
) -> None:
    ring = Keyring.load_or_create(tmp_path, now=T0)
    old = ring.keys[0]
    now = T0 + 100 * DAY
    new = ring.rotate(tmp_path, now=now, overlap=2 * DAY, max_token_lifetime=400 * DAY)

    assert new.sign_from == now + 2 * DAY
    assert new.verify_until is None
    assert {entry["kid"] for entry in ring.jwks(now)["keys"]} == {old.kid, new.kid}
    assert ring.signing_key(now + 2 * DAY - timedelta(seconds=1)).kid == old.kid
    assert ring.signing_key(now + 2 * DAY).kid == new.kid
    (old_now,) = [k for k in ring.keys if k.kid == old.kid]
    assert old_now.verify_until == new.sign_from + 400 * DAY
    assert _mode(tmp_path / f"{new.kid}.pem") == 0o600
    # The directory holds the same state for the other workers.
    reloaded = Keyring.load_or_create(tmp_path, now=now)
    assert [(k.kid, k.sign_from, k.verify_until) for k in reloaded.keys] == [
        (k.kid, k.sign_from, k.verify_until) for k in ring.keys
    ]


def test_rotate_keeps_an_earlier_verify_until(tmp_path: Path) -> None:
    ring = Keyring.load_or_create(tmp_path, now=T0)
    first = ring.keys[0].kid
    second = ring.rotate(tmp_path, now=T0 + DAY, overlap=DAY, max_token_lifetime=10 * DAY)
    ring.rotate(tmp_path, now=T0 + 3 * DAY, overlap=DAY, max_token_lifetime=10 * DAY)
    until = {k.kid: k.verify_until for k in ring.keys}
    assert until[first] == T0 + 12 * DAY  # set by the first rotation, not pushed out
    assert until[second.kid] == T0 + 14 * DAY


def test_rotate_brings_a_later_verify_until_forward(tmp_path: Path) -> None:
    # A rotation with a shorter max_token_lifetime (cards became shorter-lived).
    ring = Keyring.load_or_create(tmp_path, now=T0)
    first = ring.keys[0].kid
    ring.rotate(tmp_path, now=T0 + DAY, overlap=DAY, max_token_lifetime=400 * DAY)
    third = ring.rotate(tmp_path, now=T0 + 3 * DAY, overlap=DAY, max_token_lifetime=10 * DAY)
    until = {k.kid: k.verify_until for k in ring.keys}
    assert until[first] == third.sign_from + 10 * DAY


def test_rotate_builds_on_the_directory_not_on_a_stale_keyring(tmp_path: Path) -> None:
    worker_a = Keyring.load_or_create(tmp_path, now=T0)
    worker_b = Keyring.load_or_create(tmp_path, now=T0)
    by_a = worker_a.rotate(tmp_path, now=T0 + DAY, overlap=DAY, max_token_lifetime=DAY)
    by_b = worker_b.rotate(tmp_path, now=T0 + 2 * DAY, overlap=DAY, max_token_lifetime=DAY)
    kids = {entry["kid"] for entry in _manifest(tmp_path)}
    assert {by_a.kid, by_b.kid} <= kids
    assert len(kids) == 3
    assert {k.kid for k in worker_b.keys} == kids


@pytest.mark.parametrize(
    ("overlap", "lifetime"),
    [
        (-DAY, DAY),
        (DAY, timedelta(0)),
        (DAY, -DAY),
        # Past a year (8760 hours), and far past it, where the dates would overflow.
        (timedelta(hours=8761), DAY),
        (timedelta(hours=99_999_999), DAY),
    ],
)
def test_rotate_refuses_negative_durations_and_overlaps_past_a_year(
    tmp_path: Path, overlap: timedelta, lifetime: timedelta
) -> None:
    ring = Keyring.load_or_create(tmp_path, now=T0)
    with pytest.raises(InvalidInput):
        ring.rotate(tmp_path, now=T0, overlap=overlap, max_token_lifetime=lifetime)
    assert len(list(tmp_path.glob("*.pem"))) == 1


def test_prune_deletes_keys_past_verify_until(tmp_path: Path) -> None:
    ring = Keyring.load_or_create(tmp_path, now=T0)
    old = ring.keys[0].kid
    new = ring.rotate(tmp_path, now=T0, overlap=DAY, max_token_lifetime=10 * DAY)
    end = T0 + 11 * DAY

    assert ring.prune(tmp_path, now=end - timedelta(seconds=1)) == []
    assert (tmp_path / f"{old}.pem").exists()

    assert ring.prune(tmp_path, now=end) == [old]
    assert not (tmp_path / f"{old}.pem").exists()
    assert [entry["kid"] for entry in _manifest(tmp_path)] == [new.kid]
    assert [k.kid for k in ring.keys] == [new.kid]
    assert _mode(tmp_path / MANIFEST_NAME) == 0o600
    assert not list(tmp_path.glob("*.tmp"))


def test_reload_if_changed_picks_up_another_workers_rotation(tmp_path: Path) -> None:
    serving = Keyring.load_or_create(tmp_path, now=T0)
    assert serving.reload_if_changed(tmp_path) is False

    operator = Keyring.load_or_create(tmp_path, now=T0)
    new = operator.rotate(tmp_path, now=T0, overlap=DAY, max_token_lifetime=DAY)

    assert serving.reload_if_changed(tmp_path) is True
    assert new.kid in {k.kid for k in serving.keys}
    assert serving.signing_key(T0 + DAY).kid == new.kid
    assert serving.reload_if_changed(tmp_path) is False
