"""Dates as pages and emails write them (calendar.written_date, the longdate filter)."""

from __future__ import annotations

from datetime import date

import pytest
from jinja2 import Environment

from cardservice.calendar import english_date, written_date
from cardservice.datefilters import install_date_filters, written_time
from cardservice.web.labels import install_label_filters


@pytest.mark.parametrize(
    ("day", "lang", "weekday", "era", "expected"),
    [
        (date(2027, 3, 1), "ja", False, False, "2027年3月1日"),
        (date(2027, 3, 1), "en", False, False, "1 March 2027"),
        (date(2026, 4, 5), "ja", True, False, "2026年4月5日（日）"),
        (date(2026, 4, 5), "en", True, False, "Sunday, 5 April 2026"),
        (date(2029, 11, 30), "ja", False, True, "令和11年（2029年）11月30日"),
        (date(2029, 11, 30), "ja", True, True, "令和11年（2029年）11月30日（金）"),
        (date(2019, 5, 1), "ja", False, True, "令和元年（2019年）5月1日"),
        (date(1989, 1, 7), "ja", False, True, "昭和64年（1989年）1月7日"),
        (date(2029, 11, 30), "en", False, True, "30 November 2029"),
        (date(1872, 12, 31), "ja", False, True, "1872年12月31日"),  # before the Gregorian era
    ],
)
def test_written_dates(day: date, lang: str, weekday: bool, era: bool, expected: str) -> None:
    assert written_date(day, lang, weekday=weekday, era=era) == expected


def test_times_on_the_library_clock() -> None:
    from datetime import UTC, datetime  # noqa: PLC0415

    instant = datetime(2029, 11, 30, 5, 7, tzinfo=UTC)
    assert written_time(instant, "ja", "Asia/Tokyo") == "2029年11月30日 14時07分"
    assert written_time(instant, "en", "Asia/Tokyo") == "30 Nov 2029, 14:07"


def test_filters_follow_the_language_and_the_era() -> None:
    env = Environment(autoescape=True)
    install_date_filters(env)
    install_label_filters(env)
    page = env.from_string(
        "{{ d|longdate }} {{ d|longdate(weekday=True) }} {{ '2029-11-30'|dateish }}"
        " {{ 'v2'|dateish }} {{ _s|label }}{{ 'おもて'|parens }} {{ xs|joined }}"
    )
    values = {"d": date(2029, 11, 30), "_s": "状態", "xs": ["JPEG", "PNG"]}
    assert page.render(lang="ja", **values) == (
        "2029年11月30日 2029年11月30日（金） 2029年11月30日 v2 状態：（おもて） JPEG、PNG"
    )
    assert page.render(lang="ja", japanese_era=True, **values).startswith(
        "令和11年（2029年）11月30日 "
    )
    assert page.render(lang="en", **values) == (
        "30 November 2029 Friday, 30 November 2029 30 November 2029 v2 状態:  (おもて) JPEG, PNG"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 April 1990", date(1990, 4, 1)),
        ("1 apr 1990", date(1990, 4, 1)),
        ("April 1, 1990", date(1990, 4, 1)),
        ("Sept. 30 2001", date(2001, 9, 30)),
        ("3rd May 2000", date(2000, 5, 3)),
        ("31 February 1990", None),
        ("1990-04-01", None),  # the numeric forms are the parsers' own
        ("1 Smarch 1990", None),
    ],
)
def test_english_dates_are_read_as_pages_write_them(text: str, expected: date | None) -> None:
    assert english_date(text) == expected


def test_birth_date_fields_take_the_english_pages_dates() -> None:
    """The application form and the forgotten-number page read 1 April 1990 as their
    hints in English write it, and still refuse what is no date."""
    from cardservice.patrons.recovery import BirthDateInvalid, parse_birth_date  # noqa: PLC0415
    from cardservice.registration.form import FieldInvalid, _birth_date  # noqa: PLC0415

    today = date(2026, 11, 30)
    assert _birth_date("1 April 1990", "birth_date", today) == date(1990, 4, 1)
    assert _birth_date("1990年4月1日", "birth_date", today) == date(1990, 4, 1)
    assert parse_birth_date(" April 1, 1990 ") == date(1990, 4, 1)
    with pytest.raises(FieldInvalid):
        _birth_date("1 April", "birth_date", today)
    with pytest.raises(BirthDateInvalid):
        parse_birth_date("someday")
