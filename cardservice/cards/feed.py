"""The offline bundle: the JWKS and the revocation feed, signed so a copy is trusted anywhere.

Format (also in the README, "Offline verification"): a compact JWS (RFC 7515) signed with
the card-signing Ed25519 key in use (``cards.keys``), header exactly
``{"alg": "EdDSA", "typ": "revocation-feed+jws", "kid": ...}`` (so it can never pass as a
card token, whose ``typ`` is ``card+jwt``), over the JSON payload:

``iss``, ``aud``
    the card tokens' issuer and audience, which the scanner checks tokens against;
``iat``
    when the server made the bundle (seconds since the epoch): the age of the data;
``since``, ``cursor``, ``full``
    a full bundle (``since`` null, ``full`` true) holds the current state; a delta holds
    every subject changed after seq ``since``. The next sync asks ``since=cursor``;
``since_entry``, ``cursor_entry``
    ``[kind, subject, state]`` of the entries at seq ``since`` and ``cursor`` (null at 0):
    a scanner takes a delta only if its ``since_entry`` is the ``cursor_entry`` it kept, so
    a feed that went another way after a restore from backup is noticed;
``jwks``
    the published keys (a scanner that trusts the signing key learns rotated keys here);
``number_format``, ``timezone``
    prefix, length, check scheme, Codabar start/stop, to normalise a scanned barcode; the
    library's time zone, in which a token's ``exp`` is the card's expiry date;
``device_proof``
    ``required`` or ``optional``: whether counters accept a card token without a rotating
    device proof (``cards.device_proof``; the profile's ``card.counter_requires_rotating_code``);
``numbers``
    ``[user_number, state, reason]``: state ``revoked``, ``suspended`` or (deltas only)
    ``active``, which lifts an earlier entry (a reinstatement);
``tokens``
    ``[jti, reason, until]``: a revoked card token; ``until`` (epoch seconds) is its expiry,
    after which it may be forgotten. A full bundle leaves out tokens past ``until``.

Expiry is not in the feed: a card token carries its own ``exp`` (the card's expiry), and a
renewal revokes the old token (reason ``renewed``). A bare barcode carries no date, so an
offline scanner can only say it is not listed (see ``cards.offline``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cardservice.cards.bundle import BundleRejected, open_bundle, sign_bundle
from cardservice.cards.feed_log import EntryKind, FeedEntry
from cardservice.cards.keys import Keyring
from cardservice.cards.service import CardPolicy
from cardservice.errors import Conflict, InvalidInput

__all__ = [
    "BundleRejected",
    "FeedContext",
    "FeedCursorAhead",
    "FeedCursorInvalid",
    "feed_payload",
    "open_bundle",
    "parse_cursor",
    "sign_bundle",
]

# A cursor is a seq: a non-negative decimal integer that fits a BIGINT.
# A cursor as the feed hands it out: a seq in decimal, at most 18 digits (fits int64).
CURSOR_PATTERN: Final = r"0|[1-9][0-9]{0,17}"
_CURSOR: Final = re.compile(CURSOR_PATTERN)


class FeedCursorInvalid(InvalidInput):
    """The cursor ("since") is not a sync cursor: give the "cursor" of your last bundle."""

    code = "feed_cursor_invalid"


class FeedCursorAhead(Conflict):
    """The cursor ("since") is ahead of this feed: it came from another server or a restored
    database. Sync again without "since" (a full bundle)."""

    code = "feed_cursor_ahead"


def parse_cursor(value: str | None) -> int | None:
    """``None`` for no cursor (a full sync), else the seq; ``FeedCursorInvalid`` otherwise."""
    if value is None:
        return None
    if not _CURSOR.fullmatch(value):
        raise FeedCursorInvalid(since=value[:40])
    return int(value)


@dataclass(frozen=True, slots=True)
class FeedContext:
    """What every bundle carries beside the entries."""

    issuer: str
    audience: str
    policy: CardPolicy
    device_proof_required: bool = False

    def number_format(self) -> dict[str, Any]:
        fmt = self.policy.number_format
        return {
            "prefix": fmt.prefix,
            "length": fmt.length,
            "scheme": str(fmt.scheme),
            "start": fmt.start,
            "stop": fmt.stop,
        }


def _epoch(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp())


async def _entry_at(session: AsyncSession, seq: int) -> list[str] | None:
    """``[kind, subject, state]`` of the entry at ``seq``: what a scanner whose cursor is
    ``seq`` saw last, so a delta from a feed that has since gone another way (a database
    restored from a backup, then changed: its seqs handed out again) is not taken."""
    row = (
        await session.execute(
            select(FeedEntry.kind, FeedEntry.subject, FeedEntry.state).where(FeedEntry.seq == seq)
        )
    ).first()
    return None if row is None else [str(row[0]), row[1], row[2]]


async def feed_payload(
    session: AsyncSession,
    context: FeedContext,
    keyring: Keyring,
    *,
    since: int | None,
    now: datetime,
) -> dict[str, Any]:
    """The payload of a full bundle (``since`` None) or of the delta after ``since``.

    One SELECT reads the entries, and the cursor is the highest seq among them, so a change
    committed meanwhile is never skipped (it comes with the next delta). Raises
    ``FeedCursorAhead`` for a ``since`` above every seq the feed has handed out.
    """
    query = select(
        FeedEntry.seq,
        FeedEntry.kind,
        FeedEntry.subject,
        FeedEntry.state,
        FeedEntry.reason,
        FeedEntry.until,
    ).order_by(FeedEntry.seq)
    if since is not None:
        head = await session.scalar(select(func.max(FeedEntry.seq)))
        if since > (head or 0):
            raise FeedCursorAhead(since=since)
        query = query.where(FeedEntry.seq > since)
    numbers: dict[str, list[Any]] = {}
    tokens: dict[str, list[Any]] = {}
    cursor = since or 0
    since_entry = await _entry_at(session, since) if since else None
    cursor_entry = since_entry
    for seq, kind, subject, state, reason, until in (await session.execute(query)).all():
        cursor, cursor_entry = seq, [str(kind), subject, state]
        if kind == EntryKind.NUMBER:
            numbers[subject] = [subject, state, reason]
        else:
            tokens[subject] = [subject, reason, _epoch(until)]
    stamp = int(now.timestamp())
    if since is None:  # the current state only: nothing lifted, nothing expired
        number_rows = [row for row in numbers.values() if row[1] != "active"]
        token_rows = [row for row in tokens.values() if row[2] is None or row[2] >= stamp]
    else:
        number_rows, token_rows = list(numbers.values()), list(tokens.values())
    return {
        "iss": context.issuer,
        "aud": context.audience,
        "iat": stamp,
        "since": since,
        "cursor": cursor,
        "full": since is None,
        "since_entry": since_entry,
        "cursor_entry": cursor_entry,
        "jwks": keyring.jwks(now),
        "number_format": context.number_format(),
        "timezone": context.policy.timezone.key,
        "device_proof": "required" if context.device_proof_required else "optional",
        "numbers": number_rows,
        "tokens": token_rows,
    }
