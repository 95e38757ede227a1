"""Identity-document images: checked by content, then re-encoded without any metadata.

:func:`check_and_reencode` is CPU-bound and synchronous; the service runs it in the bounded
process pool of ``images`` (never in the server process), before any database transaction
opens. Encryption at rest happens after it, elsewhere.

Only the profile's formats are ever opened, so Pillow's other decoders (PSD, PDF, TIFF, ...)
never see an upload. Before any pixel is decoded, from the header:

- every PNG chunk's CRC is checked (``pngcheck``), IDAT included;
- the pixel count is checked against the profile's ``max_pixels``;
- a JPEG is set to decode at the smallest of 1/1, 1/2, 1/4, 1/8 scale that still gives at
  least ``STORED_LONG_SIDE`` pixels on its long side (Pillow's draft mode);
- the decoded size, pixels x bytes per pixel, is checked against ``MAX_DECODED_BYTES``.

The image is then scanned for codes (``mynumber``: the back of a My Number Card is refused
in every slot), reduced to at most ``STORED_LONG_SIDE`` pixels on its long side, turned
upright, and stored as a fresh image built from those pixels alone: no EXIF, GPS, ICC
profile, XMP or comment survives, whatever the input carried.
"""

from __future__ import annotations

import io
import math
import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

import zxingcpp
from PIL import Image, UnidentifiedImageError

from cardservice.errors import InvalidInput
from cardservice.profiles.schema import DocumentsSection, DocumentType, LocalText, LongLocalText
from cardservice.registration import Messages
from cardservice.registration.mynumber import carries_individual_number
from cardservice.registration.pngcheck import PNG_SIGNATURE, PngDamaged, png_bits_per_pixel

Side = Literal["front", "back"]
OutputFormat = Literal["jpeg", "png"]

JPEG_QUALITY = 90  # ID photos must stay legible: small print, hologram patterns
# Stored images are at most 2,000 px on their long side. A card 85.6 mm wide filling a third
# of the frame still gets about 8 px per mm, so 1.5 mm print is 12 px high; an A4 page
# filling the frame gets 170 dpi. The reviewer reads it; nobody prints it.
STORED_LONG_SIDE = 2000
# The decoded image, pixels x bytes per pixel, may take at most 64 MB: a 16 Mpx colour PNG,
# a 64 Mpx grey scan, any JPEG reduced at decode time to at most 2x STORED_LONG_SIDE.
MAX_DECODED_BYTES = 64_000_000
# Pillow keeps "1" and "L" at one byte per pixel and every other mode at four (or converts
# it to one that is: "P" to "RGB", 16-bit grey to "I").
_ONE_BYTE_MODES = frozenset({"1", "L"})
# The codes read off every image: the QR family (the back of a My Number Card carries a QR
# code), Data Matrix, PDF417 and Aztec (2D codes any app or printer makes, so a number can
# be shown in one of them as well), and the linear codes that can hold 12 digits. Retail
# EAN/UPC codes are left out (a product number with a check digit of its own). Data Matrix
# costs the most to look for: the scan of a 4032 x 3024 phone photo took 0.33 s without it
# and 0.59 s with it (1.75x; medians of 15 interleaved runs on a loaded 2-core machine).
CODE_FORMATS = zxingcpp.BarcodeFormats(
    [
        zxingcpp.BarcodeFormat.QRCode,
        zxingcpp.BarcodeFormat.MicroQRCode,
        zxingcpp.BarcodeFormat.RMQRCode,
        zxingcpp.BarcodeFormat.DataMatrix,
        zxingcpp.BarcodeFormat.PDF417,
        zxingcpp.BarcodeFormat.Aztec,
        zxingcpp.BarcodeFormat.Code128,
        zxingcpp.BarcodeFormat.ITF,
    ]
)
# EXIF orientation (tag 0x0112) and the turn that makes the image upright.
_ORIENTATION = 0x0112
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
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
        "ja": "ファイル「{filename}」は大きすぎます（上限{max_mb}MB）。"
        "上限を超える場合は窓口で申請してください。",
        "en": "The file {filename} is too large (at most {max_mb} MB). "
        "If you cannot make it smaller, please apply at the counter.",
    },
    "document_bad_type": {
        "ja": "ファイル「{filename}」は画像として読み取れません。"
        "{formats} の画像を添付してください。",
        "en": "The file {filename} is not an image we accept. Attach a {formats} image.",
    },
    "document_too_many_pixels": {
        "ja": "画像「{filename}」の画素数が多すぎます（上限{max_megapixels}メガピクセル）。"
        "解像度を下げて撮影してください。",
        "en": "The image {filename} has too many pixels (at most {max_megapixels} megapixels). "
        "Take the photo at a lower resolution.",
    },
    "document_damaged": {
        "ja": "画像「{filename}」が壊れているか、途中までしかありません。"
        "もう一度撮影して添付してください。",
        "en": "The image {filename} is damaged or incomplete. Please take it again and attach it.",
    },
    "document_too_large_decoded": {
        "ja": "画像「{filename}」は展開すると大きすぎます（上限{max_decoded_mb}MB）。"
        "解像度を下げて撮影するか、JPEG で保存して添付してください。",
        "en": "The image {filename} is too large once decoded (at most {max_decoded_mb} MB). "
        "Take it at a lower resolution, or save it as a JPEG and attach it.",
    },
    "document_my_number": {
        "ja": "画像「{filename}」には個人番号（マイナンバー）が写っています。"
        "図書館は個人番号を受け取ることができないため、この画像は保存せずに破棄しました。"
        "マイナンバーカードはおもて面だけを添付してください。",
        "en": "The image {filename} shows an Individual Number (My Number). The library may "
        "not collect it, so the image was discarded, not kept. "
        "Attach only the front of a My Number Card.",
    },
    "document_unnamed": {
        "ja": "ファイルがファイル名なしで送られました。ファイルを選び直して添付してください。",
        "en": "The file was sent without a file name. Choose the file again and attach it.",
    },
    "document_busy": {
        "ja": "ただいま画像の受け付けが混み合っています。"
        "しばらくたってからもう一度添付してください。",
        "en": "Many images are being sent right now. Please wait a moment and attach it again.",
    },
    "document_failed": {
        "ja": "画像「{filename}」を処理できませんでした。"
        "解像度を下げて撮影し直すか、JPEG で保存して添付してください。",
        "en": "The image {filename} could not be processed. Take it again at a lower "
        "resolution, or save it as a JPEG, and attach it.",
    },
    "document_too_many": {
        "ja": "添付できるファイルは{max_files}点までです。",
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
    sides: tuple[Side, ...]  # needed
    note: LongLocalText | None
    optional: tuple[Side, ...] = ()  # taken, not needed


def check_and_reencode(
    data: bytes, *, profile_documents: DocumentsSection, filename: str, field: str = "document"
) -> CleanImage:
    """The upright pixels of the first frame, at most ``STORED_LONG_SIDE`` px on the long
    side, re-encoded; or :class:`DocumentRejected` (every code in ``MESSAGES``).

    JPEG stays JPEG (quality 90); PNG and GIF become PNG. Colour becomes RGB, grey stays L.
    Memory: at most ``MAX_DECODED_BYTES`` for the decoded image plus a few reduced copies.
    """
    limits = profile_documents
    context = {"field": field, "filename": display_name(filename)}
    if not data:
        raise DocumentRejected(code="document_empty", **context)
    if len(data) > limits.max_bytes:
        max_mb = f"{limits.max_bytes / 1_000_000:g}"
        raise DocumentRejected(code="document_too_large", max_mb=max_mb, **context)
    header_bits = _png_bits(data, context) if "png" in limits.formats else 0
    with _open(data, limits, context) as image:
        _decode(image, limits, context, header_bits=header_bits)
        if carries_individual_number(_code_texts(image)):
            raise DocumentRejected(code="document_my_number", **context)
        as_jpeg = image.format in {"JPEG", "MPO"}  # MPO: a camera's multi-picture JPEG
        turn = _UPRIGHT.get(_orientation(image))
        pixels = _fresh_pixels(_reduced(image))
    if turn is not None:
        pixels = pixels.transpose(turn)
    return _encode(pixels, "jpeg" if as_jpeg else "png")


def check_file_count(
    existing: int, documents: DocumentsSection, *, field: str = "document"
) -> None:
    """Refuse one more file when ``existing`` files already fill the profile's allowance
    (none when the profile sets no ``max_files``)."""
    if documents.max_files is not None and existing >= documents.max_files:
        raise DocumentRejected(code="document_too_many", field=field, max_files=documents.max_files)


def required_sides(document: DocumentType) -> tuple[Side, ...]:
    """The sides a reviewer needs: the front (a My Number card: never its back; a licence
    whose back matters only for an address change), or front and back."""
    return ("front", "back") if document.sides == "both" else ("front",)


def optional_sides(document: DocumentType) -> tuple[Side, ...]:
    """The sides taken but not needed: the back of a "front_optional_back" type."""
    return ("back",) if document.sides == "front_optional_back" else ()


def accepted_sides(document: DocumentType) -> tuple[Side, ...]:
    """Every side an upload may fill for this type: the needed ones, then the optional."""
    return required_sides(document) + optional_sides(document)


def upload_guides(documents: DocumentsSection) -> list[UploadGuide]:
    return [
        UploadGuide(
            id=t.id, name=t.name, sides=required_sides(t), note=t.note, optional=optional_sides(t)
        )
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


def _png_bits(data: bytes, context: dict[str, str]) -> int:
    """Bits per pixel a PNG's header declares (0 for other formats); a damaged chunk, IDAT
    or any other, refuses the file before Pillow reads it."""
    if not data.startswith(PNG_SIGNATURE):
        return 0
    try:
        return png_bits_per_pixel(data)
    except PngDamaged:
        raise DocumentRejected(code="document_damaged", **context) from None


def _decode(
    image: Image.Image, limits: DocumentsSection, context: dict[str, str], *, header_bits: int
) -> None:
    """Check the declared size, reduce a JPEG at decode time, check the decoded bytes, then
    decode the first frame.

    A truncated file fails here: ImageFile.LOAD_TRUNCATED_IMAGES stays off, so Pillow does
    not pad a half-sent photo with grey.
    """
    if image.width * image.height > limits.max_pixels:
        raise _too_many_pixels(limits, context)
    if image.format in {"JPEG", "MPO"}:
        scale = STORED_LONG_SIDE / max(image.size)
        if scale < 1:
            image.draft(None, (math.ceil(image.width * scale), math.ceil(image.height * scale)))
    if decoded_bytes(image.mode, image.size, header_bits) > MAX_DECODED_BYTES:
        max_decoded_mb = f"{MAX_DECODED_BYTES / 1_000_000:g}"
        raise DocumentRejected(
            code="document_too_large_decoded", max_decoded_mb=max_decoded_mb, **context
        )
    try:
        image.load()
    except MemoryError:  # past the worker's memory ceiling: refused, the worker lives on
        max_decoded_mb = f"{MAX_DECODED_BYTES / 1_000_000:g}"
        raise DocumentRejected(
            code="document_too_large_decoded", max_decoded_mb=max_decoded_mb, **context
        ) from None
    except _DECODE_ERRORS:
        raise DocumentRejected(code="document_damaged", **context) from None


def decoded_bytes(mode: str, size: tuple[int, int], header_bits: int = 0) -> int:
    """Bytes the decoded image takes: width x height x bytes per pixel, the larger of what
    Pillow keeps for ``mode`` (1 for "1" and "L", else 4) and what the file's header declares
    (``header_bits`` per pixel: 64 for a 16-bit RGBA PNG)."""
    per_pixel = max(1 if mode in _ONE_BYTE_MODES else 4, math.ceil(header_bits / 8))
    return size[0] * size[1] * per_pixel


def _too_many_pixels(limits: DocumentsSection, context: dict[str, str]) -> DocumentRejected:
    megapixels = f"{limits.max_pixels / 1_000_000:g}"
    return DocumentRejected(code="document_too_many_pixels", max_megapixels=megapixels, **context)


def _code_texts(image: Image.Image) -> list[str]:
    """The texts of every code zxing-cpp reads in the image (any direction, also inverted)."""
    grey = image if image.mode == "L" else image.convert("L")
    return [code.text for code in zxingcpp.read_barcodes(grey, formats=CODE_FORMATS)]


def _orientation(image: Image.Image) -> int:
    """The camera's EXIF orientation (1-8); a broken EXIF block counts as upright, since a
    sideways but readable document is still usable."""
    try:
        value = image.getexif().get(_ORIENTATION, 1)
    except (*_DECODE_ERRORS, TypeError, KeyError):
        return 1
    return value if isinstance(value, int) else 1


def _reduced(image: Image.Image) -> Image.Image:
    """At most ``STORED_LONG_SIDE`` px on the long side, in a mode that resamples smoothly."""
    if image.mode in {"P", "PA", "1"} or image.mode in _SIXTEEN_BIT_MODES:
        image = _smooth_mode(image)
    scale = STORED_LONG_SIDE / max(image.size)
    if scale >= 1:
        return image
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def _smooth_mode(image: Image.Image) -> Image.Image:
    """Palette, bilevel and 16-bit images in 8 bits per channel (16-bit values are scaled,
    not clipped at 255), transparency kept for :func:`_fresh_pixels`."""
    if image.mode in _SIXTEEN_BIT_MODES:
        return image.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    if image.mode == "1":
        return image.convert("L")
    if "transparency" in image.info or image.mode == "PA":
        return image.convert("RGBA")
    return image.convert("RGB")


def _fresh_pixels(image: Image.Image) -> Image.Image:
    """RGB or L pixels in a new image: ``convert`` copies ``info`` (EXIF, ICC, comments),
    an image made from raw bytes starts with none."""
    grey = image.mode in _GREY_MODES
    if image.mode in _SIXTEEN_BIT_MODES:
        image = _smooth_mode(image)
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
