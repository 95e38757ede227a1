"""The library's calendar: its local date, and the days it is open."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
from babel.dates import format_date

from cardservice.errors import ConfigurationError
from cardservice.profiles.schema import (
    CalendarSection,
    ClosurePeriod,
    MonthlyClosure,
    YearEndClosure,
)

# Babel's locales for the two languages: 2026年11月24日 / 24 November 2026 (British English).
_DATE_LOCALES = {"ja": "ja_JP", "en": "en_GB"}


def written_date(day: date, lang: str, *, weekday: bool = False, era: bool = False) -> str:
    """``day`` as people write it in ``lang`` ("ja" or "en"; anything else reads as "ja"):
    2027年3月1日 / 1 March 2027, or with ``weekday`` 2027年3月1日（月） / Monday, 1 March 2027.

    With ``era`` (a profile's ``display.japanese_era``) Japanese names the era first, the
    Western year after it in full-width parentheses as city offices print both:
    令和9年（2027年）3月1日. English and dates before 1873 keep the Western year alone.
    This is the one way pages and emails write a date (the ``longdate`` filter,
    ``cardservice.datefilters``); ISO 8601 is for the API and ``datetime`` attributes only.
    """
    if lang == "en":
        return format_date(day, format="full" if weekday else "long", locale=_DATE_LOCALES["en"])
    year = f"{day.year}年"
    if era and day >= _ERAS[-1][0]:
        year = f"{japanese_era_year(day)}（{year}）"
    written = f"{year}{day.month}月{day.day}日"
    if weekday:
        written += format_date(day, format="（E）", locale=_DATE_LOCALES["ja"])
    return written


# The eras a Gregorian date can fall in, newest first: (first day, name). Sources: 大正 and
# 昭和 by the imperial rescripts on the change of era (1912-07-30, 1926-12-25); 平成 by 元号を
# 改める政令 (昭和64年政令第1号, from 1989-01-08) and 令和 by 元号を改める政令 (平成31年政令第143
# 号, from 2019-05-01), both under 元号法 (昭和54年法律第43号). 明治 counts from Japan's
# first Gregorian day, 1873-01-01 = 明治6年1月1日 (改暦ノ布告, 明治5年太政官布告第337号);
# its earlier years were lunisolar and have no Gregorian month and day.
_ERAS: tuple[tuple[date, str, int], ...] = (
    (date(2019, 5, 1), "令和", 2019),
    (date(1989, 1, 8), "平成", 1989),
    (date(1926, 12, 25), "昭和", 1926),
    (date(1912, 7, 30), "大正", 1912),
    (date(1873, 1, 1), "明治", 1868),
)


def japanese_era_date(day: date) -> str:
    """``day`` in the Japanese era as documents print it: 昭和60年4月1日, with 元年 for an
    era's first year (1989-01-08 → 平成元年1月8日; 1989-01-07 → 昭和64年1月7日).

    Raises ValueError before 1873-01-01 (the first Gregorian day in Japan); the eras' first
    days and their sources are in ``_ERAS`` above.
    """
    return f"{japanese_era_year(day)}{day.month}月{day.day}日"


def japanese_era_year(day: date) -> str:
    """The era and year of ``day``: 令和11年, 平成元年; ValueError before 1873-01-01."""
    for start, name, first_year in _ERAS:
        if day >= start:
            year = day.year - first_year + 1
            written = "元" if year == 1 else str(year)
            return f"{name}{written}年"
    raise ValueError(f"{day.isoformat()} is before Japan's Gregorian calendar (1873-01-01)")


# Months as English writes them, in full or cut to three letters (Sept too).
_MONTH_NAMES = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]
_MONTHS = {
    name: number
    for number, full in enumerate(_MONTH_NAMES, start=1)
    for name in (full, full[:3], "sept" if number == 9 else full[:3])
}
_ENGLISH_DAY_FIRST = re.compile(r"([0-9]{1,2})(?:st|nd|rd|th)?\s+([a-z]+)\.?,?\s+([0-9]{4})")
_ENGLISH_MONTH_FIRST = re.compile(r"([a-z]+)\.?\s+([0-9]{1,2})(?:st|nd|rd|th)?,?\s+([0-9]{4})")


def english_date(text: str) -> date | None:
    """A date as English writes it, as the pages show it (1 April 1990, 1 Apr 1990, April 1,
    1990; any case); ``None`` for anything else, or a day the calendar has not."""
    cleaned = " ".join(text.lower().split())
    if found := _ENGLISH_DAY_FIRST.fullmatch(cleaned):
        day, month, year = found.group(1), found.group(2), found.group(3)
    elif found := _ENGLISH_MONTH_FIRST.fullmatch(cleaned):
        month, day, year = found.group(1), found.group(2), found.group(3)
    else:
        return None
    if month not in _MONTHS:
        return None
    try:
        return date(int(year), _MONTHS[month], int(day))
    except ValueError:
        return None


def age_on(birth_date: date, today: date) -> int:
    """Full years of age on ``today``: one more on each birthday. Someone born on 29
    February is a year older on 1 March in common years (年齢計算ニ関スル法律 with 民法
    143条: a year ends the day before its corresponding day, or at the month's end without
    one). Raises ValueError if ``today`` is before ``birth_date``."""
    if today < birth_date:
        raise ValueError("the day is before the birth date")
    return (
        today.year
        - birth_date.year
        - ((today.month, today.day) < (birth_date.month, birth_date.day))
    )


# A day in a list: 12月1日（火） / Tue 1 Dec.
_SHORT_DAY_PATTERNS = {"ja": "M月d日（E）", "en": "EEE d MMM"}


def short_day(day: date, lang: str) -> str:
    """``day`` as a list of days names it in ``lang`` ("ja" or "en"): 12月1日（火） / Tue 1 Dec,
    the weekday in the full-width parentheses Japanese notices use."""
    key = "en" if lang == "en" else "ja"
    return format_date(day, format=_SHORT_DAY_PATTERNS[key], locale=_DATE_LOCALES[key])


def local_today(tz: ZoneInfo, now: datetime | None = None) -> date:
    """Today's date where the library is; expiry dates are the library's dates."""
    if now is None:
        return datetime.now(tz).date()
    return now.astimezone(tz).date()


def start_of_day(day: date, tz: ZoneInfo) -> datetime:
    """The instant ``day`` begins where the library is (its local midnight), in UTC."""
    return datetime.combine(day, time.min, tzinfo=tz).astimezone(UTC)


def end_of_day(day: date, tz: ZoneInfo) -> datetime:
    """The instant a card valid through ``day`` stops being valid (the next local midnight)."""
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz).astimezone(UTC)


def add_years(day: date, years: int) -> date:
    """The same date ``years`` later; 29 February becomes 28 February in common years."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


class OpeningCalendar:
    """The days the library is open, by the rules Japanese public libraries print:

    - closed weekdays (休館日), and public holidays if the library closes on them (substitute
      holidays 振替休日 and citizens' holidays 国民の休日 included, from ``holidays``);
    - 祝日開館・翌平日休館 (``holiday_opens_closed_weekday``): a closed weekday that is a
      public holiday opens, and the next weekday that is neither a holiday nor itself a
      closed weekday closes instead (Mondays closed: Monday 2026-05-04, みどりの日, opens;
      05-05 and the substitute holiday 05-06 are holidays, so Thursday 05-07 closes);
    - monthly closing days such as the last Thursday (館内整理日), even on a holiday;
    - closure periods such as stock-taking (蔵書点検期間), first and last day included;
    - the year-end closure as a rule (年末年始, e.g. 12-29 to 01-03 every year);
    - single closure dates.

    Counting convention: the day something happens never counts, even if the library is
    open that day (an application may arrive after closing time). ``n`` opening days after a
    day is the n-th opening day strictly after it. This reads Kashiwa's 「申請から2開館日後
    より利用可能」: with Mondays closed, an application on Saturday 2026-04-04 counts
    Sunday 04-05 as the first opening day and Tuesday 04-07 as the second, so the card is
    usable from Tuesday.
    """

    def __init__(
        self,
        *,
        closed_weekdays: Iterable[int] = (),
        public_holidays_closed: bool = True,
        closures: Iterable[date] = (),
        holiday_opens_closed_weekday: bool = False,
        monthly_closures: Iterable[MonthlyClosure] = (),
        closure_periods: Iterable[ClosurePeriod] = (),
        year_end: YearEndClosure | None = None,
    ) -> None:
        self.closed_weekdays = frozenset(closed_weekdays)
        # With one weekday open there is always a next opening day, as closures are a finite
        # list and holidays are a few a year; with none, counting would never end.
        if len(self.closed_weekdays) >= 7:
            raise ConfigurationError("calendar.closed_weekdays", "the library never opens")
        self.public_holidays_closed = public_holidays_closed
        self.holiday_opens_closed_weekday = holiday_opens_closed_weekday
        self.closures = frozenset(closures)
        self.monthly_closures = tuple(monthly_closures)
        self.closure_periods = tuple(closure_periods)
        self.year_end = year_end
        self._holidays = holidays.country_holidays("JP")

    @classmethod
    def from_profile(cls, section: CalendarSection) -> OpeningCalendar:
        return cls(
            closed_weekdays=section.closed_weekdays,
            public_holidays_closed=section.public_holidays_closed,
            closures=section.closures,
            holiday_opens_closed_weekday=section.holiday_opens_closed_weekday,
            monthly_closures=section.monthly_closures,
            closure_periods=section.closure_periods,
            year_end=section.year_end,
        )

    def is_public_holiday(self, day: date) -> bool:
        return day in self._holidays

    def is_open(self, day: date) -> bool:
        """Whether the library opens on ``day`` (the rules in the class docstring)."""
        if self._closed_by_date(day):
            return False
        if self.is_public_holiday(day):
            if day.weekday() in self.closed_weekdays:
                return self.holiday_opens_closed_weekday
            return not self.public_holidays_closed
        if day.weekday() in self.closed_weekdays:
            return False
        return not (self.holiday_opens_closed_weekday and self._is_moved_closing_day(day))

    def _closed_by_date(self, day: date) -> bool:
        if day in self.closures:
            return True
        if any(period.start <= day <= period.end for period in self.closure_periods):
            return True
        if self.year_end is not None:
            month_day = f"{day.month:02d}-{day.day:02d}"
            if (day.month == 12 and month_day >= self.year_end.start) or (
                day.month == 1 and month_day <= self.year_end.end
            ):
                return True
        return any(_is_monthly_closure(day, rule) for rule in self.monthly_closures)

    def _is_moved_closing_day(self, day: date) -> bool:
        """Whether ``day`` closes in place of a closed weekday that opened as a holiday: it
        is the first weekday after that holiday that is neither a holiday nor a closed
        weekday (a Saturday or Sunday never takes the closing)."""
        if day.weekday() >= 5:
            return False
        back = day - timedelta(days=1)
        while True:
            if back.weekday() in self.closed_weekdays and self.is_public_holiday(back):
                return True
            if back.weekday() < 5 and not self.is_public_holiday(back):
                # An ordinary weekday came first: it, or an earlier day, took any closing.
                return False
            back -= timedelta(days=1)

    def add_opening_days(self, start: date, n: int) -> date:
        """The n-th opening day after ``start`` (``start`` itself for n = 0)."""
        return self.counted_opening_days(start, n)[-1] if n else start

    def counted_opening_days(self, start: date, n: int) -> list[date]:
        """The ``n`` opening days after ``start`` that a date ``n`` opening days later counts,
        in order (empty for n = 0); the last one is :meth:`add_opening_days`."""
        if n < 0:
            raise ValueError("n must not be negative")
        counted: list[date] = []
        day = start
        while len(counted) < n:
            day += timedelta(days=1)
            if self.is_open(day):
                counted.append(day)
        return counted

    def opening_days_between(self, start: date, end: date) -> int:
        """Opening days after ``start`` up to and including ``end``; 0 if ``end`` is not later.

        The inverse of :meth:`add_opening_days`: an application made on ``start`` with a
        deadline of d opening days is overdue on ``end`` when this exceeds d.
        """
        days = (end - start).days
        return sum(self.is_open(start + timedelta(days=i)) for i in range(1, days + 1))


def _is_monthly_closure(day: date, rule: MonthlyClosure) -> bool:
    if day.weekday() != rule.weekday:
        return False
    if rule.week == -1:
        return (day + timedelta(days=7)).month != day.month
    return (day.day - 1) // 7 + 1 == rule.week
