"""The reference offline verifier: what a scanner keeps, how it syncs, how it judges a scan.

A scanner keeps one :class:`OfflineState` (a JSON file, ``STATE_FILE`` in its directory):
the keys it trusts, the cursor and the current revocations. Syncing (``cardservice
offline sync``) fetches ``GET /api/v1/offline/feed?since=<cursor>`` and applies the bundle
(``cards.feed``) after checking its signature against the keys it already trusts; the
first sync trusts the server's ``/.well-known/jwks.json`` (or a JWKS file the operator
gives). A bundle file copied from anywhere is applied the same way.

:class:`OfflineVerifier` then judges barcodes, card tokens and rotating codes with no
server, and every verdict says how old its data is (``data_age_seconds``: now minus the
``iat`` of the last bundle applied, and ``stale`` past ``max_age_seconds``).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import msgspec

from cardservice.cards.bundle import BundleRejected, open_bundle
from cardservice.cards.checkdigits import CheckScheme
from cardservice.cards.device_proof import (
    DeviceProofRejected,
    ReplayGuard,
    is_rotating_code,
    verify_rotating_code,
)
from cardservice.cards.keys import Keyring
from cardservice.cards.numbers import InvalidNumber, NumberFormat, normalise
from cardservice.cards.signing_key import EPOCH, SigningKey, jwk_thumbprint
from cardservice.cards.tokens import CardClaims, CardTokenVerifier, TokenRejected
from cardservice.errors import InvalidInput

STATE_FILE: Final = "offline-state.json"
SEEN_FILE: Final = "offline-seen.json"


class OfflineState(msgspec.Struct, kw_only=True):
    """What a scanner knows; ``numbers`` maps a number to ``[state, reason]`` and ``tokens``
    a jti to ``[reason, until]`` (epoch seconds or None)."""

    issuer: str
    audience: str
    jwks: dict[str, Any]
    number_format: dict[str, Any]
    device_proof: str = "optional"
    cursor: int = 0
    cursor_entry: list[Any] | None = None  # the feed's entry at the cursor (cards.feed)
    data_at: int = 0  # the iat of the last bundle applied
    timezone: str = "Asia/Tokyo"
    numbers: dict[str, list[Any]] = msgspec.field(default_factory=dict)
    tokens: dict[str, list[Any]] = msgspec.field(default_factory=dict)


def keyring_from_jwks(jwks: object) -> Keyring:
    """A verify-only keyring of a JWKS's Ed25519 keys; ``BundleRejected(reason="bad_jwks")``
    if it holds none or a key's kid is not its thumbprint."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (  # noqa: PLC0415
        Ed25519PublicKey,
    )

    keys: list[SigningKey] = []
    entries = jwks.get("keys") if isinstance(jwks, dict) else None
    for jwk in entries if isinstance(entries, list) else []:
        if not isinstance(jwk, dict) or jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
            continue
        try:
            x = str(jwk["x"])
            public = Ed25519PublicKey.from_public_bytes(
                base64.urlsafe_b64decode(x + "=" * (-len(x) % 4))
            )
        except (KeyError, ValueError, binascii.Error):
            raise BundleRejected(reason="bad_jwks") from None
        if jwk.get("kid") != jwk_thumbprint(public):
            raise BundleRejected(reason="bad_jwks")
        keys.append(SigningKey(jwk_thumbprint(public), None, public, EPOCH, None))
    if not keys:
        raise BundleRejected(reason="bad_jwks")
    return Keyring(keys)


def apply_bundle(
    state: OfflineState | None, bundle: str, *, trust: object | None = None, now: datetime
) -> OfflineState:
    """The state after ``bundle``; the bundle must be signed by a key of the JWKS ``trust``
    when given (a first sync, or setting a scanner up again after it missed a key rotation),
    else of ``state.jwks``. Raises ``BundleRejected`` with ``reason``: ``untrusted`` (no
    keys to check it with), the signature reasons of ``open_bundle``, ``wrong_issuer``,
    ``out_of_order`` (a delta not made for our cursor, or from a feed whose entry at our
    cursor is not the one we saw: a server restored from a backup, then changed) or
    ``older`` (a bundle made before the data in hand: a replayed old copy, full or delta)."""
    keys = trust if trust is not None else (None if state is None else state.jwks)
    if keys is None:
        raise BundleRejected(reason="untrusted")
    payload = open_bundle(bundle, keyring_from_jwks(keys), now)
    try:
        return _applied(state, payload, now)
    except (KeyError, TypeError, ValueError, IndexError):
        raise BundleRejected(reason="malformed") from None


def _applied(state: OfflineState | None, payload: dict[str, Any], now: datetime) -> OfflineState:
    if state is not None and payload["iss"] != state.issuer:
        raise BundleRejected(reason="wrong_issuer")
    stamp = int(now.timestamp())
    if payload["full"]:
        # Made before the data in hand (by iat; within the same second, by cursor). A full
        # bundle made later is the server's state then, even with a lower cursor: the feed
        # of a restored database (409 feed_cursor_ahead, then a full sync).
        if state is not None and (payload["iat"], payload["cursor"]) < (
            state.data_at,
            state.cursor,
        ):
            raise BundleRejected(reason="older")
        numbers: dict[str, list[Any]] = {}
        tokens: dict[str, list[Any]] = {}
    else:
        if state is None or payload["since"] != state.cursor:
            raise BundleRejected(reason="out_of_order")
        if state.cursor_entry is not None and payload.get("since_entry") != state.cursor_entry:
            raise BundleRejected(reason="out_of_order")  # the feed went another way: restored
        if payload["iat"] < state.data_at:  # an old empty delta would set the age back
            raise BundleRejected(reason="older")
        numbers, tokens = dict(state.numbers), dict(state.tokens)
    for number, number_state, reason in payload["numbers"]:
        if number_state == "active":
            numbers.pop(str(number), None)
        else:
            numbers[str(number)] = [str(number_state), reason]
    for jti, reason, until in payload["tokens"]:
        tokens[str(jti)] = [reason, until]
    tokens = {jti: v for jti, v in tokens.items() if v[1] is None or int(v[1]) >= stamp}
    keyring_from_jwks(payload["jwks"])  # a bundle must never leave us with no usable key
    return OfflineState(
        issuer=str(payload["iss"]),
        audience=str(payload["aud"]),
        jwks=payload["jwks"],
        number_format=dict(payload["number_format"]),
        device_proof=str(payload.get("device_proof", "optional")),
        cursor=int(payload["cursor"]),
        cursor_entry=payload.get("cursor_entry"),
        data_at=int(payload["iat"]),
        timezone=str(payload.get("timezone") or "Asia/Tokyo"),
        numbers=numbers,
        tokens=tokens,
    )


class OfflineDataUnreadable(InvalidInput):
    """The scanner's saved data cannot be read (a damaged or foreign file): remove it and set
    the scanner up again with a full sync."""

    code = "offline_data_unreadable"


def _unreadable(path: Path, error: Exception, then: str) -> OfflineDataUnreadable:
    return OfflineDataUnreadable(
        f"{path} cannot be read ({str(error)[:120]}): remove it and {then}", file=str(path)
    )


def load_state(directory: Path) -> OfflineState | None:
    """The state saved in ``directory``, or None before the first sync;
    ``OfflineDataUnreadable`` (with ``file``) if the file is not a saved state."""
    path = directory / STATE_FILE
    if not path.exists():
        return None
    try:
        return msgspec.json.decode(path.read_bytes(), type=OfflineState)
    except (OSError, msgspec.DecodeError) as error:  # ValidationError is a DecodeError
        raise _unreadable(path, error, "set the scanner up again") from None


def save_state(directory: Path, state: OfflineState) -> None:
    """Write the state atomically (a temporary file renamed over the old one)."""
    directory.mkdir(parents=True, exist_ok=True)
    temporary = directory / f"{STATE_FILE}.tmp"
    temporary.write_bytes(msgspec.json.encode(state))
    os.replace(temporary, directory / STATE_FILE)


class OfflineVerdict(msgspec.Struct, frozen=True, kw_only=True):
    """A verdict as the online API gives it, plus the age of the data it rests on."""

    status: str
    reason: str | None
    user_number: str | None
    expires_on: date | None
    data_age_seconds: int
    data_as_of: datetime
    stale: bool


class OfflineVerifier:
    """Judges scans against an :class:`OfflineState`; no network, no database.

    Statuses as the online API: ``valid``, ``expired``, ``revoked``, ``suspended``,
    ``invalid``. Offline, a bare barcode that is well formed and not listed is ``valid``
    with reason ``number_not_listed``: a barcode carries no signature or date, so the
    scanner cannot know more (the token and the rotating code can: they carry ``exp``).
    """

    def __init__(
        self,
        state: OfflineState,
        *,
        max_age_seconds: int = 86_400,
        replay: ReplayGuard | None = None,
        leeway_steps: int = 1,
    ) -> None:
        self._state = state
        self._max_age = max_age_seconds
        self.replay = replay or ReplayGuard()
        self._leeway_steps = leeway_steps
        keyring = keyring_from_jwks(state.jwks)
        self._tokens = CardTokenVerifier(keyring, issuer=state.issuer, audience=state.audience)
        nf = state.number_format
        self._format = NumberFormat(
            prefix=nf["prefix"],
            length=nf["length"],
            scheme=CheckScheme(nf["scheme"]),
            start=nf["start"],
            stop=nf["stop"],
        )

    def verify(self, scanned: str, *, now: datetime | None = None) -> OfflineVerdict:
        """The verdict on a scanned barcode, card token or rotating code."""
        now = now or datetime.now(UTC)
        if is_rotating_code(scanned):
            return self._by_rotating_code(scanned, now)
        if "." in scanned:
            try:
                claims_only = self._tokens.verify(scanned, now=now)
            except TokenRejected as error:
                return self._token_rejected(error, now)
            # A bound token (cnf) without its proof is the changing code with its suffix
            # cut off: a screenshot's, so refused whatever the profile.
            if self._state.device_proof == "required" or claims_only.device_jwk is not None:
                number = claims_only.user_number
                return self._verdict("invalid", "device_proof_required", number, None, now)
            return self._by_claims(claims_only, now)
        return self._by_barcode(scanned, now)

    def _by_rotating_code(self, scanned: str, now: datetime) -> OfflineVerdict:
        try:
            claims = verify_rotating_code(
                scanned, self._tokens, now=now, leeway_steps=self._leeway_steps, replay=self.replay
            )
        except TokenRejected as error:
            return self._token_rejected(error, now)
        except DeviceProofRejected as error:
            return self._verdict("invalid", error.code, None, None, now)
        return self._by_claims(claims.claims, now)

    def _by_barcode(self, scanned: str, now: datetime) -> OfflineVerdict:
        try:
            number = normalise(self._format, scanned)
        except InvalidNumber as error:
            return self._verdict("invalid", error.code, None, None, now)
        listed = self._state.numbers.get(number)
        if listed is not None:
            return self._verdict(listed[0], listed[1], number, None, now)
        return self._verdict("valid", "number_not_listed", number, None, now)

    def _by_claims(self, claims: CardClaims, now: datetime) -> OfflineVerdict:
        from zoneinfo import ZoneInfo  # noqa: PLC0415

        number = claims.user_number
        # exp is the next local midnight after the last valid day (calendar.end_of_day).
        last_instant = claims.expires_at - timedelta(seconds=1)
        expires_on = last_instant.astimezone(ZoneInfo(self._state.timezone)).date()
        listed = self._state.numbers.get(number)
        if listed is not None:
            return self._verdict(listed[0], listed[1], number, expires_on, now)
        if claims.jti in self._state.tokens:
            return self._verdict("revoked", "token_revoked", number, expires_on, now)
        return self._verdict("valid", None, number, expires_on, now)

    def _token_rejected(self, error: TokenRejected, now: datetime) -> OfflineVerdict:
        status = "expired" if error.code == "token_expired" else "invalid"
        return self._verdict(status, error.code, None, None, now)

    def _verdict(
        self,
        status: str,
        reason: str | None,
        number: str | None,
        expires_on: date | None,
        now: datetime,
    ) -> OfflineVerdict:
        age = max(0, int(now.timestamp()) - self._state.data_at)
        return OfflineVerdict(
            status=status,
            reason=reason,
            user_number=number,
            expires_on=expires_on,
            data_age_seconds=age,
            data_as_of=datetime.fromtimestamp(self._state.data_at, UTC),
            stale=age > self._max_age,
        )


def load_seen(directory: Path) -> ReplayGuard:
    """The replay guard saved beside the state (rotating codes accepted lately)."""
    guard = ReplayGuard()
    path = directory / SEEN_FILE
    if path.exists():
        try:
            for jti, step in json.loads(path.read_bytes()):
                guard.first_use(str(jti), int(step))
        except (OSError, ValueError, TypeError) as error:  # JSONDecodeError is a ValueError
            raise _unreadable(path, error, "scan again") from None
    return guard


def save_seen(directory: Path, guard: ReplayGuard, *, keep_after_step: int) -> None:
    """Keep only the pairs whose step could still be accepted."""
    pairs = [[jti, step] for jti, step in guard.pairs() if step >= keep_after_step]
    (directory / SEEN_FILE).write_text(json.dumps(pairs))
