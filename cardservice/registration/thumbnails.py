"""Small previews of an applicant's own ID images, for the documents page.

The stored images were checked and re-encoded on upload (``documents.check_and_reencode``:
at most ``STORED_LONG_SIDE`` px, JPEG or PNG, no metadata), so decoding one here meets only
our own output. CPU-bound and synchronous: the page runs it in a worker thread.
"""

from __future__ import annotations

import io

from PIL import Image

# 320 px on the long side: sharp on a 3x phone screen at the ~110 CSS px the page shows,
# about 20 kB as JPEG, while the applicant can still tell which side of which card it is.
THUMBNAIL_LONG_SIDE = 320
THUMBNAIL_QUALITY = 80


def thumbnail(image: bytes, *, long_side: int = THUMBNAIL_LONG_SIDE) -> bytes:
    """A JPEG of ``image`` (a stored ID image's plain bytes) at most ``long_side`` px on its
    long side; grey stays grey. Raises ``PIL.UnidentifiedImageError`` for bytes that are not
    an image (never the case for a stored one)."""
    with Image.open(io.BytesIO(image), formats=["JPEG", "PNG"]) as opened:
        opened.draft(None, (long_side, long_side))  # JPEG: decode at a reduced scale
        preview = opened.convert("L" if opened.mode in {"1", "L", "LA"} else "RGB")
    preview.thumbnail((long_side, long_side), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    preview.save(buffer, "JPEG", quality=THUMBNAIL_QUALITY)
    return buffer.getvalue()
