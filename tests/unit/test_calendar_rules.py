"""The closing rules Japanese libraries print, each counted over 2026, a year with Golden Week
and a substitute holiday (振替休日 2026-05-06: 3 May, 憲法記念日, falls on a Sunday)."""

from __future__ import annotations

import re
from datetime import date, timedelta

import msgspec
import pytest

from cardservice.calendar import OpeningCalendar
from cardservice.profiles.schema import CalendarSection


def calendar_from(toml: str) -> OpeningCalendar:
    return OpeningCalendar.from_profile(msgspec.toml.decode(toml, type=CalendarSection))


def closed_days(calendar: OpeningCalendar, year: int = 2026) -> list[date]:
    day, days = date(year, 1, 1), []
    while day.year == year:
        if not calendar.is_open(day):
            days.append(day)
        day += timedelta(days=1)
    return days


def test_2026_has_the_substitute_holiday_the_rules_rely_on() -> None:
    calendar = OpeningCalendar()
    for day in (date(2026, 5, 3), date(2026, 5, 4), date(2026, 5, 5), date(2026, 5, 6)):
        assert calendar.is_public_holiday(day), day


def test_holiday_opens_the_closed_weekday_and_the_next_weekday_closes() -> None:
    calendar = calendar_from(
        "closed_weekdays = [0]\npublic_holidays_closed = false\n"
        "holiday_opens_closed_weekday = true\n"
    )
    # Golden Week: Monday 05-04 is a holiday and opens; 05-05 and 05-06 (substitute holiday)
    # are holidays and open; the closing moves to Thursday 05-07.
    assert calendar.is_open(date(2026, 5, 4))
    assert calendar.is_open(date(2026, 5, 5))
    assert calendar.is_open(date(2026, 5, 6))
    assert not calendar.is_open(date(2026, 5, 7))
    assert calendar.is_open(date(2026, 5, 8))
    # 成人の日 Monday 2026-01-12 opens, Tuesday 01-13 closes.
    assert calendar.is_open(date(2026, 1, 12))
    assert not calendar.is_open(date(2026, 1, 13))
    # An ordinary Monday closes and Tuesday opens.
    assert not calendar.is_open(date(2026, 6, 1))
    assert calendar.is_open(date(2026, 6, 2))
    # Over the year, one closed day a week: every Monday that is not a holiday, plus one
    # weekday for each Monday holiday.
    closed = closed_days(calendar)
    monday_holidays = [d for d in _days(2026) if d.weekday() == 0 and calendar.is_public_holiday(d)]
    mondays = [d for d in _days(2026) if d.weekday() == 0]
    assert len(closed) == len(mondays)
    assert len(monday_holidays) >= 5
    assert all(d.weekday() < 5 and not calendar.is_public_holiday(d) for d in closed)


def test_without_the_rule_a_holiday_on_the_closed_weekday_stays_closed() -> None:
    calendar = calendar_from("closed_weekdays = [0]\npublic_holidays_closed = false\n")
    assert not calendar.is_open(date(2026, 5, 4))
    assert calendar.is_open(date(2026, 5, 7))


def test_the_last_thursday_of_every_month_closes() -> None:
    calendar = calendar_from(
        "closed_weekdays = []\npublic_holidays_closed = false\n"
        "monthly_closures = [{ weekday = 3, week = -1 }]\n"
    )
    closed = closed_days(calendar)
    assert len(closed) == 12
    assert date(2026, 4, 30) in closed  # 昭和の日 is a Wednesday; the 30th is the last Thursday
    assert date(2026, 12, 31) in closed
    assert all(d.weekday() == 3 and (d + timedelta(days=7)).month != d.month for d in closed)


def test_the_second_tuesday_closes() -> None:
    calendar = calendar_from("monthly_closures = [{ weekday = 1, week = 2 }]\n")
    assert not calendar.is_open(date(2026, 5, 12))
    assert calendar.is_open(date(2026, 5, 5)) is False  # こどもの日, holidays closed here
    assert calendar.is_open(date(2026, 5, 19))


def test_a_stock_taking_period_closes_every_day_of_it() -> None:
    calendar = calendar_from(
        "public_holidays_closed = false\n"
        "[[closure_periods]]\nstart = 2026-06-08\nend = 2026-06-15\n"
        'name = { ja = "蔵書点検期間", en = "Stock-taking" }\n'
    )
    assert closed_days(calendar) == [date(2026, 6, 8) + timedelta(days=i) for i in range(8)]


def test_the_year_end_closure_is_a_rule_every_year() -> None:
    calendar = calendar_from(
        'public_holidays_closed = false\n[year_end]\nstart = "12-28"\nend = "01-04"\n'
    )
    for year in (2026, 2027, 2030):
        assert not calendar.is_open(date(year, 12, 28))
        assert not calendar.is_open(date(year, 12, 31))
        assert not calendar.is_open(date(year + 1, 1, 4))
        assert calendar.is_open(date(year, 12, 27))
        assert calendar.is_open(date(year + 1, 1, 5))


def test_counting_shows_the_days_it_counts() -> None:
    # Kashiwa-like: Mondays closed, holidays open with the next weekday closing, a year end.
    calendar = calendar_from(
        "closed_weekdays = [0]\npublic_holidays_closed = false\n"
        "holiday_opens_closed_weekday = true\n[year_end]\n"
    )
    # Applied on Sunday 2026-05-03: 05-04 (Monday, a holiday: open) and 05-05 count.
    assert calendar.counted_opening_days(date(2026, 5, 3), 2) == [
        date(2026, 5, 4),
        date(2026, 5, 5),
    ]
    # Applied on Wednesday 05-06: Thursday 05-07 is the moved closing day.
    assert calendar.counted_opening_days(date(2026, 5, 6), 2) == [
        date(2026, 5, 8),
        date(2026, 5, 9),
    ]
    # Applied on Saturday 12-26: Sunday 12-27 counts, Monday 12-28 is closed, the year end
    # closes 12-29 to 01-03 and Monday 01-04 is closed, so the second day is Tuesday 01-05.
    assert calendar.counted_opening_days(date(2026, 12, 26), 2) == [
        date(2026, 12, 27),
        date(2027, 1, 5),
    ]
    assert calendar.add_opening_days(date(2026, 12, 26), 2) == date(2027, 1, 5)
    assert calendar.counted_opening_days(date(2026, 12, 27), 0) == []


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[year_end]\nstart = "13-01"\n', "year_end.start"),
        ("[[closure_periods]]\nstart = 2026-06-15\nend = 2026-06-08\n", "end before"),
        ("monthly_closures = [{ weekday = 3, week = 6 }]\n", "week"),
    ],
)
def test_a_bad_rule_is_refused_with_its_key(toml: str, message: str) -> None:
    with pytest.raises(msgspec.ValidationError, match=re.escape(message)):
        msgspec.toml.decode(toml, type=CalendarSection)


def _days(year: int) -> list[date]:
    return [date(year, 1, 1) + timedelta(days=i) for i in range(365)]
