"""Counter verification: a scanned barcode or a card token in, a verdict out.

This is the hot path of the counter API. It reads through ``db.fastread`` (one indexed point
read per scan) and verifies tokens with keys loaded once. A revoked number always answers
"revoked" with its reason, never "unknown".
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

import msgspec

from cardservice.calendar import local_today
from cardservice.cards.models import CardStatus
from cardservice.cards.numbers import InvalidNumber, normalise
from cardservice.cards.service import CardPolicy
from cardservice.cards.tokens import CardTokenVerifier, TokenRejected
from cardservice.db.fastread import FastReader


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


_CARD_BY_NUMBER = "SELECT status, status_reason, expires_on FROM cards WHERE user_number = $1"
_CARD_AND_JTI_REVOCATION = (
    "SELECT c.status, c.status_reason, c.expires_on, "
    "(SELECT r.reason FROM token_revocations r WHERE r.jti = $2) "
    "FROM cards c WHERE c.user_number = $1"
)


class Verifier:
    def __init__(self, reader: FastReader, policy: CardPolicy, tokens: CardTokenVerifier) -> None:
        self._reader = reader
        self._policy = policy
        self._tokens = tokens

    async def by_barcode(self, scanned: str, *, now: datetime | None = None) -> Verdict:
        try:
            number = normalise(self._policy.number_format, scanned)
        except InvalidNumber as error:
            return Verdict(Status.INVALID, error.code)
        row = await self._reader.fetchrow(_CARD_BY_NUMBER, number)
        if row is None:
            return Verdict(Status.UNKNOWN, "card_not_found", number)
        return self._judge(number, row[0], row[1], _as_date(row[2]), now)

    async def by_token(self, token: str, *, now: datetime | None = None) -> Verdict:
        try:
            claims = self._tokens.verify(token, now=now)
        except TokenRejected as error:
            return self._rejected(error)
        row = await self._reader.fetchrow(_CARD_AND_JTI_REVOCATION, claims.user_number, claims.jti)
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
        if expires_on < local_today(self._policy.timezone, now or datetime.now(UTC)):
            return Verdict(Status.EXPIRED, "card_expired", number, expires_on)
        return Verdict(Status.VALID, None, number, expires_on)

    @staticmethod
    def _rejected(error: TokenRejected) -> Verdict:
        if error.code == "token_expired":
            return Verdict(Status.EXPIRED, error.code)
        return Verdict(Status.INVALID, error.code)


def _as_date(value: Any) -> date:
    # SQLite hands back the ISO text SQLAlchemy stored; asyncpg hands back a date.
    return value if isinstance(value, date) else date.fromisoformat(value)
