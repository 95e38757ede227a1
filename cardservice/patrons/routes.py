"""The patron's pages: login and the card page, with its offline service worker."""

from __future__ import annotations

from typing import Any

ROUTES: list[Any] = []
