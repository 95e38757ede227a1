"""Counter verification: a scanned barcode or a card token in, a verdict out.

This is the hot path of the counter API. It reads through ``db.fastread`` (an indexed point
read per scan; the scans in flight at once share one statement) and verifies tokens with keys
loaded once. A revoked number always answers
"revoked" with its reason, never "unknown".

A ``valid`` verdict also notes the card's last use (``Card.last_used_on``, the library date
that renewal's dormancy rule counts from; nothing about what was borrowed). The verdict never
waits for that write: see :class:`LastUseRecorder`.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Final

import msgspec
from sqlalchemy import or_, update

from cardservice.calendar import local_today
from cardservice.cards.device_proof import (
    DeviceProofRejected,
    ReplayGuard,
    is_rotating_code,
    verify_rotating_code,
)
from cardservice.cards.models import Card, CardStatus
from cardservice.cards.numbers import InvalidNumber, normalise
from cardservice.cards.service import CardPolicy
from cardservice.cards.tokens import CardClaims, CardTokenVerifier, TokenRejected
from cardservice.db.engine import Database
from cardservice.db.fastread import FastReader, Lookup

log = logging.getLogger(__name__)

# Numbers per UPDATE: well under every engine's limit on bound parameters.
_LAST_USE_CHUNK: Final = 500


class Status(StrEnum):
    VALID = "valid"
    EXPIRED = "expired"
    REVOKED = "revoked"
    SUSPENDED = "suspended"
    UNKNOWN = "unknown"
    INVALID = "invalid"  # not a well-formed number or token: misread, or forged


class Verdict(msgspec.Struct, frozen=True, omit_defaults=False):
    status: Status
    reason: str | None = None
    user_number: str | None = None
    expires_on: date | None = None


# The point reads, and the statements in which concurrent scans share one read of all their
# numbers (see ``db.fastread.Lookup``): the same columns, after the key.
_CARD_BY_NUMBER = Lookup(
    postgresql=(
        "SELECT user_number, status, status_reason, expires_on FROM cards "
        "WHERE user_number = ANY($1::text[])"
    ),
    # CROSS JOIN: SQLite keeps the keys as the outer loop, each a probe of the unique index.
    sqlite=(
        "SELECT k.value, c.status, c.status_reason, c.expires_on "
        "FROM json_each($1) AS k CROSS JOIN cards c ON c.user_number = k.value"
    ),
)
_CARD_AND_JTI_REVOCATION = Lookup(
    postgresql=(
        "SELECT k.user_number, k.jti, c.status, c.status_reason, c.expires_on, "
        "(SELECT r.reason FROM token_revocations r WHERE r.jti = k.jti) "
        "FROM unnest($1::text[], $2::text[]) AS k(user_number, jti) "
        "JOIN cards c ON c.user_number = k.user_number"
    ),
    sqlite=(
        "SELECT k.number, k.jti, c.status, c.status_reason, c.expires_on, "
        "(SELECT r.reason FROM token_revocations r WHERE r.jti = k.jti) "
        "FROM (SELECT json_extract(value, '$[0]') AS number, json_extract(value, '$[1]') AS jti "
        "FROM json_each($1)) AS k CROSS JOIN cards c ON c.user_number = k.number"
    ),
    key_size=2,
)


class LastUseRecorder:
    """Writes ``Card.last_used_on`` after valid scans, off the verdict's path.

    A scan only notes ``(number, day)`` in memory (a set lookup). The first note of a card on
    a day schedules one background flush that writes every waiting number in one conditional
    UPDATE per chunk: ``last_used_on`` only moves forward, so other worker processes writing
    the same card, or a late flush, change nothing. A card scanned all day costs one write in
    the morning. A failed write is logged and forgotten from the set, so a later scan tries
    again; the verdict has long been answered either way.

    Shapes: ``note(number, day)`` is synchronous and never raises; ``drain()`` awaits the
    flush in progress (``Services.close`` and tests).
    """

    def __init__(self, db: Database) -> None:
        self._db = db
        self._day: date | None = None
        self._noted: set[str] = set()  # numbers written (or waiting) for ``_day``
        self._waiting: defaultdict[date, set[str]] = defaultdict(set)
        self._flush: asyncio.Task[None] | None = None

    def note(self, number: str, day: date) -> None:
        if day != self._day:
            self._day, self._noted = day, set()
        if number in self._noted:
            return
        self._noted.add(number)
        self._waiting[day].add(number)
        if self._flush is None or self._flush.done():
            self._flush = asyncio.get_running_loop().create_task(self._write_waiting())

    async def drain(self) -> None:
        while self._flush is not None and not self._flush.done():
            await asyncio.shield(self._flush)

    async def _write_waiting(self) -> None:
        while self._waiting:
            day, numbers = self._waiting.popitem()
            try:
                await self._write(day, sorted(numbers))
            except Exception:
                log.warning("could not record the last use of %d card(s)", len(numbers))
                if day == self._day:
                    self._noted -= numbers

    async def _write(self, day: date, numbers: list[str]) -> None:
        async with self._db.transaction() as session:
            for start in range(0, len(numbers), _LAST_USE_CHUNK):
                await session.execute(
                    update(Card)
                    .where(
                        Card.user_number.in_(numbers[start : start + _LAST_USE_CHUNK]),
                        or_(Card.last_used_on.is_(None), Card.last_used_on < day),
                    )
                    # A use is not a change of the card record: updated_at stays.
                    .values(last_used_on=day, updated_at=Card.updated_at)
                    .execution_options(synchronize_session=False)
                )


class Verifier:
    def __init__(
        self,
        reader: FastReader,
        policy: CardPolicy,
        tokens: CardTokenVerifier,
        *,
        last_use: LastUseRecorder | None = None,
    ) -> None:
        self._reader = reader
        self._policy = policy
        self._tokens = tokens
        self.last_use = last_use
        # Rotating codes accepted by this process (cards.device_proof): a second showing of
        # the same step is refused.
        self.replay = ReplayGuard()

    async def by_barcode(self, scanned: str, *, now: datetime | None = None) -> Verdict:
        try:
            number = normalise(self._policy.number_format, scanned)
        except InvalidNumber as error:
            return Verdict(Status.INVALID, error.code)
        row = await self._reader.lookup(_CARD_BY_NUMBER, number)
        if row is None:
            return Verdict(Status.UNKNOWN, "card_not_found", number)
        return self._judge(number, row[0], row[1], _as_date(row[2]), now)

    async def by_token(self, token: str, *, now: datetime | None = None) -> Verdict:
        """A card token, or a rotating code (``token~step~signature``, cards.device_proof);
        a bare token is ``invalid``/``device_proof_required`` when the profile requires the
        rotating code, and so is a token bound to a phone's key (``cnf``, RFC 7800) shown
        without its proof: the changing code with its suffix cut off."""
        try:
            if is_rotating_code(token):
                claims = verify_rotating_code(token, self._tokens, now=now, replay=self.replay)
                return await self._by_claims(claims.claims, now)
            claims_only = self._tokens.verify(token, now=now)
        except TokenRejected as error:
            return self._rejected(error)
        except DeviceProofRejected as error:
            return Verdict(Status.INVALID, error.code)
        if self._policy.require_device_proof or claims_only.device_jwk is not None:
            return Verdict(Status.INVALID, "device_proof_required", claims_only.user_number)
        return await self._by_claims(claims_only, now)

    async def _by_claims(self, claims: CardClaims, now: datetime | None) -> Verdict:
        row = await self._reader.lookup(_CARD_AND_JTI_REVOCATION, claims.user_number, claims.jti)
        if row is None:
            # A valid signature over a number we never issued: a leaked key or another
            # library's token with our audience; either way, not a card of ours.
            return Verdict(Status.UNKNOWN, "card_not_found", claims.user_number)
        expires_on = _as_date(row[2])
        if row[0] != CardStatus.REVOKED and row[3] is not None:
            return Verdict(Status.REVOKED, "token_revoked", claims.user_number, expires_on)
        return self._judge(claims.user_number, row[0], row[1], expires_on, now)

    def _judge(
        self,
        number: str,
        status: str,
        reason: str | None,
        expires_on: date,
        now: datetime | None,
    ) -> Verdict:
        if status == CardStatus.REVOKED:
            return Verdict(Status.REVOKED, reason, number, expires_on)
        if status == CardStatus.SUSPENDED:
            return Verdict(Status.SUSPENDED, reason, number, expires_on)
        today = local_today(self._policy.timezone, now)
        if expires_on < today:
            return Verdict(Status.EXPIRED, "card_expired", number, expires_on)
        if self.last_use is not None:
            self.last_use.note(number, today)
        return Verdict(Status.VALID, None, number, expires_on)

    @staticmethod
    def _rejected(error: TokenRejected) -> Verdict:
        if error.code == "token_expired":
            return Verdict(Status.EXPIRED, error.code)
        return Verdict(Status.INVALID, error.code)


def _as_date(value: Any) -> date:
    # SQLite hands back the ISO text SQLAlchemy stored; asyncpg hands back a date.
    return value if isinstance(value, date) else date.fromisoformat(value)
