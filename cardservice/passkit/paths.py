"""The paths of Apple Wallet passes, for the routes and for the pages that link to them."""

from __future__ import annotations

from typing import Final

# The logged-in patron's pass (the card page's "Add to Apple Wallet").
APPLE_PASS_PATH: Final = "/card/wallet/apple.pkpass"  # noqa: S105  # a path
# The pass's webServiceURL: Wallet appends /v1/devices/..., /v1/passes/..., /v1/log. Under
# /api/, so it takes JSON, no session and no CSRF token (web/security.py).
WEB_SERVICE_PATH: Final = "/api/passkit"
