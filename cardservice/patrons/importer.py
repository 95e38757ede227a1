"""Loading the library system's (ILS) patron export: plastic-card holders become patrons here.

The export is a CSV file whose column names, encoding, date format and status values are the
profile's ``[import]`` section (``profiles.schema.ImportSection``; kashiwa.toml maps the
Japanese headers). Each row is one patron with one card:

- the user number is taken as it is (after scanner-style normalisation) and must carry a valid
  check digit in the profile's number format; it is **never** changed or reallocated;
- names, kana (hiragana and half-width folded to katakana), birth date and expiry are
  required; email, phone, postal code, prefecture, address and status are optional (status
  defaults to active);
- an imported patron has ``source = ils`` and no password: they set one through the
  forgotten-password flow, then see the same number as a digital card. The plastic card keeps
  working, since the number does not change.

The import is idempotent by user number: a number already imported is compared, and updated
only where the export differs (a second run of the same file changes nothing and says so).
Rules for a number that is already here:

- it belongs to a patron registered here (online or by staff): refused, never taken over;
- its card was revoked here (a reissue at the desk or online): refused while the export
  still lists it as valid; the library system learns the new number from the card events;
- an expiry date is only ever moved later (a renewal here is newer than the export);
- a suspension made here is not lifted by the export; the export's own suspension (reason
  ``ils``) is.

Imported numbers are never allocated again: each batch raises the number sequence past its
highest serial in the same transaction (``cards.allocation.reserve_through``).

Speed: rows are validated one by one, then written in batches of ``BATCH_SIZE`` rows, one
transaction per batch, with one read of the batch's numbers that are already here and bulk
inserts for new patrons, cards and card events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Final, cast

from sqlalchemy import Table, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from cardservice.calendar import local_today
from cardservice.cards import lifecycle
from cardservice.cards.allocation import reserve_through, serial_of
from cardservice.cards.models import Card, CardEvent, CardEventKind, CardStatus, RevocationReason
from cardservice.cards.service import CardPolicy, new_jti, revoke_card
from cardservice.db.base import Base
from cardservice.db.engine import Database
from cardservice.patrons.import_rows import (
    PATRON_FIELDS,
    ImportFileInvalid,
    PatronRow,
    Refusal,
    RowParser,
    RowRefused,
    numbers_in_file,
    read_header,
    records,
)
from cardservice.patrons.models import Patron, PatronSource
from cardservice.profiles.schema import ImportSection
from cardservice.staff import audit

__all__ = ["ImportFileInvalid", "ImportReport", "Outcome", "import_patrons"]

BATCH_SIZE: Final = 1000
# The card status reason of a card the library system lists as suspended.
ILS_SUSPENSION: Final = "ils"


class Outcome(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    REFUSED = "refused"


@dataclass(slots=True)
class ImportReport:
    dry_run: bool
    counts: dict[Outcome, int] = field(default_factory=lambda: dict.fromkeys(Outcome, 0))
    refusals: list[Refusal] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.counts[Outcome.CREATED] or self.counts[Outcome.UPDATED])

    def refuse(self, refusal: Refusal) -> None:
        self.counts[Outcome.REFUSED] += 1
        self.refusals.append(refusal)

    def summary(self) -> str:
        """``created 3, updated 0, unchanged 0, refused 7``, and what that means."""
        counts = ", ".join(f"{outcome} {self.counts[outcome]}" for outcome in Outcome)
        if self.dry_run:
            return f"dry run, nothing written: {counts}"
        return counts if self.changed else f"{counts}; nothing changed"


# ------------------------------------------------------------------------------ writing


@dataclass(frozen=True, slots=True)
class _Existing:
    card_id: int
    patron_id: int
    source: str
    status: str
    status_reason: str | None
    expires_on: date
    patron: dict[str, Any]


class Importer:
    """One run over one file: validates rows and writes them batch by batch."""

    def __init__(
        self, db: Database, section: ImportSection, policy: CardPolicy, *, dry_run: bool
    ) -> None:
        self.db = db
        self.section = section
        self.policy = policy
        self.report = ImportReport(dry_run=dry_run)
        self.now = datetime.now(UTC)

    async def run(self, path: Path) -> ImportReport:
        fmt = self.policy.number_format
        positions = read_header(path, self.section)
        lines = numbers_in_file(path, self.section, fmt, positions)
        duplicates = {number for number, on in lines.items() if len(on) > 1}
        parser = RowParser(
            self.section, fmt, positions, today=local_today(self.policy.timezone, self.now)
        )
        batch: list[PatronRow] = []
        for line, cells in records(path, self.section):
            try:
                row = parser.parse(line, cells)
            except RowRefused as refused:
                self.report.refuse(Refusal(line, refused.code, refused.field))
                continue
            if row.user_number in duplicates:
                where = ", ".join(str(n) for n in lines[row.user_number])
                self.report.refuse(Refusal(line, "number_duplicate", f"lines {where}"))
                continue
            batch.append(row)
            if len(batch) >= BATCH_SIZE:
                await self._write(batch)
                batch = []
        if batch:
            await self._write(batch)
        self.report.refusals.sort(key=lambda refusal: refusal.line)
        if not self.report.dry_run:
            await self._audit(path)
        return self.report

    async def _write(self, rows: list[PatronRow]) -> None:
        async with self.db.transaction() as session:
            existing = await self._existing(session, [row.user_number for row in rows])
            creates: list[PatronRow] = []
            for row in rows:
                found = existing.get(row.user_number)
                if found is None:
                    creates.append(row)
                    continue
                outcome = await self._update(session, found, row)
                if outcome is not Outcome.REFUSED:  # a refusal counted itself
                    self.report.counts[outcome] += 1
            self.report.counts[Outcome.CREATED] += len(creates)
            if self.report.dry_run:  # nothing was written: the batch only read
                return
            if creates:
                await self._create(session, creates)
            highest = max(serial_of(self.policy.number_format, row.user_number) for row in rows)
            await reserve_through(session, self.policy.number_format, highest)

    async def _existing(self, session: AsyncSession, numbers: list[str]) -> dict[str, _Existing]:
        """The cards of this batch that are already here, with their patrons' columns."""
        columns = [getattr(Patron, name) for name in PATRON_FIELDS]
        result = await session.execute(
            select(
                Card.user_number,
                Card.id,
                Card.patron_id,
                Patron.source,
                Card.status,
                Card.status_reason,
                Card.expires_on,
                *columns,
            )
            .join(Patron, Patron.id == Card.patron_id)
            .where(Card.user_number.in_(numbers))
        )
        found = {}
        for number, card_id, patron_id, source, status, reason, expires_on, *values in result:
            found[number] = _Existing(
                card_id=card_id,
                patron_id=patron_id,
                source=source,
                status=status,
                status_reason=reason,
                expires_on=expires_on,
                patron=dict(zip(PATRON_FIELDS, values, strict=True)),
            )
        return found

    async def _update(self, session: AsyncSession, found: _Existing, row: PatronRow) -> Outcome:
        """Compare one row with what is here; write what differs (unless a dry run)."""
        if found.source != PatronSource.ILS:
            self.report.refuse(Refusal(row.line, "number_in_use", row.user_number))
            return Outcome.REFUSED
        if found.status == CardStatus.REVOKED and row.status != CardStatus.REVOKED:
            self.report.refuse(Refusal(row.line, "card_revoked_here", row.user_number))
            return Outcome.REFUSED
        changed_fields = {
            name: value for name, value in row.patron.items() if found.patron[name] != value
        }
        expires_on = row.expires_on if row.expires_on > found.expires_on else None
        status = _status_change(found, row.status)
        if not changed_fields and expires_on is None and status is None:
            return Outcome.UNCHANGED
        if self.report.dry_run:
            return Outcome.UPDATED
        if changed_fields:
            await session.execute(
                update(Patron)
                .where(Patron.id == found.patron_id)
                .values(**changed_fields, updated_at=self.now)
            )
        card = await session.get(Card, found.card_id)
        if card is None:  # read in this same transaction
            raise RuntimeError("card vanished during the import")
        if expires_on is not None:
            card.expires_on = expires_on
        await self._apply_status(session, card, status)
        await lifecycle.record_event(
            session,
            CardEventKind.IMPORTED,
            card,
            detail={
                "source": "ils",
                "changed": sorted([*changed_fields, *_card_changes(expires_on, status)]),
            },
            now=self.now,
        )
        return Outcome.UPDATED

    async def _apply_status(
        self, session: AsyncSession, card: Card, status: CardStatus | None
    ) -> None:
        if status is CardStatus.REVOKED:
            await revoke_card(session, card, RevocationReason.WITHDRAWN, self.policy, now=self.now)
            await lifecycle.record_event(
                session, CardEventKind.REVOKED, card, detail={"reason": "withdrawn"}, now=self.now
            )
        elif status is CardStatus.SUSPENDED:
            await lifecycle.suspend_card(session, card, ILS_SUSPENSION, now=self.now)
        elif status is CardStatus.ACTIVE:
            await lifecycle.reinstate_card(session, card, now=self.now)

    async def _create(self, session: AsyncSession, rows: list[PatronRow]) -> None:
        """Bulk inserts of the patrons, their cards and the card events: three statements
        per batch (Core ``executemany``; every row carries the same keys, so the driver gets
        one batch each)."""
        patron_ids = await _new_patron_ids(session, len(rows))
        now = self.now
        await session.execute(
            insert(_table(Patron)),
            [
                {
                    **row.patron,
                    "id": patron_id,
                    "eligibility_basis": "lives",
                    "workplace_or_school": "",
                    "language": "ja",
                    "password_hash": None,
                    "notifications": {},
                    "source": PatronSource.ILS.value,
                    "created_at": now,
                    "updated_at": now,
                }
                for patron_id, row in zip(patron_ids, rows, strict=True)
            ],
        )
        await session.execute(
            insert(_table(Card)),
            [
                {
                    "patron_id": patron_id,
                    "user_number": row.user_number,
                    "status": row.status.value,
                    "status_reason": _new_reason(row.status),
                    "issued_at": now,
                    "expires_on": row.expires_on,
                    "token_jti": new_jti(),
                    "revoked_at": now if row.status == CardStatus.REVOKED else None,
                    "replaced_by_id": None,
                    "last_used_on": None,
                    "updated_at": now,
                }
                for patron_id, row in zip(patron_ids, rows, strict=True)
            ],
        )
        await session.execute(
            insert(_table(CardEvent)),
            [
                {
                    "kind": CardEventKind.IMPORTED.value,
                    "patron_id": patron_id,
                    "user_number": row.user_number,
                    "new_user_number": None,
                    "detail": {"source": "ils", "status": row.status.value},
                    "created_at": now,
                    "delivered_at": None,
                }
                for patron_id, row in zip(patron_ids, rows, strict=True)
            ],
        )

    async def _audit(self, path: Path) -> None:
        async with self.db.transaction() as session:
            await audit.record(
                session,
                staff_id=None,
                action="patron.import",
                target_type="import",
                target_id=path.name[:64],
                detail={str(outcome): count for outcome, count in self.report.counts.items()},
            )


_PG_PATRON_IDS = (
    "SELECT nextval(pg_get_serial_sequence('patrons', 'id')) FROM generate_series(1, :n)"
)


def _table(model: type[Base]) -> Table:
    """A model's table, for Core bulk inserts (plain ``executemany``, no ORM bookkeeping)."""
    return cast("Table", model.__table__)


_PG_PATRON_IDS = (
    "SELECT nextval(pg_get_serial_sequence('patrons', 'id')) FROM generate_series(1, :n)"
)


async def _new_patron_ids(session: AsyncSession, count: int) -> list[int]:
    """Ids for ``count`` new patrons, so their cards can be inserted in bulk beside them
    (an ``INSERT ... RETURNING`` that keeps the rows' order runs row by row on SQLite).
    PostgreSQL hands them out from the table's own sequence; on SQLite this transaction
    holds the database's write lock (``BEGIN IMMEDIATE``), so nobody else inserts until it
    commits and the next ids after the highest are free."""
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        ids = await session.scalars(
            text(_PG_PATRON_IDS),
            {"n": count},
        )
        return list(ids)
    top = await session.scalar(select(func.max(Patron.id))) or 0
    return list(range(top + 1, top + count + 1))


def _new_reason(status: CardStatus) -> str | None:
    if status == CardStatus.REVOKED:
        return str(RevocationReason.WITHDRAWN)
    return ILS_SUSPENSION if status == CardStatus.SUSPENDED else None


def _status_change(found: _Existing, wanted: CardStatus) -> CardStatus | None:
    """The status the export changes the card to, or None when it stays as it is."""
    if found.status in {wanted, CardStatus.REVOKED}:
        return None
    if wanted == CardStatus.ACTIVE:
        # Lift only the export's own suspension; one made here stays.
        return CardStatus.ACTIVE if found.status_reason == ILS_SUSPENSION else None
    return wanted


def _card_changes(expires_on: date | None, status: CardStatus | None) -> list[str]:
    return [name for name, value in (("expires_on", expires_on), ("status", status)) if value]


async def import_patrons(
    db: Database,
    path: Path,
    section: ImportSection,
    policy: CardPolicy,
    *,
    dry_run: bool = False,
) -> ImportReport:
    """Import ``path``; see the module's docstring. Raises ``ImportFileInvalid`` (nothing is
    written) when the file cannot be read or lacks a required column."""
    return await Importer(db, section, policy, dry_run=dry_run).run(path)
