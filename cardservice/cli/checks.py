"""Checking what an operator types, by the rules the web form and the import apply.

Each option that takes personal data or text gets a click callback built here around the
domain's own parser (``registration.form``: names, kana, text, the date-of-birth range;
``registration.japan``: phone numbers; ``mail.addresses``: email addresses), so a value the
application form refuses is refused here too, for the same reason, before anything is
written. A refused value ends the command as a usage error: exit status 2 and one line
naming the option (``Error: Invalid value for '--family-name': ... (control_characters)``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date
from typing import TypeVar

import click

from cardservice.errors import InvalidInput

T = TypeVar("T")

# The longest display name and API key name (their columns hold 100 characters).
LABEL_MAX = 100

Callback = Callable[[click.Context, click.Parameter, T | None], T | None]


def explain(exc: InvalidInput) -> str:
    """The English sentence of a field error, with its stable code: the form's own text
    when the form words the code, else the error's message."""
    from cardservice.registration import localise  # noqa: PLC0415
    from cardservice.registration.form import FIELD_MESSAGES  # noqa: PLC0415

    detail = {key: value for key, value in exc.detail.items() if key != "field"}
    if exc.code in FIELD_MESSAGES:
        return f"{localise(FIELD_MESSAGES, exc.code, **detail)['en']} ({exc.code})"
    return f"{exc.message} ({exc.code})"


def checked(parse: Callable[[str, str], T]) -> Callback[T]:
    """A click callback passing the option's text through ``parse(raw, field)``; an
    ``InvalidInput`` becomes the option's usage error. An unset option stays ``None``."""

    def callback(_ctx: click.Context, param: click.Parameter, value: str | None) -> T | None:
        if value is None:
            return None
        try:
            return parse(value, param.name or "")
        except InvalidInput as exc:
            raise click.BadParameter(explain(exc), param=param) from None

    return callback  # type: ignore[return-value]  # click passes the option's str


def name(raw: str, field: str) -> str:
    """A person's name as the application form takes it (``form.parse_name``)."""
    from cardservice.registration.form import parse_name  # noqa: PLC0415

    return parse_name(raw, field)


def kana(raw: str, field: str) -> str:
    """A reading as the application form takes it, in full-width katakana
    (``form.parse_kana``)."""
    from cardservice.registration.form import parse_kana  # noqa: PLC0415

    return parse_kana(raw, field)


def label(raw: str, field: str) -> str:
    """A display name or an API key's name: the form's text rule (``form.clean_text``:
    width folded, no control or format characters, single spaces), required, at most
    ``LABEL_MAX`` characters."""
    from cardservice.registration.form import clean_text  # noqa: PLC0415

    return clean_text(raw, field, max_length=LABEL_MAX)


def optional_label(raw: str, field: str) -> str:
    """:func:`label`, empty allowed."""
    from cardservice.registration.form import clean_text  # noqa: PLC0415

    return clean_text(raw, field, max_length=LABEL_MAX, required=False)


def email(raw: str, _field: str) -> str:
    """An email address as every entry point takes it (``mail.addresses.normalise_address``)."""
    from cardservice.mail.addresses import normalise_address  # noqa: PLC0415

    return normalise_address(raw)


def phone(raw: str, field: str) -> str:
    """A phone number as the application form takes it, stored E.164
    (``japan.normalise_phone`` after ``form.clean_text``); empty: none."""
    from cardservice.registration.form import clean_text  # noqa: PLC0415
    from cardservice.registration.japan import normalise_phone  # noqa: PLC0415

    text = clean_text(raw, field, max_length=64, required=False)
    return normalise_phone(text, field=field) if text else ""


def plain(raw: str, field: str) -> str:
    """Text with no control or format character (``text.has_invisible``), as typed."""
    from cardservice.text import has_invisible  # noqa: PLC0415

    if has_invisible(raw, allowed=""):
        raise InvalidInput(code="control_characters", field=field)
    return raw


def birth_date(born: date, option: str, timezone: str) -> date:
    """``born`` within the application form's range (``form.check_birth_date``: not after
    today in the library's time zone, at most 120 years before it), else the usage error
    of ``option``."""
    from zoneinfo import ZoneInfo  # noqa: PLC0415

    from cardservice.calendar import local_today  # noqa: PLC0415
    from cardservice.registration.form import check_birth_date  # noqa: PLC0415

    try:
        return check_birth_date(born, "birth_date", local_today(ZoneInfo(timezone)))
    except InvalidInput as exc:
        raise click.BadParameter(explain(exc), param_hint=f"'{option}'") from None


@contextmanager
def fields_as_options(options: Mapping[str, str]) -> Iterator[None]:
    """An ``InvalidInput`` raised by the domain inside the block for one of ``options``'
    fields (its ``field`` detail) ends the command as that option's usage error, so a rule
    the domain applies while creating (a staff username) reads like one checked up front."""
    try:
        yield
    except InvalidInput as exc:
        field = exc.detail.get("field")
        if not isinstance(field, str) or field not in options:
            raise
        raise click.BadParameter(f"{exc.message} ({exc.code})", param_hint=options[field]) from None
