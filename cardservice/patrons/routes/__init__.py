"""The patron's pages: login and the card page (``login``), My Library (``my``), and the
forgotten number and password (``recovery``). ``common`` knows who is logged in; other
pages that act for a logged-in patron use :func:`current_patron` from there too.
"""

from __future__ import annotations

from typing import Any

from cardservice.patrons.paths import CARD_PATH, LOGIN_PATH, LOGOUT_PATH, MY_PATH
from cardservice.patrons.routes.card_colours import ROUTES as CARD_COLOUR_ROUTES
from cardservice.patrons.routes.common import (
    current_patron,
    to_login,
    with_device_cookie,
)
from cardservice.patrons.routes.login import ROUTES as LOGIN_ROUTES
from cardservice.patrons.routes.login import safe_next
from cardservice.patrons.routes.my import ROUTES as MY_ROUTES
from cardservice.patrons.routes.recovery import ROUTES as RECOVERY_ROUTES

ROUTES: list[Any] = [*LOGIN_ROUTES, *CARD_COLOUR_ROUTES, *MY_ROUTES, *RECOVERY_ROUTES]

__all__ = [
    "CARD_PATH",
    "LOGIN_PATH",
    "LOGOUT_PATH",
    "MY_PATH",
    "ROUTES",
    "current_patron",
    "safe_next",
    "to_login",
    "with_device_cookie",
]
