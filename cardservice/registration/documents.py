"""Identity-document images: checked by content, then re-encoded without any metadata.

:func:`check_and_reencode` is CPU-bound and synchronous; async callers run it in a worker
thread (``anyio.to_thread.run_sync``). Encryption at rest happens after it, elsewhere.

Only the profile's formats are ever opened, so Pillow's other decoders (PSD, PDF, TIFF, ...)
never see an upload. The pixel count is checked from the header, before any pixel is
decoded. The output is a fresh image built from the upright pixels alone: no EXIF, GPS,
ICC profile, XMP or comment survives, whatever the input carried.
"""

from __future__ import annotations

import io
import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

from PIL import Image, ImageOps, UnidentifiedImageError

from cardservice.errors import InvalidInput
from cardservice.profiles.schema import DocumentsSection, DocumentType, LocalText, LongLocalText
from cardservice.registration import Messages

Side = Literal["front", "back"]
OutputFormat = Literal["jpeg", "png"]

JPEG_QUALITY = 90  # ID photos must stay legible: small print, hologram patterns
_PILLOW_NAMES = {"jpeg": "JPEG", "png": "PNG", "gif": "GIF"}
_GREY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"})
_SIXTEEN_BIT_MODES = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N"})
# What Pillow raises for a file that starts like an image but is broken.
_DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError)

MESSAGES: Messages = {
    "document_empty": {
        "ja": "ファイル「{filename}」は空です。",
        "en": "The file {filename} is empty.",
    },
    "document_too_large": {
        "ja": "ファイル「{filename}」は大きすぎます（上限 {max_mb}MB）。"
        "上限を超える場合は窓口でお申し込みください。",
        "en": "The file {filename} is too large (at most {max_mb} MB). "
        "If you cannot make it smaller, please apply at the counter.",
    },
    "document_bad_type": {
        "ja": "ファイル「{filename}」は画像として読み取れません。"
        "{formats} の画像を添付してください。",
        "en": "The file {filename} is not an image we accept. Attach a {formats} image.",
    },
    "document_too_many_pixels": {
        "ja": "画像「{filename}」の画素数が多すぎます（上限 {max_megapixels} メガピクセル）。"
        "解像度を下げて撮影してください。",
        "en": "The image {filename} has too many pixels (at most {max_megapixels} megapixels). "
        "Take the photo at a lower resolution.",
    },
    "document_damaged": {
        "ja": "画像「{filename}」が壊れているか、途中までしかありません。"
        "もう一度撮影して添付してください。",
        "en": "The image {filename} is damaged or incomplete. Please take it again and attach it.",
    },
    "document_too_many": {
        "ja": "添付できるファイルは {max_files} 点までです。",
        "en": "You can attach at most {max_files} files.",
    },
}

# Shown next to every upload field, whatever the profile's notes say: the law forbids
# collecting the Individual Number, and it is printed on the back of the My Number card.
MY_NUMBER_BACK_WARNING = {
    "ja": "マイナンバーカードのうら面（個人番号が記載された面）は絶対に添付しないでください。",
    "en": "Never attach the back of a My Number Card: it shows the Individual Number.",
}
SIDE_NAMES: dict[Side, dict[str, str]] = {
    "front": {"ja": "おもて", "en": "front"},
    "back": {"ja": "うら", "en": "back"},
}


class DocumentRejected(InvalidInput):
    """The uploaded file cannot be used as an identity document; the code says why."""

    code = "document_rejected"


@dataclass(frozen=True, slots=True)
class CleanImage:
    data: bytes
    format: OutputFormat
    width: int
    height: int

    @property
    def content_type(self) -> str:
        return f"image/{self.format}"


@dataclass(frozen=True, slots=True)
class UploadGuide:
    """What to photograph for one document type, for the upload page."""

    id: str
    name: LocalText
    sides: tuple[Side, ...]
    note: LongLocalText | None


def check_and_reencode(
    data: bytes, *, profile_documents: DocumentsSection, filename: str, field: str = "document"
) -> CleanImage:
    """The upright pixels of the first frame, re-encoded; or :class:`DocumentRejected`.

    JPEG stays JPEG (quality 90); PNG and GIF become PNG. Colour becomes RGB, grey stays L.
    """
    limits = profile_documents
    context = {"field": field, "filename": display_name(filename)}
    if not data:
        raise DocumentRejected(code="document_empty", **context)
    if len(data) > limits.max_bytes:
        max_mb = f"{limits.max_bytes / 1_000_000:g}"
        raise DocumentRejected(code="document_too_large", max_mb=max_mb, **context)
    with _open(data, limits, context) as image:
        _decode(image, limits, context)
        pixels = _fresh_pixels(_upright(image))
        as_jpeg = image.format in {"JPEG", "MPO"}  # MPO: a camera's multi-picture JPEG
    return _encode(pixels, "jpeg" if as_jpeg else "png")


def check_file_count(
    existing: int, documents: DocumentsSection, *, field: str = "document"
) -> None:
    """Refuse one more file when ``existing`` files already fill the profile's allowance."""
    if existing >= documents.max_files:
        raise DocumentRejected(code="document_too_many", field=field, max_files=documents.max_files)


def required_sides(document: DocumentType) -> tuple[Side, ...]:
    """Front only (never the back of a My Number card), or front and back."""
    return ("front",) if document.sides == "front" else ("front", "back")


def upload_guides(documents: DocumentsSection) -> list[UploadGuide]:
    return [
        UploadGuide(id=t.id, name=t.name, sides=required_sides(t), note=t.note)
        for t in documents.types
    ]


def display_name(filename: str) -> str:
    """The file's own name, without a client's folders or control characters, for messages."""
    name = re.split(r"[\\/]", filename)[-1]
    return "".join(c for c in name if not unicodedata.category(c).startswith("C"))[:100]


def _open(data: bytes, limits: DocumentsSection, context: dict[str, str]) -> Image.Image:
    """Open by content, with only the allowed decoders; reads the header, no pixels yet."""
    formats = [_PILLOW_NAMES[name] for name in limits.formats]
    try:
        return Image.open(io.BytesIO(data), formats=formats)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # Pillow's own guard (a warning under -W error, an error past twice its limit).
        raise _too_many_pixels(limits, context) from None
    except UnidentifiedImageError:
        allowed = ", ".join(name.upper() for name in limits.formats)
        raise DocumentRejected(code="document_bad_type", formats=allowed, **context) from None
    except _DECODE_ERRORS:
        raise DocumentRejected(code="document_damaged", **context) from None


def _decode(image: Image.Image, limits: DocumentsSection, context: dict[str, str]) -> None:
    """Check the declared size, then decode the first frame.

    A truncated file fails here: ImageFile.LOAD_TRUNCATED_IMAGES stays off, so Pillow does
    not pad a half-sent photo with grey.
    """
    if image.width * image.height > limits.max_pixels:
        raise _too_many_pixels(limits, context)
    try:
        image.load()
    except _DECODE_ERRORS:
        raise DocumentRejected(code="document_damaged", **context) from None


def _too_many_pixels(limits: DocumentsSection, context: dict[str, str]) -> DocumentRejected:
    megapixels = f"{limits.max_pixels / 1_000_000:g}"
    return DocumentRejected(code="document_too_many_pixels", max_megapixels=megapixels, **context)


def _upright(image: Image.Image) -> Image.Image:
    """Turned as the camera's EXIF orientation says; a broken EXIF block leaves it as is,
    since a sideways but readable document is still usable."""
    try:
        return ImageOps.exif_transpose(image)
    except (*_DECODE_ERRORS, TypeError, KeyError):
        return image


def _fresh_pixels(image: Image.Image) -> Image.Image:
    """RGB or L pixels in a new image: ``convert`` copies ``info`` (EXIF, ICC, comments),
    an image made from raw bytes starts with none."""
    grey = image.mode in _GREY_MODES
    if image.mode in _SIXTEEN_BIT_MODES:
        # convert("L") would clip 16-bit values at 255 instead of scaling them.
        image = image.convert("I").point(lambda value: value * (1 / 256))
    if "A" in image.getbands() or "transparency" in image.info:
        image = _on_white(image)
    flat = image.convert("L" if grey else "RGB")
    return Image.frombytes(flat.mode, flat.size, flat.tobytes())


def _on_white(image: Image.Image) -> Image.Image:
    """Transparent parts shown as on paper: white."""
    rgba = image.convert("RGBA")
    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(background, rgba)


def _encode(pixels: Image.Image, output: OutputFormat) -> CleanImage:
    buffer = io.BytesIO()
    if output == "jpeg":
        pixels.save(buffer, "JPEG", quality=JPEG_QUALITY)
    else:
        pixels.save(buffer, "PNG")
    return CleanImage(buffer.getvalue(), output, pixels.width, pixels.height)
