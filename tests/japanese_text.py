"""What the date and punctuation sweeps check in a page's or an email's visible text.

- :func:`visible_text`: the text a reader sees in HTML (tags, scripts, styles, comments
  and attributes dropped, entities decoded; ``<time datetime>`` keeps its ISO value in the
  attribute, which is not text).
- :func:`iso_dates`: dates written as 2029-11-30 or 2029/11/30, which belong in the API only.
- :func:`ascii_in_japanese`: an ASCII colon or parenthesis next to Japanese (状態: 有効,
  (おもて)): Japanese labels take 「：」「（）」. URLs and email addresses are left out first,
  and so are times (14:05) and ASCII beside ASCII (JPEG (5 MB)), which are not Japanese text.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from typing import Final

ISO_DATE: Final = re.compile(
    r"(?<![\d-])(1[89]|2[01])\d{2}[-/](0?[1-9]|1[0-2])[-/](0?[1-9]|[12]\d|3[01])(?!\d)"
)
_URL_OR_ADDRESS: Final = re.compile(r"https?://\S+|[\w.+-]+@[\w-]+(\.[\w-]+)+")
# Hiragana, katakana, CJK ideographs, the CJK punctuation block and full-width forms.
_JAPANESE: Final = re.compile(r"[\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff01-\uff60]")
_ASCII_MARK: Final = re.compile(r"[:()]")


class _Text(HTMLParser):
    SKIPPED: Final = frozenset({"script", "style", "template", "noscript"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIPPED:
            self._skipping += 1
        elif tag in {"br", "p", "li", "dt", "dd", "tr", "td", "th", "h1", "h2", "h3", "div"}:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIPPED and self._skipping:
            self._skipping -= 1
        elif tag in {"p", "li", "dt", "dd", "td", "th", "h1", "h2", "h3", "div", "label"}:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def visible_text(page: str) -> str:
    """The text of ``page`` (HTML) as lines, one per block element, blanks dropped."""
    parser = _Text()
    parser.feed(page)
    parser.close()
    lines = (" ".join(html.unescape(line).split()) for line in "".join(parser.parts).split("\n"))
    return "\n".join(line for line in lines if line)


def iso_dates(text: str) -> list[str]:
    """Every ISO-looking date in ``text`` (URLs and addresses left out)."""
    return [m.group(0) for m in ISO_DATE.finditer(_URL_OR_ADDRESS.sub(" ", text))]


def ascii_in_japanese(text: str) -> list[str]:
    """Each ASCII ``:``, ``(`` or ``)`` whose nearest neighbour on either side (spaces
    skipped) is Japanese, with ten characters of context on each side."""
    found = []
    for line in _URL_OR_ADDRESS.sub(" ", text).split("\n"):
        for match in _ASCII_MARK.finditer(line):
            before = line[: match.start()].rstrip()[-1:]
            after = line[match.end() :].lstrip()[:1]
            if _JAPANESE.match(before or " ") or _JAPANESE.match(after or " "):
                found.append(line[max(0, match.start() - 10) : match.end() + 10])
    return found
