"""The audit log: who did what to which record, written in the same transaction as the act.

An entry's detail is small structured context (a reason code, an old and new status). It
must never hold images, passwords, tokens or Individual Numbers, so keys that look like
those are refused outright rather than trusted to callers' care.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from cardservice.db.base import utcnow
from cardservice.staff.models import AuditEntry

# The ``actor`` an entry written by a `cardservice` command carries in its detail:
# "cli:" and the operating-system user who ran it (``cli.common.cli_actor``).
CLI_ACTOR_PREFIX = "cli:"
_ACTION = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")
_SECRET_WORDS = (
    "password",
    "passwd",
    "secret",
    "token",
    "image",
    "photo",
    "my_number",
    "mynumber",
    "individual_number",
)
# JSON of a detail stays well under this; a bigger one is a mistake (an image, a dump).
_MAX_DETAIL_CHARS = 4000


async def record(
    session: AsyncSession,
    *,
    staff_id: int | None,
    action: str,
    target_type: str,
    target_id: str | int,
    detail: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Add one entry in the caller's transaction, so it commits or rolls back with the act."""
    if not _ACTION.match(action) or len(action) > 64:
        raise ValueError(f"audit actions look like 'application.approve', not {action!r}")
    clean = dict(detail or {})
    _refuse_secrets(clean)
    if len(json.dumps(clean, ensure_ascii=False)) > _MAX_DETAIL_CHARS:
        raise ValueError("audit detail is too large; record references, not content")
    entry = AuditEntry(
        at=utcnow(),
        staff_id=staff_id,
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        detail=clean,
    )
    session.add(entry)
    await session.flush()
    return entry


def _refuse_secrets(value: object) -> None:
    """Walk nested mappings and lists; a key naming a secret is a programming error."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            name = str(key).lower().replace("-", "_")
            if any(word in name for word in _SECRET_WORDS):
                raise ValueError(f"audit detail must not hold {key!r}")
            _refuse_secrets(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _refuse_secrets(item)


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditFilter:
    """Which entries to show; the defaults show every one."""

    action: str | None = None  # one action code, e.g. "application.approve"
    staff_id: int | None = None  # one staff member's entries
    without_staff: bool = False  # only the entries no staff member made (applicant, system)
    since: datetime | None = None  # UTC instants: since included, until excluded
    until: datetime | None = None


def _where(chosen: AuditFilter | None) -> list[ColumnElement[bool]]:
    if chosen is None:
        return []
    conditions: list[ColumnElement[bool]] = []
    if chosen.action is not None:
        conditions.append(AuditEntry.action == chosen.action)
    if chosen.without_staff:
        conditions.append(AuditEntry.staff_id.is_(None))
    elif chosen.staff_id is not None:
        conditions.append(AuditEntry.staff_id == chosen.staff_id)
    if chosen.since is not None:
        conditions.append(AuditEntry.at >= chosen.since)
    if chosen.until is not None:
        conditions.append(AuditEntry.at < chosen.until)
    return conditions


async def recent(
    session: AsyncSession,
    limit: int = 50,
    *,
    before: int | None = None,
    chosen: AuditFilter | None = None,
) -> list[AuditEntry]:
    """The newest entries first, those ``chosen`` selects (all if None); ``before`` (an
    entry id) pages back through older ones."""
    query = select(AuditEntry).where(*_where(chosen)).order_by(AuditEntry.id.desc()).limit(limit)
    if before is not None:
        query = query.where(AuditEntry.id < before)
    rows = await session.scalars(query)
    return list(rows)


async def for_target(
    session: AsyncSession,
    target_type: str,
    target_id: str | int,
    *,
    chosen: AuditFilter | None = None,
) -> list[AuditEntry]:
    """One record's history, oldest first, the entries ``chosen`` selects (all if None)."""
    rows = await session.scalars(
        select(AuditEntry)
        .where(AuditEntry.target_type == target_type, AuditEntry.target_id == str(target_id))
        .where(*_where(chosen))
        .order_by(AuditEntry.id)
    )
    return list(rows)
