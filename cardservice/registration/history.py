"""Decided applications stay findable: every application (but drafts, unless asked for) by
status, procedure, the day it was submitted or decided, and name, kana, email or reference
number, newest first, a page at a time (issue 7, item 9: "not only in the audit log").

The filter comes from a staff page's query string; :func:`parse_filter` checks it and
reports every bad field at once (:class:`FilterInvalid`), and :func:`search` runs it.
"""

from __future__ import annotations

import contextlib
import re
import unicodedata
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Any, Final
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from cardservice.calendar import start_of_day
from cardservice.errors import InvalidInput
from cardservice.patrons.names import InvalidKana, normalise_kana
from cardservice.registration.form import Procedure
from cardservice.registration.models import Application, ApplicationStatus
from cardservice.text import search_text

PAGE_SIZE: Final = 50
TEXT_MAX: Final = 128
PAGE_MAX: Final = 100_000
# The days a date filter may name: a day at either end of what ``date`` holds has no
# midnight in the library's time zone (0001-01-01 in Tokyo begins before year 1 in UTC).
DAY_MIN: Final = date(1900, 1, 1)
DAY_MAX: Final = date(2999, 12, 31)
# A reference as patrons quote it (R0000042), or its bare number.
_REFERENCE = re.compile(r"^[Rr]?0*([0-9]{1,9})$")


class DateField(StrEnum):
    """Which day the date range applies to."""

    SUBMITTED = "submitted"
    DECIDED = "decided"


class FilterInvalid(InvalidInput):
    """Some search fields are not valid; ``fields`` maps each to its error code."""

    code = "history_filter_invalid"

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__(fields=fields)
        self.fields = fields


@dataclass(frozen=True, slots=True, kw_only=True)
class HistoryFilter:
    status: ApplicationStatus | None = None  # None: every status but draft
    procedure: Procedure | None = None
    date_field: DateField = DateField.SUBMITTED
    date_from: date | None = None  # library dates, both ends included
    date_to: date | None = None
    text: str = ""  # name (kanji or kana), email, or reference number
    decided_by: int | None = None  # the staff member who approved or rejected it
    page: int = 1


@dataclass(frozen=True, slots=True)
class HistoryPage:
    items: list[Application]
    total: int
    page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))


def parse_filter(params: Mapping[str, str], staff_ids: Collection[int] = ()) -> HistoryFilter:
    """A filter from the query string: ``status``, ``procedure``, ``dates`` (submitted or
    decided), ``from`` and ``to`` (YYYY-MM-DD), ``q``, ``staff`` (the id of the staff member
    who decided; one of ``staff_ids``) and ``page``. Empty means any.
    Raises :class:`FilterInvalid` naming every bad field."""
    errors: dict[str, str] = {}

    def pick(name: str, kind: type[StrEnum]) -> Any:
        raw = params.get(name, "").strip()
        if not raw:
            return None
        try:
            return kind(raw)
        except ValueError:
            errors[name] = f"{name}_invalid"
            return None

    status = pick("status", ApplicationStatus)
    procedure = pick("procedure", Procedure)
    date_field = pick("dates", DateField) or DateField.SUBMITTED
    date_from = parse_day(params.get("from", ""), "from", errors)
    date_to = parse_day(params.get("to", ""), "to", errors)
    if date_from and date_to and date_from > date_to:
        errors["to"] = "date_range_invalid"
    text = search_text(params.get("q", ""))
    if len(text) > TEXT_MAX:
        errors["q"] = "too_long"
    decided_by = None
    staff = params.get("staff", "").strip()
    if staff:
        decided_by = next((i for i in staff_ids if str(i) == staff), None)
        if decided_by is None:
            errors["staff"] = "staff_invalid"
    if errors:
        raise FilterInvalid(errors)
    return HistoryFilter(
        status=status,
        procedure=procedure,
        date_field=date_field,
        date_from=date_from,
        date_to=date_to,
        text=text,
        decided_by=decided_by,
        page=_page(params.get("page", "")),
    )


def parse_day(raw: str, field: str, errors: dict[str, str]) -> date | None:
    """A date typed as YYYY-MM-DD (full-width digits too); None if empty. A date that is not
    valid sets ``errors[field] = "date_invalid"``, one outside DAY_MIN..DAY_MAX
    ``"date_out_of_range"``; both give None."""
    text = unicodedata.normalize("NFKC", raw).strip()
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        errors[field] = "date_invalid"
        return None
    if not DAY_MIN <= day <= DAY_MAX:
        errors[field] = "date_out_of_range"
        return None
    return day


def _page(raw: str) -> int:
    """A page number; anything else is the first page."""
    text = raw.strip()
    if text.isascii() and text.isdigit() and 0 < int(text[:7] or 0) <= PAGE_MAX:
        return int(text)
    return 1


async def search(session: AsyncSession, chosen: HistoryFilter, timezone: ZoneInfo) -> HistoryPage:
    """One page of the applications ``chosen`` selects, newest first, and how many in all."""
    conditions = _conditions(chosen, timezone)
    total = await session.scalar(select(func.count()).select_from(Application).where(*conditions))
    query: Select[Application] = (
        select(Application)
        .where(*conditions)
        .order_by(Application.id.desc())
        .offset((chosen.page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    )
    items = list(await session.scalars(query))
    return HistoryPage(items=items, total=int(total or 0), page=chosen.page)


def _conditions(chosen: HistoryFilter, timezone: ZoneInfo) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if chosen.status is None:
        conditions.append(Application.status != ApplicationStatus.DRAFT)
    else:
        conditions.append(Application.status == chosen.status)
    if chosen.procedure is not None:
        conditions.append(Application.procedure == chosen.procedure)
    column = (
        Application.decided_at
        if chosen.date_field is DateField.DECIDED
        else Application.submitted_at
    )
    if chosen.date_from is not None:
        conditions.append(column >= start_of_day(chosen.date_from, timezone))
    if chosen.date_to is not None:
        conditions.append(column < start_of_day(chosen.date_to + timedelta(days=1), timezone))
    if chosen.text:
        conditions.append(_text_condition(chosen.text))
    if chosen.decided_by is not None:
        conditions.append(Application.decided_by == chosen.decided_by)
    return conditions


def _text_condition(text: str) -> ColumnElement[bool]:
    """A reference number matches its application; otherwise every word typed must be in
    the name (kanji, or kana: hiragana and half-width fold to katakana) or the email."""
    reference = _REFERENCE.match(text)
    if reference is not None:
        return Application.id == int(reference.group(1))
    name = Application.family_name + Application.given_name
    kana = Application.family_kana + Application.given_kana
    words = []
    for word in text.split(" "):
        alternatives = [
            name.icontains(word, autoescape=True),
            Application.email.icontains(word, autoescape=True),
        ]
        with contextlib.suppress(InvalidKana):  # not kana: the name and email decide
            alternatives.append(kana.contains(normalise_kana(word), autoescape=True))
        words.append(or_(*alternatives))
    return and_(*words)
