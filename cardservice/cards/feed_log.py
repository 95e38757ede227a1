"""The revocation feed's log: every change an offline scanner must learn, in commit order.

One row per change of a user number's state (revoked, suspended, active again) or per
revoked card token, with a sequence number ``seq`` that is the feed's cursor. The rows are
written by a ``before_flush`` listener in the same transaction as the change, whatever
code made it (``cards.service``, ``cards.lifecycle``, the card desk, the patron import):

- a new or changed :class:`Card` whose ``status`` or ``status_reason`` changed gives a
  ``number`` entry with the card's new state (``active`` entries tell a scanner to forget a
  suspension: a reinstatement reaches scanners by delta);
- a new :class:`TokenRevocation` gives a ``token`` entry (``until``: the token's own expiry,
  after which a scanner may forget it);
- a new ``reissued`` :class:`CardEvent` gives a ``number`` entry ``revoked``/``reissued``,
  since the reissue revokes the old card with a guarded UPDATE that no ORM event sees.

Why the sequence comes from a locked counter row (``number_sequences``, name
``FEED_SEQUENCE``) and not from an autoincrement: ids of an autoincrement are handed out in
start order but become visible in commit order, so a scanner that read id 11 before id 10
committed would skip 10 forever. ``UPDATE ... SET next_serial = next_serial + n RETURNING``
holds the row lock until commit (PostgreSQL; SQLite has one writer anyway), so the feed's
seqs become visible in order. Revocations are staff-paced, so the serialisation costs
nothing measurable.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

from sqlalchemy import BigInteger, String, event, insert, inspect, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from cardservice.cards.models import (
    Card,
    CardEvent,
    CardEventKind,
    CardStatus,
    NumberSequence,
    RevocationReason,
    TokenRevocation,
)
from cardservice.db.base import Base, utcnow

FEED_SEQUENCE: Final = "revocation_feed"


class EntryKind(StrEnum):
    NUMBER = "number"
    TOKEN = "token"  # noqa: S105  # an entry kind, not a secret


class FeedEntry(Base):
    """One change for offline scanners; ``seq`` only grows and is the sync cursor."""

    __tablename__ = "revocation_feed"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(8))
    # A user number (kind number) or a token's jti (kind token).
    subject: Mapped[str] = mapped_column(String(43))
    # active, suspended or revoked (CardStatus values).
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(32), default=None)
    # A token entry may be forgotten after this instant (the token has expired anyway).
    until: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def _changed(card: Card) -> bool:
    state = inspect(card)
    return bool(
        state.attrs.status.history.has_changes() or state.attrs.status_reason.history.has_changes()
    )


def pending_entries(session: Session) -> list[dict[str, Any]]:
    """The feed rows the session's pending changes call for, one per subject (last wins)."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for obj in [*session.new, *session.dirty]:
        if isinstance(obj, Card) and (obj in session.new or _changed(obj)):
            if obj in session.new and obj.status in (None, CardStatus.ACTIVE):
                continue  # a new active card: nothing to tell scanners
            found[(EntryKind.NUMBER, obj.user_number)] = {
                "kind": EntryKind.NUMBER,
                "subject": obj.user_number,
                "state": str(obj.status or CardStatus.ACTIVE),
                "reason": obj.status_reason if obj.status != CardStatus.ACTIVE else None,
                "until": None,
            }
        elif isinstance(obj, TokenRevocation) and obj in session.new:
            found[(EntryKind.TOKEN, obj.jti)] = {
                "kind": EntryKind.TOKEN,
                "subject": obj.jti,
                "state": CardStatus.REVOKED.value,
                "reason": obj.reason,
                "until": obj.token_expires_at,
            }
        elif (
            isinstance(obj, CardEvent) and obj in session.new and obj.kind == CardEventKind.REISSUED
        ):
            found[(EntryKind.NUMBER, obj.user_number)] = {
                "kind": EntryKind.NUMBER,
                "subject": obj.user_number,
                "state": CardStatus.REVOKED.value,
                "reason": RevocationReason.REISSUED.value,
                "until": None,
            }
    return list(found.values())


def _take_seqs(session: Session, count: int) -> int:
    """The first of ``count`` new seqs, holding the feed's counter row until commit."""
    connection = session.connection()
    taken = connection.execute(
        update(NumberSequence)
        .where(NumberSequence.name == FEED_SEQUENCE)
        .values(next_serial=NumberSequence.next_serial + count)
        .returning(NumberSequence.next_serial)
    ).scalar_one_or_none()
    if taken is None:
        dialect_insert = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
        connection.execute(
            dialect_insert(NumberSequence)
            .values(name=FEED_SEQUENCE, next_serial=1)
            .on_conflict_do_nothing(index_elements=["name"])
        )
        return _take_seqs(session, count)
    return int(taken) - count


@event.listens_for(Session, "before_flush")
def _log_feed_entries(session: Session, _context: object, _instances: object) -> None:
    entries = pending_entries(session)
    if not entries:
        return
    first = _take_seqs(session, len(entries))
    now = datetime.now(UTC)
    rows = [{**entry, "seq": first + i, "created_at": now} for i, entry in enumerate(entries)]
    session.connection().execute(insert(FeedEntry), rows)
