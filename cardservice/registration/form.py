"""The application form (Kashiwa's Q6): parsing and validation.

:func:`parse_application` reads the posted fields and reports every field error at once in a
:class:`FormErrors`, so the page can mark all of them in one round trip. Text is width
normalised (``text.fold_width``: full-width digits and Latin letters become half-width,
half-width katakana full-width), stripped, and runs of spaces collapse to one. Nothing else
changes: no NFKC, and no normalisation of ideographs at all, so the kanji a person writes
their name with is theirs (神 U+FA19 stays U+FA19) and is never swapped for a "standard" one.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from cardservice.calendar import add_years, english_date, local_today
from cardservice.errors import InvalidInput
from cardservice.patrons.names import normalise_kana
from cardservice.profiles.schema import Profile
from cardservice.registration import Messages, japan, localise
from cardservice.registration.japan import (
    DASHES,
    format_phone,
    format_postal_code,
    normalise_phone,
    normalise_postal_code,
    normalise_prefecture,
)
from cardservice.text import INVISIBLE_CATEGORIES, fold_width

NAME_MAX = 64
ADDRESS_MAX = 64
WORKPLACE_MAX = 128
MAX_AGE = 120

T = TypeVar("T")

# Control, format (bidi overrides, zero-width characters) and surrogate code points: none
# belongs in a name or an address, and format characters can make two names look alike.
_FORBIDDEN_CATEGORIES = INVISIBLE_CATEGORIES
_SPACES = re.compile(r"\s+")
_DATE = re.compile(r"([0-9]{4})[-/.年]([0-9]{1,2})[-/.月]([0-9]{1,2})日?")
_TRUE = frozenset({"1", "on", "true", "yes"})  # "on" is what a checked checkbox sends
_FALSE = frozenset({"", "0", "off", "false", "no"})

MESSAGES: Messages = {
    "form_invalid": {
        "ja": "入力内容に誤りがあります。各項目のメッセージを確認してください。",
        "en": "Some answers need correcting; see the message next to each field.",
    },
    "required": {"ja": "必須項目です。", "en": "This field is required."},
    "too_long": {
        "ja": "{max}文字以内で入力してください。",
        "en": "Use at most {max} characters.",
    },
    "control_characters": {
        "ja": "使用できない文字（制御文字など）が含まれています。",
        "en": "This contains characters that cannot be used (control characters).",
    },
    "procedure_invalid": {"ja": "申請内容を選んでください。", "en": "Choose a procedure."},
    "procedure_unavailable": {
        "ja": "この手続きはオンラインでは受け付けていません。図書館の窓口で申請してください。",
        "en": "This procedure is not available online. Please apply at a library counter.",
    },
    "birth_date_invalid": {
        "ja": "生年月日を正しい日付で入力してください（例：1990年4月1日）。",
        "en": "Enter your date of birth as a real date (for example 1 April 1990).",
    },
    "birth_date_future": {
        "ja": "生年月日が未来の日付になっています。",
        "en": "The date of birth is in the future.",
    },
    "birth_date_too_old": {
        "ja": "生年月日を確認してください（{max_age}歳を超えています）。",
        "en": "Check the date of birth: it makes you older than {max_age}.",
    },
    "basis_invalid": {
        "ja": "申請の理由（在住・在勤・在学）を選んでください。",
        "en": "Choose why you may register: you live, work or study here.",
    },
    "workplace_required": {
        "ja": "在勤・在学のかたは、勤務先または学校の名前を入力してください。",
        "en": "Enter the name of your workplace or school.",
    },
    "choice_invalid": {"ja": "選択肢から選んでください。", "en": "Choose one of the options."},
    # Raised by patrons.names.normalise_kana, which has no message table of its own yet.
    "kana_invalid": {
        "ja": "フリガナはカタカナ（またはひらがな）で入力してください。"
        "ローマ字のお名前は、読み方をカタカナで入力してください（例：Smith → スミス）。",
        "en": "Write the reading in katakana (or hiragana). A name in the Latin alphabet is"
        " written as it sounds, for example スミス for Smith.",
    },
}

# Every code a form field can report, with its texts.
FIELD_MESSAGES: Messages = {**MESSAGES, **japan.MESSAGES}


class Procedure(StrEnum):
    NEW = "new"  # 新規登録
    REISSUE = "reissue"  # 再発行
    RENEWAL = "renewal"  # 有効期限更新
    CHANGE = "change"  # 登録内容変更


# Procedures on an existing card: no password (the patron keeps theirs), no notification
# choices (My Library edits those).
CARD_PROCEDURES = frozenset({Procedure.REISSUE, Procedure.RENEWAL, Procedure.CHANGE})


class Basis(StrEnum):
    """Why the applicant may register: they live, work or study in the library's area."""

    LIVES = "lives"
    WORKS = "works"
    STUDIES = "studies"


@dataclass(frozen=True, slots=True, kw_only=True)
class Notifications:
    """What the applicant wants the library to email them about."""

    reservation_ready: bool = False
    expiry_near: bool = False
    overdue: bool = False
    new_arrivals: bool = False
    emergency_closure: bool = False


NOTIFICATION_FIELDS = {
    f"notify_{name}": name
    for name in ("reservation_ready", "expiry_near", "overdue", "new_arrivals", "emergency_closure")
}


@dataclass(frozen=True, slots=True, kw_only=True)
class ApplicationForm:
    procedure: Procedure
    family_name: str
    given_name: str
    family_kana: str  # full-width katakana
    given_kana: str
    birth_date: date
    postal_code: str  # 7 ASCII digits
    prefecture: str
    city: str
    street: str
    building: str  # "" when not given
    phone: str  # E.164
    email: str  # the verified address, as the link gave it
    basis: Basis
    workplace_or_school: str  # "" when the basis is "lives"
    notifications: Notifications
    # Carried to the password policy untouched, and kept out of repr so it never lands in
    # a log line or a traceback.
    password: str = dataclasses.field(repr=False)

    @property
    def postal_code_display(self) -> str:
        return format_postal_code(self.postal_code)

    @property
    def phone_display(self) -> str:
        return format_phone(self.phone)


class FieldInvalid(InvalidInput):
    """A form field is not valid; the instance's code says why."""

    code = "field_invalid"


@dataclass(frozen=True, slots=True)
class FieldError:
    """One field's error. Codes of the registration convention carry their ``ja`` and ``en``
    texts; newer codes leave them empty and carry ``params``, and the page words them from
    its catalog (architecture, "Page text has two mechanisms")."""

    field: str
    code: str
    ja: str = ""
    en: str = ""
    params: Mapping[str, object] = dataclasses.field(default_factory=dict)

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "code": self.code, "ja": self.ja, "en": self.en}


class FormErrors(InvalidInput):
    """Some fields of the application are not valid."""

    code = "form_invalid"

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__(MESSAGES["form_invalid"]["en"], fields=[e.as_dict() for e in errors])
        self.errors = tuple(errors)

    def by_field(self) -> dict[str, FieldError]:
        return {error.field: error for error in self.errors}


def parse_application(
    raw: Mapping[str, str], *, profile: Profile, email: str, today: date | None = None
) -> ApplicationForm:
    """The validated form, or :class:`FormErrors` listing every field that is wrong.

    ``today`` is the library's local date (default: now, in the profile's time zone).
    """
    today = today or local_today(ZoneInfo(profile.library.timezone))
    form = Collector(raw)
    values: dict[str, Any] = {
        "procedure": form.take("procedure", lambda v, f: _procedure(v, f, profile)),
        "family_name": form.take("family_name", parse_name),
        "given_name": form.take("given_name", parse_name),
        "family_kana": form.take("family_kana", parse_kana),
        "given_kana": form.take("given_kana", parse_kana),
        "birth_date": form.take("birth_date", lambda v, f: _birth_date(v, f, today)),
        "postal_code": form.take("postal_code", _required(normalise_postal_code)),
        "prefecture": form.take("prefecture", _required(normalise_prefecture)),
        "city": form.take("city", _text(ADDRESS_MAX)),
        "street": form.take("street", _text(ADDRESS_MAX)),
        "building": form.take("building", _text(ADDRESS_MAX, required=False)),
        "phone": form.take("phone", _required(normalise_phone)),
        "basis": form.take("basis", lambda v, f: _basis(v, f, profile)),
    }
    values["workplace_or_school"] = _workplace(form, values["basis"])
    flags: dict[str, Any] = {}
    if values["procedure"] is Procedure.NEW:  # the others keep the patron's choices
        flags = {name: form.take(key, _flag) for key, name in NOTIFICATION_FIELDS.items()}
    form.raise_if_invalid()
    return ApplicationForm(
        **values,
        notifications=Notifications(**flags),
        email=email,
        password=raw.get("password", ""),
    )


class Collector:
    """Runs each field's parser and keeps its error instead of stopping at the first."""

    def __init__(self, raw: Mapping[str, str]) -> None:
        self.raw = raw
        self.errors: list[FieldError] = []

    def take(self, name: str, parse: Callable[[str, str], T]) -> T | None:
        try:
            return parse(self.raw.get(name, ""), name)
        except InvalidInput as exc:
            self.add(name, exc.code, **exc.detail)
            return None

    def add(self, name: str, code: str, **params: object) -> None:
        """An error of ``name``; worded here if this module knows the code, else by the page."""
        if code in FIELD_MESSAGES:
            texts = localise(FIELD_MESSAGES, code, **params)
            self.errors.append(FieldError(name, code, texts["ja"], texts["en"]))
        else:
            self.errors.append(FieldError(name, code, params=params))

    def raise_if_invalid(self) -> None:
        if self.errors:
            raise FormErrors(self.errors)


def clean_text(raw: str, field: str, *, max_length: int, required: bool = True) -> str:
    """Width-normalised (``text.fold_width``), no control characters, trimmed, single spaces;
    checked for presence and length (in characters, after normalising)."""
    text = fold_width(raw).strip()
    # Checked before spaces collapse, so a newline or tab inside a value is refused rather
    # than quietly turned into a space.
    if any(unicodedata.category(char) in _FORBIDDEN_CATEGORIES for char in text):
        raise FieldInvalid(code="control_characters", field=field)
    text = _SPACES.sub(" ", text)
    if required and not text:
        raise FieldInvalid(code="required", field=field)
    if len(text) > max_length:
        raise FieldInvalid(code="too_long", field=field, max=max_length)
    return text


def _text(max_length: int, *, required: bool = True) -> Callable[[str, str], str]:
    return lambda raw, field: clean_text(raw, field, max_length=max_length, required=required)


def _required(parse: Callable[..., str]) -> Callable[[str, str], str]:
    """A "required" error for an empty field, before the field's own format check."""

    def parse_present(raw: str, field: str) -> str:
        return parse(clean_text(raw, field, max_length=64), field=field)

    return parse_present


def _procedure(raw: str, field: str, profile: Profile) -> Procedure:
    """One of the procedures the library takes online (``procedures.online``)."""
    text = clean_text(raw, field, max_length=16)
    try:
        procedure = Procedure(text)
    except ValueError:
        raise FieldInvalid(code="procedure_invalid", field=field) from None
    if procedure.value not in profile.procedures.online:
        raise FieldInvalid(code="procedure_unavailable", field=field)
    return procedure


def parse_kana(raw: str, field: str) -> str:
    """A reading: cleaned, checked, then hiragana and half-width katakana as full-width
    katakana."""
    return normalise_kana(clean_text(raw, field, max_length=NAME_MAX), field=field)


def parse_name(raw: str, field: str) -> str:
    return clean_text(raw, field, max_length=NAME_MAX)


def _birth_date(raw: str, field: str, today: date) -> date:
    text = re.sub(f"[{DASHES}]", "-", clean_text(raw, field, max_length=32))
    found = _DATE.fullmatch(text.replace(" ", ""))
    if found is None:
        # As the English page writes dates: 1 April 1990.
        written = english_date(text)
        if written is None:
            raise FieldInvalid(code="birth_date_invalid", field=field)
        return check_birth_date(written, field, today)
    try:
        born = date(*(int(part) for part in found.groups()))
    except ValueError:  # 2001-02-29, month 13 and the like
        raise FieldInvalid(code="birth_date_invalid", field=field) from None
    return check_birth_date(born, field, today)


def check_birth_date(born: date, field: str, today: date) -> date:
    """``born`` if it is a date of birth a living person has: not after ``today`` (the
    library's local date) and at most ``MAX_AGE`` (120) years before it. Raises
    ``FieldInvalid`` (``birth_date_future``, ``birth_date_too_old``) otherwise. The form,
    and every other way a patron is entered (the ``patron create`` command), use it."""
    if born > today:
        raise FieldInvalid(code="birth_date_future", field=field)
    if born < add_years(today, -MAX_AGE):
        raise FieldInvalid(code="birth_date_too_old", field=field, max_age=MAX_AGE)
    return born


def _basis(raw: str, field: str, profile: Profile) -> Basis:
    text = clean_text(raw, field, max_length=16)
    if text not in profile.registration.bases:
        raise FieldInvalid(code="basis_invalid", field=field)
    return Basis(text)


def _workplace(form: Collector, basis: Basis | None) -> str:
    """Required when the basis is work or study; dropped for "lives", as it is not needed."""
    if basis is None or basis is Basis.LIVES:
        return ""

    def parse(raw: str, field: str) -> str:
        text = clean_text(raw, field, max_length=WORKPLACE_MAX, required=False)
        if not text:
            raise FieldInvalid(code="workplace_required", field=field)
        return text

    return form.take("workplace_or_school", parse) or ""


def _flag(raw: str, field: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise FieldInvalid(code="choice_invalid", field=field)
