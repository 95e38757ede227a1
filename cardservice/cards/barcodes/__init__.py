"""Barcode rendering for the card shown on a patron's phone at the checkout counter.

Three symbologies: Codabar (NW-7, what Japanese library systems print on cards), Code 128
and QR. python-barcode and qrcode only compute the module pattern (``symbols``); this
package paints it itself (``paint``), because python-barcode's writers place bars on
fractional pixels and a counter scanner reading a phone screen needs hard, whole-pixel
edges. ``renderer`` validates requests and caches results by content.
"""

from cardservice.cards.barcodes.renderer import (
    BarcodeRenderer,
    CacheInfo,
    ImageFormat,
    Rendered,
    render_barcode,
)
from cardservice.cards.barcodes.symbols import (
    DEFAULT_MODULE_PX,
    LINEAR_QUIET_MODULES,
    MODULE_SIZES,
    QR_MASK_PATTERN,
    QR_MODULE_SIZES,
    QR_QUIET_MODULES,
    Symbology,
    module_sizes,
    new_qr_code,
)

__all__ = [
    "DEFAULT_MODULE_PX",
    "LINEAR_QUIET_MODULES",
    "MODULE_SIZES",
    "QR_MASK_PATTERN",
    "QR_MODULE_SIZES",
    "QR_QUIET_MODULES",
    "BarcodeRenderer",
    "CacheInfo",
    "ImageFormat",
    "Rendered",
    "Symbology",
    "module_sizes",
    "new_qr_code",
    "render_barcode",
]
