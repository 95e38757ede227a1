"""A PNG's chunk structure, checked before Pillow decodes it.

Pillow checks the CRC of the chunks it interprets (IHDR, tEXt, ...) but not of the image
data (IDAT), so a file damaged in its pixels would be stored. :func:`png_bits_per_pixel`
walks every chunk up to IEND and checks each one's CRC-32 (PNG specification, 3rd ed.,
section 5.3: over the chunk type and data), whatever the chunk is, and reads the bits per
pixel from IHDR for the decoded-size budget.
"""

from __future__ import annotations

import struct
import zlib

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Samples per pixel for each IHDR colour type (PNG specification, table 11.1).
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
_LENGTH_AND_TYPE = struct.Struct(">I4s")
_IHDR = struct.Struct(">IIBB")


class PngDamaged(ValueError):
    """The PNG is cut short, has no IHDR first, or a chunk's CRC does not match."""


def png_bits_per_pixel(data: bytes) -> int:
    """Bits per pixel declared by the IHDR (bit depth x samples: 64 for 16-bit RGBA), once
    every chunk from IHDR to IEND has been found whole with a matching CRC.

    Raises :class:`PngDamaged`. Bytes after IEND are ignored, as decoders do.
    """
    if not data.startswith(PNG_SIGNATURE):
        raise PngDamaged("no PNG signature")
    view = memoryview(data)
    offset = len(PNG_SIGNATURE)
    bits = 0
    first = True
    while True:
        if offset + 12 > len(view):
            raise PngDamaged("cut short before IEND")
        length, kind = _LENGTH_AND_TYPE.unpack_from(view, offset)
        end = offset + 8 + length
        if length > 0x7FFFFFFF or end + 4 > len(view):
            raise PngDamaged("chunk longer than the file")
        (stored,) = struct.unpack_from(">I", view, end)
        if zlib.crc32(view[offset + 4 : end]) != stored:
            raise PngDamaged("chunk CRC mismatch")
        if first:
            if kind != b"IHDR" or length < _IHDR.size:
                raise PngDamaged("IHDR is not the first chunk")
            _, _, depth, colour = _IHDR.unpack_from(view, offset + 8)
            bits = depth * _CHANNELS.get(colour, 4)
            first = False
        if kind == b"IEND":
            return bits
        offset = end + 4
