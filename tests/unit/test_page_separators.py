"""Pages join the parts of a list line (date, state, address) with ``sep()``: 「、」 in
Japanese, where a middle dot between spaces is not written, and " · " in English."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment

from cardservice.web.labels import install_label_filters

PAGES = Path(__file__).parents[2] / "cardservice" / "templates" / "pages"


def test_no_page_writes_a_middle_dot_itself() -> None:
    written = [
        str(path.relative_to(PAGES))
        for path in PAGES.rglob("*.html")
        if "·" in path.read_text(encoding="utf-8")
    ]
    assert written == []


def test_the_separator_follows_the_language() -> None:
    env = Environment(autoescape=True)
    install_label_filters(env)
    line = env.from_string("12時05分{{ sep() }}完了")
    assert line.render(lang="ja") == "12時05分、完了"
    assert env.from_string("12:05{{ sep() }}Done").render(lang="en") == "12:05 · Done"
