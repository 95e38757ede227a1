"""Paint a module pattern as SVG or PNG.

One geometry (``_bars``) serves both painters, so the two formats always agree on where a
bar is. Both outputs are deterministic: the same symbol gives the same bytes.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from math import ceil
from xml.sax.saxutils import escape

from PIL import Image, ImageDraw, ImageFont

from cardservice.cards.barcodes.symbols import Symbol

LINEAR_VMARGIN_MODULES = 4  # cosmetic only: linear codes need no quiet zone above or below
BAR_HEIGHT_RATIO = 0.15  # bars at least 15 % of the symbol width, the usual guidance
MIN_BAR_PX = 50  # so a hand scanner's line crosses every bar even on a short symbol
MIN_BAR_MODULES = 20  # the SVG counterpart of MIN_BAR_PX
CAPTION_MODULES = 8  # height of the human-readable line
CAPTION_GAP_MODULES = 2
MIN_CAPTION_PX = 12  # below this the default font is unreadable
MONOSPACE_ADVANCE = 0.62  # em width of a monospace glyph, with a little room to spare


@dataclass(frozen=True, slots=True)
class _Layout:
    """Placement in output units: modules for SVG, pixels for PNG."""

    unit: int  # output units per module
    width: int
    top: int  # y of the first row of modules
    row_height: int
    bottom: int  # y just below the last row


def _layout(symbol: Symbol, unit: int, min_bar: int) -> _Layout:
    width = (symbol.columns + 2 * symbol.quiet) * unit
    if symbol.linear:
        row_height = max(min_bar, ceil(width * BAR_HEIGHT_RATIO))
        top = LINEAR_VMARGIN_MODULES * unit
    else:
        row_height = unit
        top = symbol.quiet * unit
    return _Layout(unit, width, top, row_height, top + row_height * len(symbol.rows))


def _runs(row: str) -> Iterator[tuple[int, int]]:
    """(start, length) of each run of dark modules, so a bar is one shape, not many."""
    for match in re.finditer("1+", row):
        yield match.start(), match.end() - match.start()


def _bars(symbol: Symbol, layout: _Layout) -> Iterator[tuple[int, int, int, int]]:
    """Every dark run as (x, y, width, height) in output units."""
    unit = layout.unit
    for index, row in enumerate(symbol.rows):
        y = layout.top + index * layout.row_height
        for start, length in _runs(row):
            yield (symbol.quiet + start) * unit, y, length * unit, layout.row_height


def _lower_margin(symbol: Symbol, layout: _Layout) -> int:
    modules = LINEAR_VMARGIN_MODULES if symbol.linear else symbol.quiet
    return modules * layout.unit


# --- SVG -------------------------------------------------------------------------------------


def _num(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _svg_caption(symbol: Symbol, layout: _Layout, caption: str) -> tuple[str, int]:
    """The <text> element and the height it takes below the bars."""
    # Shrink a long caption so it stays over the bars, clear of the quiet zone.
    size = min(CAPTION_MODULES, symbol.columns / (MONOSPACE_ADVANCE * len(caption)))
    baseline = layout.bottom + CAPTION_GAP_MODULES + size
    element = (
        f'<text x="{_num(layout.width / 2)}" y="{_num(baseline)}" font-family="monospace" '
        f'font-size="{_num(size)}" text-anchor="middle" fill="#000">{escape(caption)}</text>'
    )
    return element, CAPTION_GAP_MODULES + ceil(size)


def svg(symbol: Symbol) -> bytes:
    """One <svg> in module units: the viewBox lets any screen scale it."""
    layout = _layout(symbol, 1, MIN_BAR_MODULES)
    text, text_height = "", 0
    if symbol.caption:
        text, text_height = _svg_caption(symbol, layout, symbol.caption)
    height = layout.bottom + text_height + _lower_margin(symbol, layout)
    path = "".join(f"M{x} {y}h{w}v{h}h-{w}z" for x, y, w, h in _bars(symbol, layout))
    document = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {layout.width} {height}" '
        f'width="{layout.width}" height="{height}" shape-rendering="crispEdges">'
        f'<rect width="{layout.width}" height="{height}" fill="#fff"/>'
        f'<path fill="#000" d="{path}"/>{text}</svg>'
    )
    return document.encode("utf-8")


# --- PNG -------------------------------------------------------------------------------------

_Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


def _png_font(symbol: Symbol, layout: _Layout, caption: str) -> _Font:
    size = max(MIN_CAPTION_PX, CAPTION_MODULES * layout.unit)
    available = symbol.columns * layout.unit
    measured = ImageFont.load_default(size=size).getlength(caption)
    if measured > available:  # shrink in proportion so the line stays over the bars
        size = max(1, int(size * available / measured))
    return ImageFont.load_default(size=size)


def png(symbol: Symbol, module_px: int) -> bytes:
    """Whole-pixel bars at ``module_px`` pixels per module, optimised PNG."""
    layout = _layout(symbol, module_px, MIN_BAR_PX)
    caption = symbol.caption
    font = _png_font(symbol, layout, caption) if caption else None
    left, top, right, bottom = font.getbbox(caption) if font and caption else (0, 0, 0, 0)
    caption_top = layout.bottom + CAPTION_GAP_MODULES * module_px
    content_bottom = caption_top + int(bottom - top) if font else layout.bottom
    height = content_bottom + _lower_margin(symbol, layout)
    # Mode "1" is smallest; a caption needs grey levels for legible antialiased glyphs.
    image = Image.new("L" if font else "1", (layout.width, height), 255)
    draw = ImageDraw.Draw(image)
    for x, y, w, h in _bars(symbol, layout):
        draw.rectangle((x, y, x + w - 1, y + h - 1), fill=0)  # Pillow's corners are inclusive
    if font and caption:
        x = (layout.width - int(right - left)) // 2 - int(left)
        draw.text((x, caption_top - int(top)), caption, font=font, fill=0)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()
