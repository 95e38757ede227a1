"""Symbologies, what text each accepts, and the module pattern each makes of it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

import barcode
import qrcode
from barcode.codex import Code128
from qrcode.constants import ERROR_CORRECT_M
from qrcode.exceptions import DataOverflowError

from cardservice.errors import InvalidInput


class Symbology(StrEnum):
    CODABAR = "codabar"
    CODE128 = "code128"
    QR = "qr"


# PNG pixels per module; the tests decode every size. QR starts at 2 px: 1 px modules are
# too fine for counter imagers to read off a phone screen.
MODULE_SIZES = (1, 2, 3, 4, 6, 8)
QR_MODULE_SIZES = (2, 3, 4, 6, 8, 10)
DEFAULT_MODULE_PX = 3

LINEAR_QUIET_MODULES = 10  # ISO/IEC 15417 and JIS X 0503 ask for 10 narrow elements
QR_QUIET_MODULES = 4  # ISO/IEC 18004 minimum

# Codabar narrow:wide of 1:3 keeps every element a whole number of modules (python-barcode's
# default 2:5 needs half modules) and is inside the 2.0-3.0 ratio range of JIS X 0503.
CODABAR_NARROW = 1
CODABAR_WIDE = 3

# A fixed mask spares qrcode from building the symbol eight times to score each mask
# (QRCode.make only calls best_mask_pattern when mask_pattern is None). Mask 2 scored the
# lowest average penalty on token-like payloads; every mask is valid for every reader, and
# the rare stray 1D match a decoder finds inside a large QR was as rare with each mask.
QR_MASK_PATTERN = 2

MAX_LINEAR_LENGTH = 64
MAX_QR_BYTES = 1024  # far below what version 40-M holds (2331 bytes), so it always fits

# At least two data characters: zxing (like many counter scanners) refuses Codabar shorter
# than four characters in all, so a shorter symbol would be a card nobody can scan.
_CODABAR_RE = re.compile(r"[A-D][0-9\-$:/.+]{2,}[A-D]")
_CODE128_RE = re.compile(r"[\x20-\x7e]+")  # printable ASCII: what a keyboard wedge can type


@dataclass(frozen=True, slots=True)
class Symbol:
    """A module pattern with its quiet zone and caption, in module units."""

    rows: tuple[str, ...]  # '1' is a dark module; a linear code is one row stretched tall
    quiet: int
    caption: str | None  # the human-readable line; None for QR
    linear: bool

    @property
    def columns(self) -> int:
        return len(self.rows[0])


# --- validation ---------------------------------------------------------------------------


def _unencodable(symbology: Symbology, message: str) -> InvalidInput:
    return InvalidInput(message, code="barcode_unencodable", symbology=symbology.value)


def parse_symbology(value: Symbology | str) -> Symbology:
    try:
        return Symbology(value)
    except ValueError:
        raise InvalidInput(
            f"Unknown barcode symbology {value!r}.", code="barcode_bad_symbology"
        ) from None


def module_sizes(symbology: Symbology) -> tuple[int, ...]:
    """The PNG module sizes (px) offered for a symbology."""
    return QR_MODULE_SIZES if symbology is Symbology.QR else MODULE_SIZES


def check_module_px(symbology: Symbology, module_px: int) -> None:
    sizes = module_sizes(symbology)
    # bool is an int and True == 1: a flag passed by mistake must not pass as a size.
    if isinstance(module_px, bool) or module_px not in sizes:
        raise InvalidInput(
            f"Module size must be one of {sizes} px.", code="barcode_bad_size", allowed=sizes
        )


def check_text(symbology: Symbology, text: str) -> None:
    if symbology is Symbology.QR:
        _check_qr_text(text)
        return
    if len(text) > MAX_LINEAR_LENGTH:
        raise _unencodable(symbology, f"At most {MAX_LINEAR_LENGTH} characters.")
    if symbology is Symbology.CODABAR and not _CODABAR_RE.fullmatch(text):
        raise _unencodable(
            symbology, "Codabar is a start A-D, two or more of 0-9 - $ : / . +, and a stop A-D."
        )
    if symbology is Symbology.CODE128 and not _CODE128_RE.fullmatch(text):
        raise _unencodable(symbology, "Code 128 takes printable ASCII only.")


def _check_qr_text(text: str) -> None:
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:  # lone surrogates cannot be put in a symbol
        raise _unencodable(Symbology.QR, "The text is not valid Unicode.") from None
    if not 0 < size <= MAX_QR_BYTES:
        raise _unencodable(Symbology.QR, f"QR text must be 1 to {MAX_QR_BYTES} UTF-8 bytes.")


# --- module patterns ----------------------------------------------------------------------


def new_qr_code(text: str) -> qrcode.QRCode:
    """A QRCode ready to ``make()``: fixed mask, level M, smallest version that fits."""
    qr = qrcode.QRCode(
        version=None,
        error_correction=ERROR_CORRECT_M,
        border=0,  # the quiet zone is painted in ``paint``, the same way for every symbology
        mask_pattern=QR_MASK_PATTERN,
    )
    qr.add_data(text)
    return qr


def _qr_rows(text: str) -> tuple[str, ...]:
    qr = new_qr_code(text)
    try:
        qr.make(fit=True)
    except DataOverflowError:  # unreachable under MAX_QR_BYTES; still a domain error
        raise _unencodable(Symbology.QR, "The text does not fit in a QR code.") from None
    # qr.modules is the bare symbol; get_matrix() would add the border back.
    return tuple("".join("1" if dark else "0" for dark in row) for row in qr.modules)


_START_C, _CODE_B, _CODE_A = 105, 100, 101  # Code 128 symbol values


class _Code128(Code128):  # type: ignore[misc]  # python-barcode ships no type hints
    """python-barcode's Code 128 without its leading-"99" bug.

    0.16.1 folds ``START_C, <switch>`` into one start code, but also takes a leading digit
    pair "99" (value 99 in charset C, the same number as CODE C in A and B) for a switch
    and drops it: "9912" would scan as "12". Fixed upstream (issue #251, PR #263) after
    0.16.1; this is the same fix, and harmless once the installed version has it.
    """

    def _try_to_optimize(self, encoded: list[int]) -> list[int]:
        # After START_C only 100 and 101 are switches; 0-99 are digit pairs.
        if len(encoded) > 1 and encoded[0] == _START_C and encoded[1] in (_CODE_B, _CODE_A):
            folded: list[int] = super()._try_to_optimize(encoded)
            return folded
        return encoded


def _linear_row(symbology: Symbology, text: str) -> str:
    if symbology is Symbology.CODABAR:
        # python-barcode's CODABAR encodes the start and stop characters found in the text
        # and adds none of its own, so the symbol is exactly start + data + stop.
        code = barcode.get_barcode_class("codabar")(text, narrow=CODABAR_NARROW, wide=CODABAR_WIDE)
    else:
        code = _Code128(text)
    return str(code.build()[0])


def build_symbol(symbology: Symbology, text: str, human_readable: bool) -> Symbol:
    """The module pattern of already validated text."""
    if symbology is Symbology.QR:
        return Symbol(_qr_rows(text), QR_QUIET_MODULES, None, linear=False)
    # Patrons and staff read the card number, not Codabar's start/stop letters.
    caption = text[1:-1] if symbology is Symbology.CODABAR else text
    row = _linear_row(symbology, text)
    return Symbol((row,), LINEAR_QUIET_MODULES, caption if human_readable else None, True)
