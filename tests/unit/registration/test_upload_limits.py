"""Bounded work per upload, and the back of a My Number Card refused by what it shows.

The decoded size is budgeted from the header, before decoding; JPEGs are reduced as they are
decoded; every PNG chunk's CRC is checked; every image is scanned for codes, and one holding
an Individual Number is refused. Images are made in tests/id_images.py.
"""

from __future__ import annotations

import io
import time
import zlib
from functools import cache

import pytest
from PIL import ExifTags, Image
from PIL.PngImagePlugin import PngInfo

from cardservice.profiles import Profile
from cardservice.profiles.schema import DocumentsSection
from cardservice.registration import localise
from cardservice.registration.documents import (
    MAX_DECODED_BYTES,
    MESSAGES,
    STORED_LONG_SIDE,
    CleanImage,
    DocumentRejected,
    check_and_reencode,
    decoded_bytes,
)
from cardservice.registration.pngcheck import PngDamaged, png_bits_per_pixel
from tests.id_images import (
    individual_number,
    phone_photo,
    png_chunk,
    qr_image,
    tall_sixteen_bit_png,
    wrong_check_digit,
)


@cache
def _tall_png() -> bytes:
    return tall_sixteen_bit_png()


def _clean(data: bytes, documents: DocumentsSection, filename: str = "photo.jpg") -> CleanImage:
    return check_and_reencode(data, profile_documents=documents, filename=filename)


def _refusal(data: bytes, documents: DocumentsSection, filename: str = "photo.jpg") -> str:
    with pytest.raises(DocumentRejected) as caught:
        _clean(data, documents, filename)
    texts = localise(MESSAGES, caught.value.code, **caught.value.detail)
    assert filename in texts["ja"]
    assert filename in texts["en"]
    return caught.value.code


def _save(image: Image.Image, image_format: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, image_format, **params)
    return buffer.getvalue()


def _size(clean: CleanImage) -> tuple[int, int]:
    return Image.open(io.BytesIO(clean.data)).size


# --- the decoded-size budget ------------------------------------------------------------


def test_a_tall_sixteen_bit_png_is_refused_from_its_header(yokohama: Profile) -> None:
    # 349 KB on disk, 39,900,000 pixels (under the 40 Mpx limit), 319 MB decoded.
    bomb = _tall_png()
    assert 340_000 < len(bomb) < 360_000
    assert png_bits_per_pixel(bomb) == 64
    started = time.perf_counter()
    assert _refusal(bomb, yokohama.documents, "tall.png") == "document_too_large_decoded"
    # Refused from the header: decoding 319 MB took 7.6 s before (measured, not a limit).
    elapsed = time.perf_counter() - started
    assert elapsed < 5, elapsed


def test_the_budget_counts_bytes_per_pixel_not_pixels(yokohama: Profile) -> None:
    # The same pixel count passes in grey (1 byte) and is refused in colour (4 bytes).
    side = 5000  # 25 Mpx: 25 MB grey, 100 MB as RGB
    grey_bytes, colour_bytes = decoded_bytes("L", (side, side)), decoded_bytes("RGB", (side, side))
    assert grey_bytes <= MAX_DECODED_BYTES < colour_bytes
    grey = _save(Image.new("L", (side, side), 200), "PNG")
    assert _size(_clean(grey, yokohama.documents, "grey.png")) == (STORED_LONG_SIDE,) * 2
    colour = _save(Image.new("RGB", (side, side), (200, 10, 10)), "PNG")
    assert _refusal(colour, yokohama.documents, "colour.png") == "document_too_large_decoded"


def test_header_bits_count_when_more_than_pillow_keeps() -> None:
    assert decoded_bytes("RGBA", (10, 10), header_bits=64) == 800
    assert decoded_bytes("RGBA", (10, 10), header_bits=32) == 400
    assert decoded_bytes("1", (10, 10), header_bits=1) == 100
    assert decoded_bytes("P", (10, 10), header_bits=8) == 400  # a palette becomes RGB


# --- reduced at decode time, stored at a legible size -----------------------------------


def test_a_phone_photo_is_decoded_at_half_scale_and_stored_at_2000_px(
    yokohama: Profile,
) -> None:
    photo = phone_photo()
    assert Image.open(io.BytesIO(photo)).size == (4032, 3024)
    draft = Image.open(io.BytesIO(photo))
    draft.draft(None, (2000, 1500))
    assert draft.size == (2016, 1512)  # what the worker decodes: a quarter of the pixels
    clean = _clean(photo, yokohama.documents)
    assert (clean.width, clean.height) == _size(clean) == (2000, 1500)


def test_a_turned_phone_photo_is_reduced_then_stood_upright(yokohama: Profile) -> None:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    image = Image.new("RGB", (4000, 3000), (255, 0, 0))
    image.paste((0, 0, 255), (2000, 0, 4000, 3000))  # left red, right blue
    clean = _clean(_save(image, "JPEG", exif=exif), yokohama.documents)
    out = Image.open(io.BytesIO(clean.data)).convert("RGB")
    assert out.size == (1500, 2000)
    top, bottom = out.getpixel((750, 100)), out.getpixel((750, 1900))
    assert isinstance(top, tuple)
    assert isinstance(bottom, tuple)
    assert top[0] > 200 > top[2]  # the left (red) half is the top once upright
    assert bottom[2] > 200 > bottom[0]


@pytest.mark.parametrize(
    ("mode", "size", "expected"),
    [
        ("RGB", (3000, 1000), (2000, 667)),
        ("P", (1000, 3000), (667, 2000)),
        ("1", (2400, 2400), (2000, 2000)),
        ("RGB", (1999, 800), (1999, 800)),  # never enlarged
    ],
)
def test_pngs_and_gifs_are_reduced_to_the_long_side(
    yokohama: Profile, mode: str, size: tuple[int, int], expected: tuple[int, int]
) -> None:
    image_format = "GIF" if mode == "P" else "PNG"
    data = _save(Image.new(mode, size), image_format)
    assert _size(_clean(data, yokohama.documents, f"scan.{image_format.lower()}")) == expected


# --- every PNG chunk's CRC ----------------------------------------------------------------


def _png_with_every_chunk() -> bytes:
    """A palette PNG with PLTE, tRNS, gAMA, pHYs, tEXt, zTXt, IDAT (two of them) and IEND."""
    info = PngInfo()
    info.add_text("Comment", "hello")
    info.add_text("Title", "card", zip=True)
    image = Image.new("P", (64, 64))
    image.putpalette([0, 0, 0, 255, 255, 255] + [128] * (254 * 3))
    data = _save(image, "PNG", pnginfo=info, transparency=0, dpi=(300, 300))
    # Split the image data into two IDAT chunks, as encoders writing in blocks do.
    start = data.index(b"IDAT") - 4
    length = int.from_bytes(data[start : start + 4], "big")
    body = data[start + 8 : start + 8 + length]
    two = png_chunk(b"IDAT", body[:10]) + png_chunk(b"IDAT", body[10:])
    gamma = png_chunk(b"gAMA", (45455).to_bytes(4, "big"))
    return data[:start] + gamma + two + data[start + 12 + length :]


CHUNKS = [b"IHDR", b"PLTE", b"tRNS", b"pHYs", b"tEXt", b"zTXt", b"gAMA", b"IDAT", b"IEND"]


def _spoiled(data: bytes, kind: bytes, occurrence: int = 0) -> bytes:
    """``data`` with the CRC of the ``occurrence``-th chunk of type ``kind`` changed."""
    offset = 8
    seen = 0
    while offset < len(data):
        length = int.from_bytes(data[offset : offset + 4], "big")
        crc_at = offset + 8 + length
        if data[offset + 4 : offset + 8] == kind:
            if seen == occurrence:
                crc = (int.from_bytes(data[crc_at : crc_at + 4], "big") ^ 1).to_bytes(4, "big")
                return data[:crc_at] + crc + data[crc_at + 4 :]
            seen += 1
        offset = crc_at + 4
    raise AssertionError(f"no chunk {kind!r}")


def test_the_sample_png_is_whole_and_accepted(yokohama: Profile) -> None:
    data = _png_with_every_chunk()
    assert png_bits_per_pixel(data) == 8
    assert _clean(data, yokohama.documents, "card.png").format == "png"


@pytest.mark.parametrize("kind", CHUNKS, ids=[k.decode() for k in CHUNKS])
def test_a_bad_crc_is_refused_whichever_chunk(yokohama: Profile, kind: bytes) -> None:
    data = _spoiled(_png_with_every_chunk(), kind)
    with pytest.raises(PngDamaged):
        png_bits_per_pixel(data)
    assert _refusal(data, yokohama.documents, "card.png") == "document_damaged"


def test_a_bad_crc_in_the_second_idat_is_refused(yokohama: Profile) -> None:
    data = _spoiled(_png_with_every_chunk(), b"IDAT", occurrence=1)
    assert _refusal(data, yokohama.documents, "card.png") == "document_damaged"


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n",
        b"\x89PNG\r\n\x1a\n" + png_chunk(b"IDAT", zlib.compress(b"")) + png_chunk(b"IEND", b""),
        b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", b"\x00" * 13)[:-6],
        b"\x89PNG\r\n\x1a\n\x7f\xff\xff\xffIDAT",
    ],
    ids=["signature-only", "no-ihdr", "cut-in-ihdr", "huge-length"],
)
def test_a_png_without_its_chunks_whole_is_damaged(data: bytes) -> None:
    with pytest.raises(PngDamaged):
        png_bits_per_pixel(data)


# --- the back of a My Number Card ---------------------------------------------------------


@pytest.mark.parametrize("angle", [0, 30, 90, 200])
def test_a_phone_photo_with_the_number_in_a_qr_code_is_refused(
    yokohama: Profile, angle: float
) -> None:
    photo = phone_photo(individual_number(), angle=angle)
    assert len(photo) <= yokohama.documents.max_bytes
    assert _refusal(photo, yokohama.documents, "back.jpg") == "document_my_number"


@pytest.mark.parametrize(
    "payload",
    [
        "{number}",
        "MN:{number};",
        "個人番号{number}",
        "{wide}",  # full-width digits
    ],
    ids=["bare", "in-a-payload", "after-japanese", "full-width"],
)
def test_the_number_anywhere_in_a_code_is_refused(yokohama: Profile, payload: str) -> None:
    number = individual_number("27182818284")
    wide = number.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    data = _save(qr_image(payload.format(number=number, wide=wide)), "PNG")
    assert _refusal(data, yokohama.documents, "code.png") == "document_my_number"


@pytest.mark.parametrize("image_format", ["PNG", "GIF"])
def test_a_scan_of_the_back_is_refused_in_every_format(
    yokohama: Profile, image_format: str
) -> None:
    data = _save(qr_image(individual_number()).convert("L"), image_format)
    assert _refusal(data, yokohama.documents, f"back.{image_format.lower()}") == (
        "document_my_number"
    )


@pytest.mark.parametrize(
    "text",
    [
        wrong_check_digit(individual_number()),  # 12 digits, wrong check digit
        individual_number() + "7",  # 13 digits: not a 12-digit number
        individual_number()[:11],  # 11 digits
        "https://www.example.jp/library",
    ],
    ids=["wrong-check-digit", "thirteen-digits", "eleven-digits", "a-url"],
)
def test_other_codes_are_kept(yokohama: Profile, text: str) -> None:
    photo = phone_photo(text, angle=30)
    clean = _clean(photo, yokohama.documents, "front.jpg")
    assert (clean.format, clean.width) == ("jpeg", STORED_LONG_SIDE)


def test_the_refusal_says_why_in_both_languages() -> None:
    texts = localise(MESSAGES, "document_my_number", filename="back.jpg")
    assert "個人番号" in texts["ja"]
    assert "保存せずに破棄しました" in texts["ja"]
    assert "Individual Number" in texts["en"]
    assert "discarded" in texts["en"]
