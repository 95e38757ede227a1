"""The Jinja filters that write dates and times, for pages and emails alike.

One set, installed in both template environments, so a page and the email about the same
thing write a date the same way (``calendar.written_date``):

- ``longdate``: 2029年11月30日 / 30 November 2029; ``longdate(weekday=True)`` adds the day
  of the week (2029年11月30日（金）), for a day to come, never for a birth date;
- ``shortday``: 12月1日（火） / Tue 1 Dec, a day in a list;
- ``dateish``: a value that may be an ISO date string (an audit entry's detail): the date
  written as ``longdate`` writes it, anything else unchanged;
- ``localtime``: an instant on the library's wall clock, 2029年11月30日 14時05分 /
  30 Nov 2029, 14:05.

The filters read ``lang`` ("ja" or "en") from the template's context, ``japanese_era``
(the profile's ``display.japanese_era``: 令和11年（2029年）11月30日 in Japanese) and, for
``localtime``, ``timezone`` (an IANA name). ISO 8601 belongs in the API and in ``<time
datetime>`` attributes, never in a sentence.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date
from jinja2 import Environment, pass_context
from jinja2.runtime import Context

from cardservice.calendar import short_day, written_date


@pass_context
def long_date(context: Context, value: date, weekday: bool = False) -> str:
    """The ``longdate`` filter: ``value`` in the template's language (module docstring)."""
    return written_date(
        value,
        context.get("lang", "ja"),
        weekday=weekday,
        era=bool(context.get("japanese_era", False)),
    )


@pass_context
def short_day_filter(context: Context, value: date) -> str:
    """The ``shortday`` filter: 12月1日（火） / Tue 1 Dec."""
    return short_day(value, context.get("lang", "ja"))


@pass_context
def dateish(context: Context, value: object) -> object:
    """The ``dateish`` filter: ``value`` written as a date when it is ``YYYY-MM-DD``."""
    if isinstance(value, str) and len(value) == 10:
        try:
            day = date.fromisoformat(value)
        except ValueError:
            return value
        return long_date(context, day)
    return value


def written_time(value: datetime, lang: str, timezone: str, *, era: bool = False) -> str:
    """An aware instant on the wall clock of ``timezone``: 2029年11月30日 14時05分
    (with ``era``, 令和11年（2029年）11月30日 14時05分) / 30 Nov 2029, 14:05 (24-hour clock)."""
    local = value.astimezone(ZoneInfo(timezone))
    if lang == "en":
        day = format_date(local.date(), format="d MMM y", locale="en_GB")
        return f"{day}, {local:%H:%M}"
    return f"{written_date(local.date(), lang, era=era)} {local.hour}時{local.minute:02d}分"


@pass_context
def local_time(context: Context, value: datetime | None) -> str:
    """The ``localtime`` filter: ``written_time`` in the template's language and the
    library's ``timezone``; "" for no instant."""
    if value is None:
        return ""
    return written_time(
        value,
        context.get("lang", "ja"),
        context["timezone"],
        era=bool(context.get("japanese_era", False)),
    )


def install_date_filters(env: Environment) -> None:
    """Add ``longdate``, ``shortday``, ``dateish`` and ``localtime`` to ``env``."""
    env.filters["longdate"] = long_date
    env.filters["shortday"] = short_day_filter
    env.filters["dateish"] = dateish
    env.filters["localtime"] = local_time
