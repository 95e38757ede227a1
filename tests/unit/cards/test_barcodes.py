"""Barcode rendering: every output is decoded back with zxing-cpp, pixels are measured."""

from __future__ import annotations

import asyncio
import io
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from itertools import groupby
from typing import TypeVar

import pytest
import qrcode
import resvg_py
import zxingcpp
from hypothesis import example, given, settings
from hypothesis import strategies as st
from PIL import Image
from qrcode.constants import ERROR_CORRECT_M

from cardservice.cards.barcodes import (
    MODULE_SIZES,
    QR_MASK_PATTERN,
    QR_MODULE_SIZES,
    BarcodeRenderer,
    ImageFormat,
    Rendered,
    Symbology,
    module_sizes,
    new_qr_code,
    render_barcode,
)
from cardservice.cards.barcodes.symbols import build_symbol
from cardservice.errors import InvalidInput, Kind

T = TypeVar("T")
B = Symbology
# The standards' minimum quiet zones, in modules (not the module's own constants, so a
# narrower quiet zone in the code fails here).
LINEAR_QUIET = 10  # ISO/IEC 15417 (Code 128), JIS X 0503 (NW-7)
QR_QUIET = 4  # ISO/IEC 18004
SVG_NS = "{http://www.w3.org/2000/svg}"
# A card token as the QR will carry it: base64url segments joined by dots, 308 characters.
JWT = (
    "eyJhbGciOiJFZERTQSIsInR5cCI6IkpXVCJ9."
    + "eyJzdWIiOiIxMjM0NTY3ODkwIiwibGliIjoiMTMxMDEiLCJleHAiOjE3MDAwMDAwMDB9" * 3
    + ".c2lnbmF0dXJlX2J5dGVzX2hlcmVfYmFzZTY0dXJsX2VuY29kZWRfMTIzNDU2Nzg5MA"
)
TEXTS: dict[Symbology, tuple[str, ...]] = {
    B.CODABAR: ("A1234567890A", "B37859+B", "C0000000001D", "D-$:/.+D"),
    # "1" and "123" end on an odd digit in charset C; python-barcode 0.16.1 alone drops the
    # "99" of "9912345678"; the last one needs XML escaping.
    B.CODE128: ("1234567890", "LIB-00042", "1", "123", "9912345678", "ab 12345 <&\"'> ~"),
    B.QR: (JWT, "図書館カード 0042"),
}
CASES = [(symbology, text) for symbology, texts in TEXTS.items() for text in texts]
LINEAR_CASES = [case for case in CASES if case[0] is not B.QR]
ZXING_FORMAT = {
    B.CODABAR: zxingcpp.BarcodeFormat.Codabar,
    B.CODE128: zxingcpp.BarcodeFormat.Code128,
    B.QR: zxingcpp.BarcodeFormat.QRCode,
}
PNG_GRID = [(sym, text, px) for sym, text in CASES for px in module_sizes(sym)]
LINEAR_PNG_GRID = [(sym, text, px) for sym, text, px in PNG_GRID if sym is not B.QR]
# The offered sizes as whole-pixel scales, plus non-integer ones where bars and modules
# land on fractional pixels and the rasteriser has to snap them.
SVG_GRID = [(sym, text, scale) for sym, text in CASES for scale in (*module_sizes(sym), 2.5, 3.7)]
PATH_SEGMENT = re.compile(r"M(\d+) (\d+)h(\d+)v(\d+)h-\3z")


def case_id(value: object) -> str:
    text = str(value)
    return text if len(text) <= 16 else f"{text[:12]}…{len(text)}"


# --- helpers -------------------------------------------------------------------------------


def open_png(body: bytes) -> Image.Image:
    with Image.open(io.BytesIO(body)) as image:
        image.load()
        return image.copy()


def decode(
    image: Image.Image, only: zxingcpp.BarcodeFormat | None = None
) -> list[tuple[str, zxingcpp.BarcodeFormat]]:
    """Every symbol zxing-cpp finds; by default in any format, so a misread shows up too."""
    formats = zxingcpp.BarcodeFormats([only] if only else [])  # empty: every format
    found = zxingcpp.read_barcodes(image, formats=formats)
    return [(symbol.text, symbol.format) for symbol in found]


def pixel_rows(image: Image.Image) -> list[bytes]:
    grey = image.convert("L")
    data, width = grey.tobytes(), grey.width
    return [data[y * width : (y + 1) * width] for y in range(grey.height)]


def runs(line: Iterable[T]) -> list[tuple[T, int, int]]:
    """(value, start, length) of each run of equal values."""
    found: list[tuple[T, int, int]] = []
    start = 0
    for value, group in groupby(line):
        length = len(list(group))
        found.append((value, start, length))
        start += length
    return found


def bar_block(lines: list[bytes]) -> tuple[int, int]:
    """(top, height) of the bars: the first inked row and the identical rows below it."""
    top = next(y for y, line in enumerate(lines) if min(line) < 255)
    height = next((n for n, line in enumerate(lines[top:]) if line != lines[top]), len(lines) - top)
    return top, height


def parse_svg(body: bytes) -> ET.Element:
    return ET.fromstring(body)  # noqa: S314  # our own output, not untrusted XML


def svg_size(root: ET.Element) -> tuple[int, int]:
    x, y, width, height = (int(part) for part in root.attrib["viewBox"].split())
    assert (x, y) == (0, 0)
    return width, height


def svg_segments(root: ET.Element) -> list[tuple[int, int, int, int]]:
    path = root.find(f"{SVG_NS}path")
    assert path is not None
    d = path.attrib["d"]
    matches = list(PATH_SEGMENT.finditer(d))
    assert "".join(m.group(0) for m in matches) == d  # nothing left unparsed
    return [(int(m[1]), int(m[2]), int(m[3]), int(m[4])) for m in matches]


def module_rows(symbology: Symbology, text: str) -> list[str]:
    """The module pattern the painters are given, to check what they drew against it."""
    return list(build_symbol(symbology, text, human_readable=False).rows)


def qr_pattern(text: str) -> list[list[bool]]:
    return [[cell == "1" for cell in row] for row in module_rows(B.QR, text)]


def qr_modules(image: Image.Image, module_px: int) -> list[list[bool]]:
    """The dark modules of a QR PNG, after checking the quiet zone on all four sides."""
    side = image.width // module_px
    small = image.resize((side, side), Image.Resampling.NEAREST)
    grid = [[value == 0 for value in line] for line in pixel_rows(small)]
    # The finder patterns put ink in the symbol's outermost rows and columns.
    rows = [y for y, row in enumerate(grid) if any(row)]
    columns = [x for x in range(side) if any(row[x] for row in grid)]
    top, bottom, left, right = rows[0], rows[-1], columns[0], columns[-1]
    assert min(top, left, side - 1 - bottom, side - 1 - right) >= QR_QUIET
    return [row[left : right + 1] for row in grid[top : bottom + 1]]


def dark_runs(pattern: list[str]) -> int:
    return sum(1 for row in pattern for value, _, _ in runs(row) if value == "1")


def raise_code(excinfo: pytest.ExceptionInfo[InvalidInput]) -> str:
    assert excinfo.value.kind is Kind.INVALID
    return str(excinfo.value.as_dict()["code"])


# --- decoding --------------------------------------------------------------------------------


@pytest.mark.parametrize(("symbology", "text", "module_px"), PNG_GRID, ids=case_id)
def test_png_decodes_to_exact_text(symbology: Symbology, text: str, module_px: int) -> None:
    rendered = render_barcode(symbology, text, "png", module_px=module_px)
    # zxing-cpp 3.x returns Codabar with its start and stop characters, so for every
    # symbology the decoded text is exactly what was put in.
    assert decode(open_png(rendered.body)) == [(text, ZXING_FORMAT[symbology])]


@pytest.mark.parametrize(("symbology", "text", "scale"), SVG_GRID, ids=case_id)
def test_svg_rasterised_decodes_to_exact_text(
    symbology: Symbology, text: str, scale: float
) -> None:
    svg = render_barcode(symbology, text, "svg").body
    width, _ = svg_size(parse_svg(svg))
    raster = resvg_py.svg_to_bytes(svg_string=svg.decode(), width=round(width * scale))
    assert decode(open_png(raster)) == [(text, ZXING_FORMAT[symbology])]


@pytest.mark.parametrize(("symbology", "text"), LINEAR_CASES, ids=case_id)
def test_png_without_caption_is_one_bit_and_decodes(symbology: Symbology, text: str) -> None:
    image = open_png(render_barcode(symbology, text, "png", module_px=2, human_readable=False).body)
    lines = pixel_rows(image)
    top, height = bar_block(lines)
    assert image.mode == "1"
    assert all(min(line) == 255 for line in lines[top + height :])  # nothing under the bars
    assert decode(image) == [(text, ZXING_FORMAT[symbology])]


_CODABAR_DATA = st.text(alphabet="0123456789-$:/.+", min_size=2, max_size=20)
_START_STOP = st.sampled_from("ABCD")


@settings(max_examples=30, deadline=None)
@given(start=_START_STOP, data=_CODABAR_DATA, stop=_START_STOP)
def test_any_codabar_text_round_trips(start: str, data: str, stop: str) -> None:
    text = start + data + stop
    image = open_png(render_barcode(B.CODABAR, text, "png", module_px=2).body)
    # Only Codabar: random text must not make the test flaky on a rare stray match.
    codabar = zxingcpp.BarcodeFormat.Codabar
    assert decode(image, only=codabar) == [(text, codabar)]


@settings(max_examples=30, deadline=None)
@given(
    text=st.text(
        alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=64
    )
)
@example(text="99")
@example(text="99A")
def test_any_printable_ascii_round_trips_in_code128(text: str) -> None:
    # python-barcode switches between charsets B and C by itself; decoding proves it right.
    image = open_png(render_barcode(B.CODE128, text, "png", module_px=2).body)
    code128 = zxingcpp.BarcodeFormat.Code128
    assert decode(image, only=code128) == [(text, code128)]


# --- PNG pixels ------------------------------------------------------------------------------


@pytest.mark.parametrize(("symbology", "text", "module_px"), LINEAR_PNG_GRID, ids=case_id)
def test_linear_png_bars_are_whole_pixels_with_quiet_zones(
    symbology: Symbology, text: str, module_px: int
) -> None:
    image = open_png(render_barcode(symbology, text, "png", module_px=module_px).body)
    lines = pixel_rows(image)
    top, height = bar_block(lines)
    bar_runs = runs(lines[top])
    # Pure black or white only: the identical rows make each column uniform over the bars.
    assert set(lines[top]) <= {0, 255}
    assert height >= max(50, 0.15 * image.width)
    # Every edge on the module grid, every bar and space a whole number of modules.
    assert all(start % module_px == 0 and length % module_px == 0 for _, start, length in bar_runs)
    widths = {length // module_px for _, _, length in bar_runs[1:-1]}
    assert widths <= ({1, 3} if symbology is B.CODABAR else {1, 2, 3, 4})
    quiet = LINEAR_QUIET * module_px
    (first_value, _, first_length), (last_value, _, last_length) = bar_runs[0], bar_runs[-1]
    assert (first_value, last_value) == (255, 255)
    assert min(first_length, last_length) >= quiet
    # Nothing, the caption included, reaches into either quiet zone.
    assert all(min(line[:quiet]) == 255 and min(line[-quiet:]) == 255 for line in lines)
    assert any(min(line) < 255 for line in lines[top + height :])  # the caption is there


@pytest.mark.parametrize("module_px", QR_MODULE_SIZES)
@pytest.mark.parametrize("text", TEXTS[B.QR], ids=case_id)
def test_qr_png_modules_are_whole_pixel_squares(text: str, module_px: int) -> None:
    image = open_png(render_barcode(B.QR, text, "png", module_px=module_px).body)
    side = image.width // module_px
    assert image.mode == "1"
    assert image.size == (side * module_px, side * module_px)
    modules = image.resize((side, side), Image.Resampling.NEAREST)
    # Blowing the one-pixel-per-module image back up gives the same pixels: each module
    # is a uniform module_px square, edges on whole pixels.
    restored = modules.resize(image.size, Image.Resampling.NEAREST)
    assert restored.tobytes() == image.tobytes()
    assert qr_modules(image, module_px) == qr_pattern(text)


@pytest.mark.parametrize("fmt", list(ImageFormat))
@pytest.mark.parametrize("symbology", list(Symbology))
def test_output_is_deterministic(symbology: Symbology, fmt: ImageFormat) -> None:
    text = TEXTS[symbology][0]
    first = render_barcode(symbology, text, fmt)
    second = render_barcode(symbology, text, fmt)
    assert first == second
    assert first.media_type == ("image/svg+xml" if fmt is ImageFormat.SVG else "image/png")


# --- SVG structure ---------------------------------------------------------------------------


@pytest.mark.parametrize(("symbology", "text"), CASES, ids=case_id)
def test_svg_structure(symbology: Symbology, text: str) -> None:
    root = parse_svg(render_barcode(symbology, text, "svg").body)
    width, height = svg_size(root)
    # Module units only: width and height repeat the viewBox, so any screen can scale it.
    assert (root.attrib["width"], root.attrib["height"]) == (str(width), str(height))
    assert root.attrib["shape-rendering"] == "crispEdges"
    background = root[0]
    assert background.tag == f"{SVG_NS}rect"
    assert background.attrib == {"width": str(width), "height": str(height), "fill": "#fff"}
    segments = svg_segments(root)
    pattern = module_rows(symbology, text)
    assert len(segments) == dark_runs(pattern)  # one segment per bar or run, not per module
    if symbology is B.CODABAR:
        assert len(segments) == 4 * len(text)  # every Codabar character has four bars
    quiet = QR_QUIET if symbology is B.QR else LINEAR_QUIET
    assert min(x for x, _, _, _ in segments) >= quiet
    assert max(x + w for x, _, w, _ in segments) <= width - quiet
    if symbology is B.QR:
        assert min(y for _, y, _, _ in segments) >= quiet
        assert max(y + h for _, y, _, h in segments) <= height - quiet


@pytest.mark.parametrize(
    ("symbology", "text", "caption"),
    [
        (B.CODABAR, "A1234567890A", "1234567890"),
        (B.CODABAR, "B37859+B", "37859+"),
        (B.CODABAR, "C0000000001D", "0000000001"),
        (B.CODE128, "LIB-00042", "LIB-00042"),
        (B.CODE128, "ab 12345 <&\"'> ~", "ab 12345 <&\"'> ~"),
    ],
)
def test_svg_caption_shows_the_number_without_start_stop(
    symbology: Symbology, text: str, caption: str
) -> None:
    root = parse_svg(render_barcode(symbology, text, "svg").body)
    width, height = svg_size(root)
    element = root.find(f"{SVG_NS}text")
    assert element is not None
    assert element.text == caption
    assert element.attrib["font-family"] == "monospace"
    assert element.attrib["text-anchor"] == "middle"
    assert float(element.attrib["x"]) == width / 2
    bars_bottom = max(y + h for _, y, _, h in svg_segments(root))
    assert bars_bottom < float(element.attrib["y"]) <= height


@pytest.mark.parametrize(
    ("symbology", "human_readable"),
    [(B.CODABAR, False), (B.CODE128, False), (B.QR, True), (B.QR, False)],
)
def test_svg_without_caption(symbology: Symbology, human_readable: bool) -> None:
    body = render_barcode(symbology, TEXTS[symbology][0], "svg", human_readable=human_readable).body
    assert parse_svg(body).find(f"{SVG_NS}text") is None


# --- QR construction -------------------------------------------------------------------------


def test_qr_mask_is_fixed_before_make() -> None:
    qr = new_qr_code("LIB-00042")
    # qrcode's make() scores all eight masks (best_mask_pattern) only when this is None.
    assert qr.mask_pattern == QR_MASK_PATTERN
    qr.make()
    assert qr.mask_pattern == QR_MASK_PATTERN
    assert qr.version == 1


def test_qr_version_is_the_smallest_that_fits() -> None:
    qr = new_qr_code(JWT)
    qr.make()
    # 308 bytes: version 12-M holds 287 bytes, version 13-M holds 331 (ISO/IEC 18004 table 7).
    assert qr.version == 13


def test_painted_qr_uses_the_fixed_mask_not_the_best_one() -> None:
    text = "LIB-00042"
    free = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=0)
    free.add_data(text)
    free.make()  # the slow path: tries every mask
    best = [list(row) for row in free.modules]  # copied: best_mask_pattern() overwrites them
    assert free.best_mask_pattern() != QR_MASK_PATTERN  # else this test could not fail
    image = open_png(render_barcode(B.QR, text, "png", module_px=2, human_readable=False).body)
    painted = qr_modules(image, 2)
    assert painted == qr_pattern(text)
    assert painted != best


# --- cache -----------------------------------------------------------------------------------


def test_second_render_is_a_cache_hit_with_the_same_object() -> None:
    renderer = BarcodeRenderer()
    first = renderer.render(B.CODABAR, "A1234567890A", "png")
    second = renderer.render("codabar", "A1234567890A", ImageFormat.PNG)
    assert second is first
    info = renderer.cache_info()
    assert (info.hits, info.misses, info.currsize) == (1, 1, 1)


def test_etag_is_strong_quoted_and_follows_the_bytes() -> None:
    one = BarcodeRenderer().render(B.CODE128, "LIB-00042", "svg")
    other = BarcodeRenderer().render(B.CODE128, "LIB-00042", "svg")
    assert one.etag == other.etag
    assert re.fullmatch(r'"[0-9a-f]{32}"', one.etag)  # quoted, no W/ prefix


def test_different_inputs_have_different_etags() -> None:
    renderer = BarcodeRenderer()
    requests = [
        (B.CODABAR, "A1234567890A", "png", 3, True),
        (B.CODABAR, "A1234567891A", "png", 3, True),
        (B.CODABAR, "B1234567890B", "png", 3, True),
        (B.CODABAR, "A1234567890A", "png", 4, True),
        (B.CODABAR, "A1234567890A", "png", 3, False),
        (B.CODABAR, "A1234567890A", "svg", 3, True),
        (B.CODE128, "1234567890", "png", 3, True),
        (B.QR, "A1234567890A", "png", 3, True),
    ]
    rendered = [
        renderer.render(sym, text, fmt, module_px=px, human_readable=hr)
        for sym, text, fmt, px, hr in requests
    ]
    assert len({r.etag for r in rendered}) == len(requests)
    assert renderer.cache_info().currsize == len(requests)


def test_svg_is_cached_once_for_every_module_size() -> None:
    renderer = BarcodeRenderer()
    first = renderer.render(B.CODE128, "LIB-00042", "svg", module_px=2)
    assert renderer.render(B.CODE128, "LIB-00042", "svg", module_px=8) is first
    assert renderer.cache_info().hits == 1


def test_cache_is_bounded_and_evicts_the_least_recent() -> None:
    renderer = BarcodeRenderer(maxsize=2)
    renderer.render(B.CODE128, "1", "svg")
    renderer.render(B.CODE128, "2", "svg")
    renderer.render(B.CODE128, "1", "svg")  # hit: "1" is now the most recent
    renderer.render(B.CODE128, "3", "svg")  # evicts "2"
    assert renderer.cache_info().currsize == 2
    renderer.render(B.CODE128, "1", "svg")
    assert renderer.cache_info().hits == 2
    renderer.render(B.CODE128, "2", "svg")
    assert renderer.cache_info().misses == 4


def test_cache_needs_room() -> None:
    with pytest.raises(ValueError, match="maxsize"):
        BarcodeRenderer(maxsize=0)


def test_async_hit_returns_without_suspending() -> None:
    renderer = BarcodeRenderer()
    warm = renderer.render(B.QR, JWT, "svg")
    coroutine = renderer.render_async(B.QR, JWT, "svg")
    # A hit finishes on the first step: no thread hop, not even a yield to the loop.
    with pytest.raises(StopIteration) as stop:
        coroutine.send(None)
    assert stop.value.value is warm


async def test_async_cold_render_suspends_for_a_worker_thread() -> None:
    renderer = BarcodeRenderer()
    coroutine = renderer.render_async(B.QR, JWT, "png", module_px=4)
    waiting_on = coroutine.send(None)  # suspends on the worker thread's future
    assert isinstance(waiting_on, asyncio.Future)
    # asyncio.wait, not await: the future was yielded once already, outside any task.
    await asyncio.wait({waiting_on})
    with pytest.raises(StopIteration) as stop:
        coroutine.send(None)
    rendered: Rendered = stop.value.value
    assert rendered == render_barcode(B.QR, JWT, "png", module_px=4)
    assert await renderer.render_async(B.QR, JWT, "png", module_px=4) is rendered
    info = renderer.cache_info()
    assert (info.hits, info.misses) == (1, 1)


# --- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("symbology", "text"),
    [
        (B.CODABAR, "1234567890"),  # no start or stop
        (B.CODABAR, "A1234567890"),  # no stop
        (B.CODABAR, "a1234567890a"),  # start/stop are upper case
        (B.CODABAR, "AA"),  # no data
        (B.CODABAR, "A1A"),  # one data character: decoders refuse it
        (B.CODABAR, "A12X4A"),
        (B.CODABAR, "A" + "1" * 63 + "A"),  # 65 characters
        (B.CODE128, ""),
        (B.CODE128, "カード"),
        (B.CODE128, "tab\there"),
        (B.CODE128, "x" * 65),
        (B.QR, ""),
        (B.QR, "\ud800"),  # a lone surrogate has no UTF-8 form
        (B.QR, "あ" * 342),  # 1026 UTF-8 bytes
    ],
    ids=case_id,
)
def test_unencodable_text(symbology: Symbology, text: str) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        render_barcode(symbology, text, "svg")
    assert raise_code(excinfo) == "barcode_unencodable"
    assert excinfo.value.detail == {"symbology": symbology.value}


def test_longest_texts_are_accepted() -> None:
    assert render_barcode(B.QR, "x" * 1024, "svg").body
    assert render_barcode(B.CODE128, "x" * 64, "svg").body
    assert render_barcode(B.CODABAR, "A" + "1" * 62 + "A", "svg").body


@pytest.mark.parametrize("fmt", list(ImageFormat))
@pytest.mark.parametrize(
    ("symbology", "module_px"),
    [(B.CODABAR, 0), (B.CODABAR, 5), (B.CODE128, 10), (B.CODE128, True), (B.QR, 1), (B.QR, 12)],
)
def test_module_size_must_be_offered(symbology: Symbology, module_px: int, fmt: str) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        render_barcode(symbology, TEXTS[symbology][0], fmt, module_px=module_px)
    assert raise_code(excinfo) == "barcode_bad_size"
    assert excinfo.value.detail == {"allowed": module_sizes(symbology)}


def test_offered_sizes() -> None:
    # A contract with the card page's size picker; every one is decoded above.
    assert module_sizes(B.CODABAR) == module_sizes(B.CODE128) == MODULE_SIZES == (1, 2, 3, 4, 6, 8)
    assert module_sizes(B.QR) == QR_MODULE_SIZES == (2, 3, 4, 6, 8, 10)


@pytest.mark.parametrize("symbology", ["ean13", "QR", "nw7", ""])
def test_unknown_symbology(symbology: str) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        BarcodeRenderer().render(symbology, "1234", "svg")
    assert raise_code(excinfo) == "barcode_bad_symbology"


@pytest.mark.parametrize("fmt", ["gif", "SVG", ""])
async def test_unknown_format(fmt: str) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        await BarcodeRenderer().render_async(B.CODE128, "1234", fmt)
    assert raise_code(excinfo) == "barcode_bad_format"
