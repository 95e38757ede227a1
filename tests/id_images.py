"""Images for the identity-document tests, made here: a phone photo of a card, optionally with
the QR code of the back of a My Number Card in a corner, turned; and PNG files written chunk
by chunk. No binary fixtures, and no real Individual Number: the numbers are made up and
given their check digit."""

from __future__ import annotations

import io
import struct
import zlib
from functools import cache

import qrcode
import zxingcpp
from PIL import Image, ImageDraw

from cardservice.registration.mynumber import check_digit

PHONE = (4032, 3024)  # a 12 Mpx phone camera, landscape


def individual_number(first_eleven: str = "31415926535") -> str:
    """A made-up Individual Number with the right check digit."""
    return first_eleven + str(check_digit(first_eleven))


def wrong_check_digit(number: str) -> str:
    """The same 12 digits with a check digit that is wrong."""
    return number[:11] + str((int(number[11]) + 1) % 10)


def qr_image(text: str, *, module_px: int = 8) -> Image.Image:
    code = qrcode.QRCode(box_size=module_px, border=4)
    code.add_data(text)
    code.make(fit=True)
    return code.make_image().get_image().convert("RGB")


@cache
def phone_photo(
    qr_text: str | None = None,
    *,
    size: tuple[int, int] = PHONE,
    angle: float = 0,
    image_format: str = "JPEG",
    quality: int = 88,
) -> bytes:
    """A photo of a card on a desk: gradient, grain, a card with print, and (if ``qr_text``)
    that text's QR code in the card's bottom-right corner, turned by ``angle`` degrees."""
    width, height = size
    desk = Image.linear_gradient("L").resize(size).convert("RGB")
    grain = Image.effect_noise((max(1, width // 4), max(1, height // 4)), 30)
    image = Image.blend(desk, grain.resize(size).convert("RGB"), 0.3)
    draw = ImageDraw.Draw(image)
    card = (width // 5, height // 5, width * 4 // 5, height * 4 // 5)
    draw.rounded_rectangle(card, radius=width // 100, fill=(236, 236, 226))
    for y in range(card[1] + height // 30, card[3] - height // 10, max(10, height // 50)):
        draw.text((card[0] + width // 40, y), "KOJIN BANGO CARD 0000 " * 2, fill=(30, 30, 30))
    if qr_text is not None:
        code = qr_image(qr_text, module_px=max(2, width // 500))
        turned = code.rotate(angle, expand=True, fillcolor=(236, 236, 226))
        image.paste(turned, (card[2] - turned.width - 20, card[3] - turned.height - 20))
    buffer = io.BytesIO()
    if image_format == "JPEG":
        image.save(buffer, "JPEG", quality=quality)
    else:
        image.save(buffer, image_format)
    return buffer.getvalue()


def datamatrix_image(text: str, *, module_px: int = 8) -> Image.Image:
    """``text`` as a Data Matrix code (zxing-cpp's writer), ``module_px`` px a module."""
    code = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.DataMatrix)
    pixels = memoryview(zxingcpp.write_barcode_to_image(code, scale=module_px))
    height, width = pixels.shape[:2]
    return Image.frombytes("L", (width, height), pixels.tobytes()).convert("RGB")


@cache
def datamatrix_photo(text: str, *, angle: float = 0, size: tuple[int, int] = PHONE) -> bytes:
    """:func:`phone_photo`'s card with ``text`` as a Data Matrix code in its bottom-right
    corner, turned by ``angle`` degrees; a JPEG."""
    width, height = size
    with Image.open(io.BytesIO(phone_photo(size=size, image_format="PNG"))) as desk:
        image = desk.convert("RGB")
    code = datamatrix_image(text, module_px=max(2, width // 250))
    turned = code.rotate(angle, expand=True, fillcolor=(236, 236, 226))
    right, bottom = width * 4 // 5, height * 4 // 5
    image.paste(turned, (right - turned.width - 20, bottom - turned.height - 20))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=88)
    return buffer.getvalue()


def png_chunk(kind: bytes, body: bytes, *, crc_delta: int = 0) -> bytes:
    """One PNG chunk; ``crc_delta`` spoils its CRC."""
    crc = (zlib.crc32(kind + body) + crc_delta) & 0xFFFFFFFF
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


def png_file(chunks: list[tuple[bytes, bytes]], *, spoil: bytes = b"") -> bytes:
    """A PNG of ``chunks`` (type, body), with the CRC of the first chunk of type ``spoil``
    wrong."""
    parts = [b"\x89PNG\r\n\x1a\n"]
    spoiled = False
    for kind, body in chunks:
        wrong = kind == spoil and not spoiled
        spoiled = spoiled or wrong
        parts.append(png_chunk(kind, body, crc_delta=1 if wrong else 0))
    assert spoiled or not spoil, f"no {spoil!r} chunk to spoil"
    return b"".join(parts)


def tall_sixteen_bit_png(height: int = 39_900_000) -> bytes:
    """A 16-bit RGBA PNG of 1 x ``height`` pixels, all transparent black: about 350 KB on
    disk for 39,900,000 pixels, 319 MB once decoded at 8 bytes a pixel."""
    header = struct.pack(">IIBBBBB", 1, height, 16, 6, 0, 0, 0)
    compressor = zlib.compressobj(9)
    row = b"\x00" * 9  # filter byte + 8 bytes of RGBA16
    block = row * 100_000
    pieces = [compressor.compress(block) for _ in range(height // 100_000)]
    pieces.append(compressor.compress(row * (height % 100_000)))
    pieces.append(compressor.flush())
    return png_file([(b"IHDR", header), (b"IDAT", b"".join(pieces)), (b"IEND", b"")])
