"""The library's calendar: its local date, and the days it is open."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
from babel.dates import format_date

from cardservice.errors import ConfigurationError
from cardservice.profiles.schema import CalendarSection

# Babel's locales for the two languages: 2026年11月24日 / 24 November 2026 (British English).
_DATE_LOCALES = {"ja": "ja_JP", "en": "en_GB"}


def written_date(day: date, lang: str, *, weekday: bool = False) -> str:
    """``day`` as people write it in ``lang`` ("ja" or "en"; anything else reads as "ja"):
    2027年3月1日 / 1 March 2027, or with ``weekday`` 2027年3月1日月曜日 / Monday, 1 March 2027."""
    locale = _DATE_LOCALES.get(lang, "ja_JP")
    return format_date(day, format="full" if weekday else "long", locale=locale)


def local_today(tz: ZoneInfo, now: datetime | None = None) -> date:
    """Today's date where the library is; expiry dates are the library's dates."""
    return (now or datetime.now(UTC)).astimezone(tz).date()


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
    """The days the library is open: not a closed weekday, not a special closure, and, if the
    library closes on them, not a Japanese public holiday (substitute holidays 振替休日 and
    citizens' holidays 国民の休日 included, from the ``holidays`` package).

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
    ) -> None:
        self.closed_weekdays = frozenset(closed_weekdays)
        # With one weekday open there is always a next opening day, as closures are a finite
        # list and holidays are a few a year; with none, counting would never end.
        if len(self.closed_weekdays) >= 7:
            raise ConfigurationError("calendar.closed_weekdays", "the library never opens")
        self.public_holidays_closed = public_holidays_closed
        self.closures = frozenset(closures)
        self._holidays = holidays.country_holidays("JP")

    @classmethod
    def from_profile(cls, section: CalendarSection) -> OpeningCalendar:
        return cls(
            closed_weekdays=section.closed_weekdays,
            public_holidays_closed=section.public_holidays_closed,
            closures=section.closures,
        )

    def is_public_holiday(self, day: date) -> bool:
        return day in self._holidays

    def is_open(self, day: date) -> bool:
        if day.weekday() in self.closed_weekdays or day in self.closures:
            return False
        return not (self.public_holidays_closed and self.is_public_holiday(day))

    def add_opening_days(self, start: date, n: int) -> date:
        """The n-th opening day after ``start`` (``start`` itself for n = 0)."""
        if n < 0:
            raise ValueError("n must not be negative")
        day = start
        while n:
            day += timedelta(days=1)
            if self.is_open(day):
                n -= 1
        return day

    def opening_days_between(self, start: date, end: date) -> int:
        """Opening days after ``start`` up to and including ``end``; 0 if ``end`` is not later.

        The inverse of :meth:`add_opening_days`: an application made on ``start`` with a
        deadline of d opening days is overdue on ``end`` when this exceeds d.
        """
        days = (end - start).days
        return sum(self.is_open(start + timedelta(days=i)) for i in range(1, days + 1))
