"""Identity-document images: content checks, limits, and re-encoding without metadata.

Every image is made here with Pillow or written byte by byte; no binary fixtures.
"""

from __future__ import annotations

import io
import struct
import zlib

import msgspec
import pytest
from PIL import ExifTags, Image, ImageCms, ImageFile

from cardservice.profiles import Profile
from cardservice.profiles.schema import DocumentsSection
from cardservice.registration import localise
from cardservice.registration.documents import (
    MESSAGES,
    MY_NUMBER_BACK_WARNING,
    CleanImage,
    DocumentRejected,
    check_and_reencode,
    check_file_count,
    display_name,
    required_sides,
    upload_guides,
)

RED, BLUE, GREEN = (255, 0, 0), (0, 0, 255), (0, 255, 0)
# A Photoshop file header (version 1, 3 channels, 16x16, 8 bits, RGB): Pillow has a PSD
# decoder, which must never be tried on an upload.
PSD_HEADER = b"8BPS\x00\x01" + b"\x00" * 6 + struct.pack(">HIIHH", 3, 16, 16, 8, 3)
SECRETS = (b"TestCam", b"secret-comment", b"secret-xmp", b"secret-png-text")


def _save(image: Image.Image, image_format: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, image_format, **params)
    return buffer.getvalue()


def _red_left_blue_right(size: tuple[int, int] = (60, 40), mode: str = "RGB") -> Image.Image:
    image = Image.new(mode, size, RED)
    image.paste(BLUE, (size[0] // 2, 0, size[0], size[1]))
    return image


def _icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _jpeg_with_everything() -> bytes:
    """A phone photo: turned sideways (orientation 6), with GPS, ICC, XMP and a comment."""
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.Base.Make] = "TestCam"
    exif[ExifTags.IFD.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N",
        ExifTags.GPS.GPSLatitude: (35.0, 26.0, 40.0),
    }
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/">secret-xmp</x:xmpmeta>'
    return _save(
        _red_left_blue_right(),
        "JPEG",
        exif=exif,
        icc_profile=_icc(),
        comment=b"secret-comment",
        xmp=xmp,
    )


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_declaring(width: int, height: int) -> bytes:
    """A 1-bit PNG header declaring any size, with no pixel data worth the name: the file is
    a few dozen bytes whatever it claims."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + b"".join(
        [
            _png_chunk(b"IHDR", header),
            _png_chunk(b"IDAT", zlib.compress(b"")),
            _png_chunk(b"IEND", b""),
        ]
    )


def _clean(data: bytes, documents: DocumentsSection, filename: str = "id.jpg") -> CleanImage:
    return check_and_reencode(data, profile_documents=documents, filename=filename)


def _rejected(data: bytes, documents: DocumentsSection, filename: str = "id.png") -> str:
    with pytest.raises(DocumentRejected) as caught:
        _clean(data, documents, filename)
    error = caught.value
    assert error.detail["field"] == "document"
    assert error.detail["filename"] == filename
    texts = localise(MESSAGES, error.code, **error.detail)  # every code renders in both
    assert filename in texts["ja"] or error.code == "document_too_many"
    return error.code


def _documents(profile: Profile, **changes: object) -> DocumentsSection:
    return msgspec.structs.replace(profile.documents, **changes)


def _opened(clean: CleanImage) -> Image.Image:
    return Image.open(io.BytesIO(clean.data))


def test_truncated_images_are_never_padded() -> None:
    # Another module turning this on would let half-sent photos through as grey.
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_a_phone_photo_loses_all_metadata_and_stands_upright(yokohama: Profile) -> None:
    clean = _clean(_jpeg_with_everything(), yokohama.documents)
    out = _opened(clean)
    assert (clean.format, clean.content_type, out.format) == ("jpeg", "image/jpeg", "JPEG")
    assert not {"exif", "icc_profile", "xmp", "comment"} & set(out.info)
    assert len(out.getexif()) == 0
    assert not any(secret in clean.data for secret in SECRETS)
    assert b"Exif" not in clean.data
    # Orientation 6 means "turn 90 degrees clockwise to view": the left (red) half of the
    # stored pixels is the top once upright.
    assert (clean.width, clean.height) == out.size == (40, 60)
    top, bottom = out.convert("RGB").getpixel((20, 10)), out.convert("RGB").getpixel((20, 50))
    assert isinstance(top, tuple)
    assert isinstance(bottom, tuple)
    assert top[0] > 200 > top[2]
    assert bottom[2] > 200 > bottom[0]


def test_a_png_loses_its_text_icc_and_exif(yokohama: Profile) -> None:
    from PIL.PngImagePlugin import PngInfo  # noqa: PLC0415

    text = PngInfo()
    text.add_text("Comment", "secret-png-text")
    text.add_itxt("XML:com.adobe.xmp", "secret-xmp")
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "TestCam"
    data = _save(_red_left_blue_right(), "PNG", pnginfo=text, icc_profile=_icc(), exif=exif)
    clean = _clean(data, yokohama.documents, "scan.png")
    out = _opened(clean)
    assert (clean.format, out.format, out.mode) == ("png", "PNG", "RGB")
    assert set(out.info) <= {"dpi", "gamma", "srgb"}
    assert len(out.getexif()) == 0
    assert not any(secret in clean.data for secret in SECRETS)


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n", "card.png"),
        (PSD_HEADER, "card.psd"),
        (b"Name: Hanako Yamada\nAddress: Yokohama\n", "card.jpg"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "card.gif"),
    ],
    ids=["pdf-named-png", "psd", "text", "svg"],
)  # fmt: skip
def test_what_is_not_an_allowed_image_is_a_bad_type(
    yokohama: Profile, data: bytes, filename: str
) -> None:
    assert _rejected(data, yokohama.documents, filename) == "document_bad_type"


@pytest.mark.parametrize("image_format", ["BMP", "TIFF", "WEBP"])
def test_real_images_in_other_formats_are_a_bad_type(yokohama: Profile, image_format: str) -> None:
    data = _save(_red_left_blue_right(), image_format)
    assert _rejected(data, yokohama.documents, "card.jpg") == "document_bad_type"


def test_only_the_profiles_formats_are_opened(yokohama: Profile) -> None:
    jpeg_only = _documents(yokohama, formats=["jpeg"])
    png = _save(_red_left_blue_right(), "PNG")
    assert _rejected(png, jpeg_only, "card.png") == "document_bad_type"
    assert _clean(_save(_red_left_blue_right(), "JPEG"), jpeg_only).format == "jpeg"


@pytest.mark.parametrize("image_format", ["JPEG", "PNG", "GIF"])
def test_a_file_cut_in_half_is_damaged(yokohama: Profile, image_format: str) -> None:
    whole = _save(Image.effect_noise((200, 150), 64).convert("RGB"), image_format)
    assert _rejected(whole[: len(whole) // 2], yokohama.documents, "card.img") == (
        "document_damaged"
    )


@pytest.mark.parametrize(
    ("width", "height"),
    [
        (20_000, 20_000),  # 400 Mpx: past twice Pillow's limit, which raises
        (10_000, 10_000),  # 100 Mpx: past Pillow's limit, which warns (an error under -W error)
        (7_000, 7_000),  # 49 Mpx: under Pillow's limit, over the profile's 40 Mpx
    ],
)
def test_a_decompression_bomb_is_refused_from_its_header(
    yokohama: Profile, width: int, height: int
) -> None:
    # The pixel data is missing: had any pixel been decoded the answer would be "damaged".
    bomb = _png_declaring(width, height)
    assert len(bomb) < 100
    assert _rejected(bomb, yokohama.documents) == "document_too_many_pixels"


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_a_bomb_is_refused_where_warnings_are_not_errors(yokohama: Profile) -> None:
    # In production Pillow's warning is only a warning; the profile's limit still holds.
    bomb = _png_declaring(10_000, 10_000)
    assert _rejected(bomb, yokohama.documents) == "document_too_many_pixels"


def test_the_pixel_limit_comes_from_the_profile(yokohama: Profile) -> None:
    small_limit = _documents(yokohama, max_pixels=100_000)
    just_over = _save(Image.new("1", (400, 251)), "PNG")  # 100,400 pixels, a valid file
    assert _rejected(just_over, small_limit) == "document_too_many_pixels"
    assert _clean(_save(Image.new("1", (400, 250)), "PNG"), small_limit).width == 400


def test_a_file_over_the_size_limit_is_too_large(yokohama: Profile) -> None:
    limit = yokohama.documents.max_bytes  # 3 MB
    oversized = _save(_red_left_blue_right(), "JPEG") + b"\x00" * limit
    assert _rejected(oversized, yokohama.documents, "big.jpg") == "document_too_large"
    with pytest.raises(DocumentRejected) as caught:
        _clean(oversized, yokohama.documents, "big.jpg")
    assert "3MB" in localise(MESSAGES, caught.value.code, **caught.value.detail)["ja"]


def test_the_size_limit_is_inclusive(yokohama: Profile) -> None:
    noise = _save(Image.effect_noise((120, 120), 80).convert("RGB"), "JPEG", quality=95)
    assert len(noise) > 10_000
    exact = _documents(yokohama, max_bytes=len(noise))
    assert _clean(noise, exact).format == "jpeg"
    assert _rejected(noise, _documents(yokohama, max_bytes=len(noise) - 1)) == (
        "document_too_large"
    )


def test_an_empty_file(yokohama: Profile) -> None:
    assert _rejected(b"", yokohama.documents) == "document_empty"


def test_yokohama_takes_two_files_not_three(yokohama: Profile) -> None:
    check_file_count(0, yokohama.documents)
    check_file_count(1, yokohama.documents)
    with pytest.raises(DocumentRejected) as caught:
        check_file_count(2, yokohama.documents)
    assert caught.value.code == "document_too_many"
    texts = localise(MESSAGES, caught.value.code, **caught.value.detail)
    assert "2" in texts["ja"]
    assert "2" in texts["en"]


def test_an_animated_gif_keeps_its_first_frame_only(yokohama: Profile) -> None:
    frames = [Image.new("RGB", (30, 20), colour) for colour in (RED, GREEN, BLUE)]
    data = _save(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert getattr(Image.open(io.BytesIO(data)), "n_frames", 1) == 3
    clean = _clean(data, yokohama.documents, "card.gif")
    out = _opened(clean)
    assert (clean.format, out.format, getattr(out, "n_frames", 1)) == ("png", "PNG", 1)
    assert out.convert("RGB").getpixel((15, 10)) == RED


def test_a_cmyk_jpeg_becomes_rgb(yokohama: Profile) -> None:
    data = _save(_red_left_blue_right().convert("CMYK"), "JPEG")
    assert Image.open(io.BytesIO(data)).mode == "CMYK"
    out = _opened(_clean(data, yokohama.documents))
    assert out.mode == "RGB"
    left = out.getpixel((5, 20))
    assert isinstance(left, tuple)
    assert left[0] > 200 > left[2]


def test_grey_stays_grey_and_sixteen_bit_is_scaled_not_clipped(yokohama: Profile) -> None:
    assert _opened(_clean(_save(Image.new("L", (20, 20), 77), "PNG"), yokohama.documents)).mode == (
        "L"
    )
    sixteen = Image.new("I;16", (20, 20), 32768)  # mid-grey in 16 bits
    out = _opened(_clean(_save(sixteen, "PNG"), yokohama.documents))
    assert out.mode == "L"
    assert out.getpixel((10, 10)) == 128


def test_transparency_becomes_white_paper(yokohama: Profile) -> None:
    clear = Image.new("RGBA", (20, 20), (255, 0, 0, 0))
    out = _opened(_clean(_save(clear, "PNG"), yokohama.documents))
    assert (out.mode, out.getpixel((10, 10))) == ("RGB", (255, 255, 255))


def test_document_sides_and_notes(yokohama: Profile, kashiwa: Profile) -> None:
    types = {t.id: t for t in yokohama.documents.types}
    assert required_sides(types["my_number"]) == ("front",)
    assert required_sides(types["health_insurance"]) == ("front", "back")
    guides = {g.id: g for g in upload_guides(kashiwa.documents)}
    # Kashiwa: the licence's back only when it shows an address change.
    assert guides["drivers_license"].sides == ("front",)
    assert guides["drivers_license"].optional == ("back",)
    assert guides["health_insurance"].sides == ("front", "back")
    my_number = guides["my_number"]
    assert my_number.sides == ("front",)
    assert my_number.note is not None
    assert "うら面" in my_number.note.ja
    assert "back" in my_number.note.en
    assert "個人番号" in MY_NUMBER_BACK_WARNING["ja"]
    assert "back" in MY_NUMBER_BACK_WARNING["en"]


def test_display_name_drops_folders_and_control_characters() -> None:
    assert display_name("C:\\Users\\hanako\\Pictures\\card.jpg") == "card.jpg"
    assert display_name("../../etc/passwd") == "passwd"
    assert display_name("card\x00\u202e.jpg") == "card.jpg"
    assert len(display_name("a" * 500)) == 100


def test_every_code_has_both_languages() -> None:
    for code, texts in MESSAGES.items():
        assert set(texts) == {"ja", "en"}, code
        assert all(texts.values()), code
