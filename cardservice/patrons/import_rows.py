"""Reading and checking the library system's patron export, row by row (the import itself,
batches and writing, is ``patrons.importer``).

Columns are found by the names the profile's ``[import]`` section gives (NFKC, so full-width
headers match too); each row is checked as the service stores it: the user number with its
check digit in the profile's format, names and kana (hiragana and half-width folded to
katakana) as the application form checks them, dates in the profile's ``date_format``, email,
phone (stored E.164), postal code, prefecture, and the status through the profile's
``statuses`` map. A row with a problem is refused with a stable code (``REFUSAL_TEXTS``).
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Final

from cardservice.cards.models import CardStatus
from cardservice.cards.numbers import InvalidNumber, NumberFormat, normalise
from cardservice.errors import DomainError, InvalidInput
from cardservice.mail.addresses import normalise_address
from cardservice.mail.errors import InvalidRecipient
from cardservice.patrons.names import InvalidKana, normalise_kana
from cardservice.profiles.schema import ImportSection
from cardservice.registration.form import NAME_MAX, FieldInvalid, check_birth_date, clean_text
from cardservice.registration.japan import (
    normalise_phone,
    normalise_postal_code,
    normalise_prefecture,
)

REQUIRED: Final = (
    "user_number",
    "family_name",
    "given_name",
    "family_kana",
    "given_kana",
    "birth_date",
    "expires_on",
)
OPTIONAL: Final = (
    "email",
    "phone",
    "postal_code",
    "prefecture",
    "city",
    "street",
    "building",
    "status",
)
# The patron columns an import sets and compares.
PATRON_FIELDS: Final = (
    "family_name",
    "given_name",
    "family_kana",
    "given_kana",
    "birth_date",
    "email",
    "phone",
    "postal_code",
    "prefecture",
    "city",
    "street",
    "building",
)
TEXT_MAX: Final = NAME_MAX  # names and address parts alike, as the patron columns hold

# Why a row was refused: the stable code and the sentence the CLI prints.
REFUSAL_TEXTS: Final = {
    "number_empty": "the user number is empty",
    "number_bad_format": "the user number does not have this library's format",
    "number_bad_check_digit": "the user number's check digit is wrong",
    "number_duplicate": "the same user number is on more than one line",
    "number_in_use": "the number belongs to a patron registered in this service",
    "card_revoked_here": "the card was revoked here (reissued or withdrawn); it stays revoked",
    "name_missing": "a name is missing",
    "text_too_long": "a value is longer than 64 characters",
    "control_characters": "a value holds control characters",
    "kana_invalid": "the reading is not in kana",
    "date_invalid": "a date is missing or not in the profile's date format",
    "birth_date_future": "the date of birth is in the future",
    "birth_date_too_old": "the date of birth is more than 120 years ago",
    "email_invalid": "the email address is not valid",
    "phone_invalid": "the phone number is not valid",
    "postal_code_invalid": "the postal code is not 7 digits",
    "prefecture_invalid": "the prefecture is not one of the 47",
    "status_unknown": "the status is not one of the profile's import statuses",
}


class ImportFileInvalid(InvalidInput):
    """The file cannot be imported as a whole (columns, encoding); nothing was written."""

    code = "import_file_invalid"


@dataclass(frozen=True, slots=True)
class Refusal:
    line: int  # in the file, the header being line 1
    code: str  # a key of REFUSAL_TEXTS
    field: str = ""  # the field at fault, when one is

    @property
    def text(self) -> str:
        where = f" ({self.field})" if self.field else ""
        return f"line {self.line}: {REFUSAL_TEXTS.get(self.code, self.code)}{where}"


@dataclass(frozen=True, slots=True)
class PatronRow:
    """One valid row, normalised as the service stores it."""

    line: int
    user_number: str
    status: CardStatus
    expires_on: date
    patron: dict[str, Any]  # PATRON_FIELDS -> value


class RowRefused(Exception):
    def __init__(self, code: str, field: str = "") -> None:
        super().__init__(code)
        self.code = code
        self.field = field


# ------------------------------------------------------------------------------ reading


@contextmanager
def _file_errors(section: ImportSection) -> Iterator[None]:
    """A file the reader cannot take fails as a whole, as ``ImportFileInvalid``."""
    try:
        yield
    except UnicodeDecodeError:
        raise ImportFileInvalid(
            f"The file is not in {section.encoding} (the profile's import encoding).",
            code="import_file_encoding",
        ) from None
    except csv.Error as exc:
        raise ImportFileInvalid(
            f"The file is not valid CSV: {exc}.", code="import_file_csv"
        ) from None


def read_header(path: Path, section: ImportSection) -> dict[str, int]:
    """The column of each field, from the file's first line; raises ``ImportFileInvalid``
    for an empty file or a missing required column."""
    with _file_errors(section), path.open(encoding=section.encoding, newline="") as source:
        header = next(csv.reader(source), None)
    if header is None:
        raise ImportFileInvalid("The file is empty.", code="import_file_empty")
    return column_positions(header, section)


def records(path: Path, section: ImportSection) -> Iterator[tuple[int, list[str]]]:
    """``(line, cells)`` per record after the header; ``line`` is where the record starts
    (a quoted cell may span lines). Blank lines are skipped."""
    with _file_errors(section), path.open(encoding=section.encoding, newline="") as source:
        reader = csv.reader(source)
        next(reader, None)
        end = reader.line_num
        for cells in reader:
            start, end = end + 1, reader.line_num
            if any(cell.strip() for cell in cells):
                yield start, cells


def column_positions(header: list[str], section: ImportSection) -> dict[str, int]:
    """Where each field's column is; raises ``ImportFileInvalid`` naming missing columns."""
    cleaned = [unicodedata.normalize("NFKC", name).strip() for name in header]
    positions: dict[str, int] = {}
    missing = []
    for name in (*REQUIRED, *OPTIONAL):
        column = section.columns.get(name)
        column = unicodedata.normalize("NFKC", column).strip() if column else None
        if column is not None and column in cleaned:
            positions[name] = cleaned.index(column)
        elif name in REQUIRED:
            missing.append(column or name)
    if missing:
        raise ImportFileInvalid(
            "The file lacks the columns " + ", ".join(missing) + " (see the profile's [import]).",
            code="import_file_columns",
            missing=missing,
        )
    return positions


def _cell(cells: list[str], positions: Mapping[str, int], name: str) -> str:
    index = positions.get(name)
    return cells[index] if index is not None and index < len(cells) else ""


def _number(cells: list[str], positions: Mapping[str, int], fmt: NumberFormat) -> str:
    try:
        return normalise(fmt, _cell(cells, positions, "user_number"))
    except InvalidNumber as exc:
        raise RowRefused(exc.code, "user_number") from None


def numbers_in_file(
    path: Path, section: ImportSection, fmt: NumberFormat, positions: Mapping[str, int]
) -> dict[str, list[int]]:
    """Every valid number in the file and the lines it is on (the first pass: it finds
    duplicates before anything is written, and a file that cannot be read fails here)."""
    lines: dict[str, list[int]] = {}
    for line, cells in records(path, section):
        try:
            lines.setdefault(_number(cells, positions, fmt), []).append(line)
        except RowRefused:
            continue
    return lines


# ------------------------------------------------------------------------------ checking


_DATE_FIELDS: Final = {
    "%Y": "(?P<Y>[0-9]{4})",
    "%m": "(?P<m>[0-9]{1,2})",
    "%d": "(?P<d>[0-9]{1,2})",
}


def date_reader(date_format: str) -> Callable[[str], date]:
    """A reader of dates in ``date_format`` that raises ``ValueError`` as ``strptime`` does.

    A format of ``%Y``, ``%m`` and ``%d`` with separators (every export seen so far:
    ``%Y-%m-%d``, ``%Y/%m/%d``, ``%Y年%m月%d日``) becomes one compiled pattern, several times
    faster than ``strptime`` over 100,000 rows; any other format goes to ``strptime``."""
    parts = [part for part in re.split(r"(%.)", date_format) if part]
    fields = sorted(part for part in parts if part.startswith("%"))
    if fields != ["%Y", "%d", "%m"] or "%" in "".join(p for p in parts if p not in _DATE_FIELDS):
        return lambda text: datetime.strptime(text, date_format).date()  # a date, no time
    pattern = re.compile("".join(_DATE_FIELDS.get(part, re.escape(part)) for part in parts))

    def read(text: str) -> date:
        found = pattern.fullmatch(text)
        if found is None:
            raise ValueError(f"{text!r} is not in the format {date_format!r}")
        return date(int(found["Y"]), int(found["m"]), int(found["d"]))

    return read


class RowParser:
    """Checks one row against the profile and returns it as the service stores it."""

    def __init__(
        self,
        section: ImportSection,
        fmt: NumberFormat,
        positions: Mapping[str, int],
        *,
        today: date | None = None,
    ) -> None:
        """``today``: the library's local date, for the date-of-birth range (the form's
        ``check_birth_date``); default the machine's date."""
        self.section = section
        self.today = today or date.today()  # callers pass the library's date
        self.fmt = fmt
        self.positions = positions
        self.statuses = {
            unicodedata.normalize("NFKC", key).strip(): CardStatus(value)
            for key, value in section.statuses.items()
        }
        self.read_date = date_reader(section.date_format)

    def parse(self, line: int, cells: list[str]) -> PatronRow:
        """Raises ``RowRefused`` with the first problem found."""
        number = _number(cells, self.positions, self.fmt)
        patron = {
            "family_name": self._name(cells, "family_name"),
            "given_name": self._name(cells, "given_name"),
            "family_kana": self._kana(cells, "family_kana"),
            "given_kana": self._kana(cells, "given_kana"),
            "birth_date": self._birth_date(cells),
            "email": self._email(cells),
            "phone": self._optional(cells, "phone", normalise_phone),
            "postal_code": self._optional(cells, "postal_code", normalise_postal_code),
            "prefecture": self._optional(cells, "prefecture", normalise_prefecture),
            "city": self._text(cells, "city"),
            "street": self._text(cells, "street"),
            "building": self._text(cells, "building"),
        }
        return PatronRow(
            line=line,
            user_number=number,
            status=self._status(cells),
            expires_on=self._date(cells, "expires_on"),
            patron=patron,
        )

    def _raw(self, cells: list[str], name: str) -> str:
        return _cell(cells, self.positions, name)

    def _text(self, cells: list[str], name: str, *, required: bool = False) -> str:
        try:
            return clean_text(self._raw(cells, name), name, max_length=TEXT_MAX, required=required)
        except FieldInvalid as exc:
            code = {"required": "name_missing", "too_long": "text_too_long"}.get(exc.code, exc.code)
            raise RowRefused(code, name) from None

    def _name(self, cells: list[str], name: str) -> str:
        return self._text(cells, name, required=True)

    def _kana(self, cells: list[str], name: str) -> str:
        try:
            return normalise_kana(self._text(cells, name, required=True), field=name)
        except InvalidKana:
            raise RowRefused("kana_invalid", name) from None

    def _date(self, cells: list[str], name: str) -> date:
        text = unicodedata.normalize("NFKC", self._raw(cells, name)).strip()
        try:
            return self.read_date(text)
        except ValueError:
            raise RowRefused("date_invalid", name) from None

    def _birth_date(self, cells: list[str]) -> date:
        """A date of birth in the application form's range (``form.check_birth_date``)."""
        try:
            return check_birth_date(self._date(cells, "birth_date"), "birth_date", self.today)
        except FieldInvalid as exc:
            raise RowRefused(exc.code, "birth_date") from None

    def _email(self, cells: list[str]) -> str:
        text = self._raw(cells, "email")
        if not text.strip():
            return ""
        try:
            return normalise_address(text)
        except InvalidRecipient:
            raise RowRefused("email_invalid", "email") from None

    def _optional(self, cells: list[str], name: str, parse: Callable[..., str]) -> str:
        raw = self._raw(cells, name).strip()
        if not raw:
            return ""
        try:
            return parse(raw, field=name)
        except DomainError:
            raise RowRefused(f"{name}_invalid", name) from None

    def _status(self, cells: list[str]) -> CardStatus:
        if "status" not in self.positions:
            return CardStatus.ACTIVE
        raw = unicodedata.normalize("NFKC", self._raw(cells, "status")).strip()
        status = self.statuses.get(raw)
        if status is None:
            raise RowRefused("status_unknown", "status")
        return status
