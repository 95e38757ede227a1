"""Birth dates as Japanese documents print them (和暦), and age in full years.

The era boundaries are those of 元号法 and the 政令 changing the era: 昭和 ends on 1989-01-07,
平成 starts on 1989-01-08 and ends on 2019-04-30, 令和 starts on 2019-05-01; an era's first
year is written 元年.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cardservice.calendar import age_on, japanese_era_date


@pytest.mark.parametrize(
    ("day", "written"),
    [
        (date(1985, 4, 1), "昭和60年4月1日"),
        (date(1989, 1, 7), "昭和64年1月7日"),
        (date(1989, 1, 8), "平成元年1月8日"),
        (date(1989, 12, 31), "平成元年12月31日"),
        (date(1990, 1, 1), "平成2年1月1日"),
        (date(2019, 4, 30), "平成31年4月30日"),
        (date(2019, 5, 1), "令和元年5月1日"),
        (date(2020, 1, 1), "令和2年1月1日"),
        (date(1926, 12, 24), "大正15年12月24日"),
        (date(1926, 12, 25), "昭和元年12月25日"),
        (date(1912, 7, 29), "明治45年7月29日"),
        (date(1912, 7, 30), "大正元年7月30日"),
        (date(1873, 1, 1), "明治6年1月1日"),
    ],
)
def test_era_dates_at_the_boundaries(day: date, written: str) -> None:
    assert japanese_era_date(day) == written


def test_before_the_gregorian_calendar_there_is_no_era_date() -> None:
    with pytest.raises(ValueError, match="1872-12-31"):
        japanese_era_date(date(1872, 12, 31))


@given(st.dates(min_value=date(1873, 1, 1), max_value=date(2100, 12, 31)))
def test_month_and_day_are_the_gregorian_ones(day: date) -> None:
    written = japanese_era_date(day)
    assert written.endswith(f"年{day.month}月{day.day}日")
    # The next day is in the same era and year, or the next year, or the next era's 元年.
    following = japanese_era_date(day + timedelta(days=1))
    assert following[:2] == written[:2] or "元年" in following


@pytest.mark.parametrize(
    ("birth", "today", "age"),
    [
        (date(1985, 4, 1), date(2026, 3, 31), 40),
        (date(1985, 4, 1), date(2026, 4, 1), 41),
        (date(1985, 4, 1), date(1985, 4, 1), 0),
        # Born on 29 February: a year older on 1 March in common years, 29 February in leap years.
        (date(2000, 2, 29), date(2026, 2, 28), 25),
        (date(2000, 2, 29), date(2026, 3, 1), 26),
        (date(2000, 2, 29), date(2028, 2, 29), 28),
    ],
)
def test_age_in_full_years(birth: date, today: date, age: int) -> None:
    assert age_on(birth, today) == age


def test_no_age_before_birth() -> None:
    with pytest.raises(ValueError, match="before the birth date"):
        age_on(date(2026, 4, 2), date(2026, 4, 1))
