"""The patrons-and-cards CSV for the library system's batch import, streamed.

One row per card (revoked cards too, with the number that replaced them), joined to its
patron, in card order. UTF-8 with a byte-order mark, so Excel opens the Japanese correctly;
CRLF line ends (RFC 4180); every date ISO 8601 (``2029-11-30``), the issue date in the
library's time zone. A text that a spreadsheet would take for a formula (starting with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return: OWASP's "CSV Injection") is written
with a leading ``'``, so opening the file never runs it; a phone number in E.164
(``+819012345678``) is no formula and stays as it is. The rows are read from the database in
batches of ``BATCH`` and sent as they are written, so memory stays flat however many patrons
there are.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator, Sequence
from datetime import date, datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import aliased

from cardservice.cards.models import Card
from cardservice.db.engine import Database
from cardservice.patrons.import_rows import PATRON_FIELDS
from cardservice.patrons.models import Patron

BOM: Final = "\ufeff"
BATCH: Final = 500
FILENAME: Final = "patrons-cards.csv"
_FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")
_E164: Final = re.compile(r"\+[0-9]{6,15}")
# The patron's columns, by attribute name: the import's own (``patrons.import_rows``), so
# that what the library system takes back in is what an import reads, then the rest.
_PATRON_COLUMNS: Final = (
    *PATRON_FIELDS,
    "eligibility_basis",
    "workplace_or_school",
    "language",
    "source",
)
HEADER: Final = (
    "user_number",
    "card_status",
    "status_reason",
    "issued_on",
    "expires_on",
    "replaced_by",
    "patron_id",
    *_PATRON_COLUMNS,
    "registered_on",
)


# The columns read, in the order of ``HEADER`` (dates converted in ``_row``).
def _columns(successor: Any) -> tuple[Any, ...]:
    return (
        Card.user_number,
        Card.status,
        Card.status_reason,
        Card.issued_at,
        Card.expires_on,
        successor.user_number,
        Patron.id,
        *(getattr(Patron, name) for name in _PATRON_COLUMNS),
        Patron.created_at,
    )


def _row(values: Sequence[Any], tz: ZoneInfo) -> list[str]:
    return [_text(value, tz) for value in values]


def _text(value: Any, tz: ZoneInfo) -> str:
    """Dates ISO 8601; an instant as its date where the library is; None as empty; text
    that would start a formula behind a ``'`` (module docstring)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(tz).date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return no_formula(str(value))


def no_formula(text: str) -> str:
    """``text``, with a ``'`` before it when it starts with a formula character
    (``= + - @``, tab, CR) and is not an E.164 phone number."""
    if text.startswith(_FORMULA_STARTS) and not _E164.fullmatch(text):
        return "'" + text
    return text


def _lines(rows: Sequence[Sequence[Any]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()


async def patron_card_csv(db: Database, tz: ZoneInfo) -> AsyncIterator[bytes]:
    """The CSV as UTF-8 chunks: the BOM and header first, then one chunk per ``BATCH``
    cards. The rows come from one read transaction (one consistent snapshot)."""
    yield (BOM + _lines([HEADER])).encode()
    successor = aliased(Card)
    query = (
        select(*_columns(successor))  # plain rows: no ORM objects to pile up in a session
        .join(Patron, Patron.id == Card.patron_id)
        .outerjoin(successor, successor.id == Card.replaced_by_id)
        .order_by(Card.id)
        .execution_options(yield_per=BATCH)
    )
    async with db.read() as session:
        result = await session.stream(query)
        async for partition in result.partitions(BATCH):
            rows = [_row(values, tz) for values in partition]
            yield _lines(rows).encode()
