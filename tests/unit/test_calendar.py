"""Opening days: closed weekdays, Japanese public holidays and special closures.

Dates are checked against a real calendar (2026): 04-04 is a Saturday; 05-03 (Constitution
Day) falls on a Sunday, so 05-06 is a substitute holiday (振替休日); 09-22 lies between two
holidays and is a citizens' holiday (国民の休日).
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cardservice.calendar import OpeningCalendar
from cardservice.errors import ConfigurationError
from cardservice.profiles import load_profile

MONDAY = 0


@pytest.fixture(scope="module")
def kashiwa() -> OpeningCalendar:
    return OpeningCalendar.from_profile(load_profile("kashiwa").calendar)


@pytest.fixture(scope="module")
def yokohama() -> OpeningCalendar:
    return OpeningCalendar.from_profile(load_profile("yokohama").calendar)


@pytest.fixture(scope="module")
def holidays_closed() -> OpeningCalendar:
    """Closed on Mondays and on public holidays, as many Japanese city libraries are."""
    return OpeningCalendar(closed_weekdays=[MONDAY], public_holidays_closed=True)


def test_the_profiles_calendars(kashiwa: OpeningCalendar, yokohama: OpeningCalendar) -> None:
    assert kashiwa.closed_weekdays == {MONDAY}
    assert not kashiwa.public_holidays_closed
    assert date(2026, 12, 28) in kashiwa.closures
    assert yokohama.closed_weekdays == frozenset()


def test_japanese_public_holidays_include_substitute_and_citizens_holidays(
    holidays_closed: OpeningCalendar,
) -> None:
    assert holidays_closed.is_public_holiday(date(2026, 5, 6))  # 振替休日
    assert holidays_closed.is_public_holiday(date(2026, 9, 22))  # 国民の休日
    assert not holidays_closed.is_public_holiday(date(2026, 5, 7))


def test_is_open(kashiwa: OpeningCalendar, holidays_closed: OpeningCalendar) -> None:
    assert kashiwa.is_open(date(2026, 4, 4))  # Saturday
    assert not kashiwa.is_open(date(2026, 4, 6))  # Monday
    assert not kashiwa.is_open(date(2026, 12, 30))  # 年末年始
    # Kashiwa opens on holidays (its profile says so); the other library does not.
    assert kashiwa.is_open(date(2026, 11, 3))  # Culture Day, a Tuesday
    assert not holidays_closed.is_open(date(2026, 11, 3))


def test_kashiwa_saturday_application_is_usable_on_tuesday(kashiwa: OpeningCalendar) -> None:
    # 「申請から2開館日後より利用可能」: Sunday counts once, Monday is closed, Tuesday twice.
    assert kashiwa.add_opening_days(date(2026, 4, 4), 2) == date(2026, 4, 7)
    assert kashiwa.add_opening_days(date(2026, 4, 4), 1) == date(2026, 4, 5)


def test_the_application_day_never_counts(kashiwa: OpeningCalendar) -> None:
    # Applied on an open Tuesday: Wednesday is the first opening day, Thursday the second.
    assert kashiwa.add_opening_days(date(2026, 4, 7), 2) == date(2026, 4, 9)
    # Applied on a closed Monday: the same rule, counting from Tuesday.
    assert kashiwa.add_opening_days(date(2026, 4, 6), 2) == date(2026, 4, 8)
    assert kashiwa.add_opening_days(date(2026, 4, 4), 0) == date(2026, 4, 4)


def test_golden_week_with_a_substitute_holiday(holidays_closed: OpeningCalendar) -> None:
    # Sat 05-02; Sun 05-03, Mon 05-04, Tue 05-05 and Wed 05-06 (振替休日) are all closed.
    assert holidays_closed.add_opening_days(date(2026, 5, 2), 2) == date(2026, 5, 8)


def test_silver_week_with_a_citizens_holiday(holidays_closed: OpeningCalendar) -> None:
    # Sat 09-19: Sun 09-20 opens; 09-21 (Monday, holiday), 09-22 (国民の休日) and 09-23
    # (equinox) are closed; Thu 09-24 is the second opening day.
    assert holidays_closed.add_opening_days(date(2026, 9, 19), 2) == date(2026, 9, 24)


def test_new_year_closures(kashiwa: OpeningCalendar, yokohama: OpeningCalendar) -> None:
    # Kashiwa closes 12-28 to 01-04 and on Mondays: Sun 12-27, then Tue 01-05.
    assert kashiwa.add_opening_days(date(2026, 12, 26), 2) == date(2027, 1, 5)
    # Yokohama ("about 3 days") closes 12-29 to 01-04.
    assert yokohama.add_opening_days(date(2026, 12, 28), 3) == date(2027, 1, 7)


def test_opening_days_between_counts_after_the_start_up_to_the_end(
    kashiwa: OpeningCalendar,
) -> None:
    saturday = date(2026, 4, 4)
    assert kashiwa.opening_days_between(saturday, saturday) == 0
    assert kashiwa.opening_days_between(saturday, date(2026, 4, 6)) == 1  # Sun; Mon closed
    assert kashiwa.opening_days_between(saturday, date(2026, 4, 7)) == 2
    assert kashiwa.opening_days_between(date(2026, 4, 7), saturday) == 0
    assert kashiwa.opening_days_between(date(2026, 12, 26), date(2027, 1, 5)) == 2


def test_overdue_is_past_the_review_deadline(kashiwa: OpeningCalendar) -> None:
    deadline = load_profile("kashiwa").review.deadline_opening_days  # 2
    applied = date(2026, 4, 4)
    assert kashiwa.opening_days_between(applied, date(2026, 4, 7)) <= deadline  # due today
    assert kashiwa.opening_days_between(applied, date(2026, 4, 8)) > deadline  # overdue


@given(
    start=st.dates(min_value=date(2024, 1, 1), max_value=date(2030, 12, 31)),
    n=st.integers(min_value=0, max_value=40),
    closed=st.sets(st.integers(min_value=0, max_value=6), max_size=6),
    holidays_closed=st.booleans(),
)
def test_counting_and_adding_agree(
    start: date, n: int, closed: set[int], holidays_closed: bool
) -> None:
    calendar = OpeningCalendar(closed_weekdays=closed, public_holidays_closed=holidays_closed)
    ready = calendar.add_opening_days(start, n)
    assert calendar.opening_days_between(start, ready) == n
    assert n == 0 or calendar.is_open(ready)
    # Nothing earlier would do: the day before has one opening day fewer.
    if n:
        assert calendar.opening_days_between(start, ready - timedelta(days=1)) == n - 1


def test_a_library_that_never_opens_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="closed_weekdays"):
        OpeningCalendar(closed_weekdays=range(7))


def test_negative_counts_are_refused(kashiwa: OpeningCalendar) -> None:
    with pytest.raises(ValueError, match="negative"):
        kashiwa.add_opening_days(date(2026, 4, 4), -1)
