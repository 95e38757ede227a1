"""Apple Wallet passes of library cards: which pass belongs to which card (``models``), the
configured signer and images (``wallet``), what a card's pass says (``content``), the
PassKit web service that keeps saved passes current (``service``, ``routes``), and the
pushes that tell devices to ask (``push``, ``updates``). The pass format itself is the pure
builder in ``passes/apple.py``."""
