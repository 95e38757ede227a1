"""Validated, cached rendering: the entry point the web layer calls."""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

from cardservice.cards.barcodes import paint
from cardservice.cards.barcodes.symbols import (
    DEFAULT_MODULE_PX,
    Symbology,
    build_symbol,
    check_module_px,
    check_text,
    parse_symbology,
)
from cardservice.errors import InvalidInput


class ImageFormat(StrEnum):
    SVG = "svg"
    PNG = "png"


MEDIA_TYPES = {ImageFormat.SVG: "image/svg+xml", ImageFormat.PNG: "image/png"}


@dataclass(frozen=True, slots=True)
class Rendered:
    body: bytes
    media_type: str
    etag: str  # strong and quoted: output is deterministic, so equal tags mean equal bytes


class CacheInfo(NamedTuple):
    hits: int
    misses: int
    maxsize: int
    currsize: int


class _Key(NamedTuple):
    symbology: Symbology
    text: str
    fmt: ImageFormat
    module_px: int  # 0 for SVG, which does not depend on it: one entry serves every size
    human_readable: bool


def _parse_format(value: ImageFormat | str) -> ImageFormat:
    try:
        return ImageFormat(value)
    except ValueError:
        raise InvalidInput(f"Unknown image format {value!r}.", code="barcode_bad_format") from None


def _key(
    symbology: Symbology | str,
    text: str,
    fmt: ImageFormat | str,
    module_px: int,
    human_readable: bool,
) -> _Key:
    sym = parse_symbology(symbology)
    form = _parse_format(fmt)
    check_module_px(sym, module_px)
    check_text(sym, text)
    return _Key(sym, text, form, module_px if form is ImageFormat.PNG else 0, human_readable)


def _render_key(key: _Key) -> Rendered:
    symbol = build_symbol(key.symbology, key.text, key.human_readable)
    body = paint.svg(symbol) if key.fmt is ImageFormat.SVG else paint.png(symbol, key.module_px)
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    return Rendered(body, MEDIA_TYPES[key.fmt], etag)


def render_barcode(
    symbology: Symbology | str,
    text: str,
    fmt: ImageFormat | str,
    *,
    module_px: int = DEFAULT_MODULE_PX,
    human_readable: bool = True,
) -> Rendered:
    """Render without any cache: validate, then paint. Pure and deterministic."""
    return _render_key(_key(symbology, text, fmt, module_px, human_readable))


class _LRU:
    """A thread-safe LRU that can be peeked, which ``functools.lru_cache`` cannot."""

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.maxsize = maxsize
        self.hits = 0
        self.misses = 0
        self._data: OrderedDict[_Key, Rendered] = OrderedDict()
        self._lock = threading.Lock()  # renders run in worker threads

    def get(self, key: _Key) -> Rendered | None:
        with self._lock:
            found = self._data.get(key)
            if found is None:
                self.misses += 1
                return None
            self.hits += 1
            self._data.move_to_end(key)
            return found

    def put(self, key: _Key, value: Rendered) -> Rendered:
        """Store and return the cached value; after a race the first one stored wins."""
        with self._lock:
            value = self._data.setdefault(key, value)
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)
            return value

    def info(self) -> CacheInfo:
        with self._lock:
            return CacheInfo(self.hits, self.misses, self.maxsize, len(self._data))


class BarcodeRenderer:
    """Renders barcodes, caching each result by its full render key (bounded LRU)."""

    def __init__(self, maxsize: int = 1024) -> None:
        self._cache = _LRU(maxsize)

    def render(
        self,
        symbology: Symbology | str,
        text: str,
        fmt: ImageFormat | str,
        *,
        module_px: int = DEFAULT_MODULE_PX,
        human_readable: bool = True,
    ) -> Rendered:
        key = _key(symbology, text, fmt, module_px, human_readable)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        return self._cache.put(key, _render_key(key))

    async def render_async(
        self,
        symbology: Symbology | str,
        text: str,
        fmt: ImageFormat | str,
        *,
        module_px: int = DEFAULT_MODULE_PX,
        human_readable: bool = True,
    ) -> Rendered:
        """Like ``render``; a hit returns at once, a cold render runs in a worker thread."""
        key = _key(symbology, text, fmt, module_px, human_readable)  # cheap: stays inline
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        # Painting is CPU-bound (PNG compression above all): keep it off the event loop.
        return self._cache.put(key, await asyncio.to_thread(_render_key, key))

    def cache_info(self) -> CacheInfo:
        return self._cache.info()
