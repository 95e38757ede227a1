"""The library's calendar: its local date, and (with the registration pipeline) opening days."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


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
