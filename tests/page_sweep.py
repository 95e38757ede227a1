"""The pages the sweeps visit: every GET route of a page handler, from the route table, so a
page added later is swept without a change to the sweeps (tests/integration/
test_web_japanese_sweep.py over HTTP, tests/e2e/test_accessibility_browser.py in Chromium).

Path parameters take the values a sweep made data for; any other gets a placeholder, and
the error page that answers is swept like any other page.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Final

from litestar import Litestar

from tests.japanese_text import ascii_in_japanese, iso_dates, visible_text

_PARAMETER: Final = re.compile(r"\{(\w+)(?::(\w+))?\}")
_PLACEHOLDERS: Final = {"int": "999999", "str": "not-a-real-one", "path": "x"}
NOT_FOUND: Final = "/no-such-page"


def page_paths(app: Litestar) -> list[str]:
    """Every GET path of a page handler, parameters still as patterns, sorted, plus a path
    that does not exist (the 404 page)."""
    found: set[str] = set()
    for route in app.routes:
        for methods, entry in getattr(route, "route_handler_map", {}).items():
            handler = entry[0] if isinstance(entry, tuple) else entry
            if "GET" in methods and handler.opt.get("page"):
                found.add(route.path)
    return [*sorted(found), NOT_FOUND]


def fill(path: str, values: Mapping[str, str]) -> str:
    """``path`` with each ``{name:type}`` replaced by ``values[name]`` or a placeholder."""

    def value(match: re.Match[str]) -> str:
        name, kind = match.group(1), match.group(2) or "str"
        return values.get(name, _PLACEHOLDERS.get(kind, "x"))

    return _PARAMETER.sub(value, path)


def text_problems(html: str, lang: str) -> list[str]:
    """ISO dates in the visible text, and in Japanese ASCII colons or parentheses."""
    text = visible_text(html)
    found = [f"ISO date {d}" for d in iso_dates(text)]
    if lang == "ja":
        found += [f"ASCII in Japanese: {s!r}" for s in ascii_in_japanese(text)]
    return found


def visitor_of(path: str) -> Iterator[str]:
    """Who opens ``path`` in the browser sweep: staff pages an administrator, the patron's
    pages the patron, the rest a visitor who is not logged in."""
    if path.startswith("/staff") and path != "/staff/login":
        yield "admin"
    elif path.startswith(("/my", "/card")):
        yield "patron"
    else:
        yield "anonymous"
